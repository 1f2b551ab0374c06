"""The analyst commands never lie about a store that is not there: a missing,
empty or older-schema SQLite file is refused in one line with exit 2, and is left
exactly as it was (nothing created, nothing migrated); ``migrate --status`` reports
without changing anything; a bad trip id or output path is a usage error."""

from __future__ import annotations

import asyncio
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from eventlog.sqlite_store import LATEST_LAYOUT as LATEST
from eventlog.sqlite_store import SqliteEventStore
from tests.server import ROOT

pytestmark = pytest.mark.integration

READERS = (("verify",), ("replay", "--progress", "off"), ("export",), ("trip-at", "a" * 24))


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "app.py"), *args], cwd=ROOT, capture_output=True, text=True, timeout=120
    )


def one_error_line(done: subprocess.CompletedProcess[str]) -> str:
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: "), (done.returncode, done.stderr)
    return lines[0]


def migrated_store(path: Path, records: int = 0) -> None:
    async def make() -> None:
        store = SqliteEventStore(str(path))
        await store.open()
        await store.close()

    asyncio.run(make())


@pytest.mark.parametrize("command", READERS, ids=lambda c: c[0])
def test_a_missing_store_is_refused_and_not_created(tmp_path: Path, command: tuple[str, ...]) -> None:
    url = f"sqlite:///{tmp_path}/typo/events.db"
    line = one_error_line(cli(*command, "--store", url))
    assert "no such file" in line
    assert not (tmp_path / "typo").exists()


@pytest.mark.parametrize("command", READERS, ids=lambda c: c[0])
def test_an_empty_store_is_refused(tmp_path: Path, command: tuple[str, ...]) -> None:
    migrated_store(tmp_path / "events.db")
    assert "holds no records" in one_error_line(cli(*command, "--store", f"sqlite:///{tmp_path}/events.db"))
    (tmp_path / "zero.db").touch()
    assert "not an event log" in one_error_line(cli(*command, "--store", f"sqlite:///{tmp_path}/zero.db"))
    assert (tmp_path / "zero.db").stat().st_size == 0


def test_an_older_schema_is_refused_and_left_unmigrated(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE log (position INTEGER PRIMARY KEY, record_id TEXT, body BLOB)")
        conn.execute("INSERT INTO log VALUES (1, 'r1', '{}')")
        conn.execute("PRAGMA user_version=1")
    line = one_error_line(cli("verify", "--store", f"sqlite:///{path}"))
    assert "schema version 1" in line and "migrate" in line
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
        assert [row[1] for row in conn.execute("PRAGMA table_info(log)")] == ["position", "record_id", "body"]
    status = cli("migrate", "--status", "--store", f"sqlite:///{path}")
    assert status.returncode == 1 and f"schema version 1 of {LATEST}" in status.stdout
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 1


def test_migrate_status_reports_an_up_to_date_store_and_refuses_a_missing_one(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/events.db"
    assert "no such file" in one_error_line(cli("migrate", "--status", "--store", url))
    assert not (tmp_path / "events.db").exists()
    done = cli("migrate", "--store", url)
    assert done.returncode == 0 and "up to date" in done.stdout
    status = cli("migrate", "--status", "--store", url)
    assert status.returncode == 0 and f"schema version {LATEST} of {LATEST}" in status.stdout


def test_a_reader_leaves_the_file_byte_for_byte_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    migrated_store(path)
    before = path.read_bytes()
    one_error_line(cli("verify", "--store", f"sqlite:///{path}"))  # empty: refused, but opened first
    assert path.read_bytes() == before


def test_trip_at_with_a_malformed_id_is_a_usage_error(tmp_path: Path) -> None:
    assert "not a trip id" in one_error_line(cli("trip-at", "nope", "--store", f"sqlite:///{tmp_path}/x.db"))


def test_export_to_a_missing_directory_is_one_line(tmp_path: Path) -> None:
    line = one_error_line(cli("export", "--store", f"sqlite:///{tmp_path}/x.db", "--output", "/missing/dir/x"))
    assert "--output /missing/dir/x" in line


def test_an_unknown_option_of_a_command_is_one_line() -> None:
    assert "--bogus" in one_error_line(cli("verify", "--bogus"))


def test_every_command_says_what_it_does() -> None:
    top = cli("--help")
    assert top.returncode == 0
    for command in ("replay", "trip-at", "export", "verify", "migrate", "erase"):
        assert f"  {command} " in top.stdout
        sub = cli(command, "--help")
        assert sub.returncode == 0 and "--store" in sub.stdout
        assert sub.stdout.split("\n\n")[1].strip(), f"{command} --help has no description"


def test_a_port_in_use_ends_the_server_in_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [
                sys.executable,
                str(ROOT / "app.py"),
                "--dev",
                "--port",
                str(port),
                "--store",
                f"sqlite:///{tmp_path}/e.db",
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert f"127.0.0.1:{port}" in one_error_line(done) and "in use" in done.stderr
