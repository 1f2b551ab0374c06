"""The analyst commands never lie about a store that is not there: a missing,
empty or older-schema SQLite file is refused in one line with exit 2, and is left
exactly as it was (nothing created, nothing migrated); ``migrate --status`` reports
without changing anything; a bad trip id or output path is a usage error."""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from pymongo import MongoClient

from app import build
from config import Settings
from eventlog.sqlite_store import LATEST_LAYOUT as LATEST
from eventlog.sqlite_store import SqliteEventStore
from service.auth import Identity
from service.container import Services
from service.pipeline import Origin
from tests.server import ROOT

pytestmark = pytest.mark.integration

OWNER = "650000000000000000000001"
TRIP = "650000000000000000000100"
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


def served_log(path: Path) -> None:
    """A log written by the service (a trip whose title is sealed personal data), and its key store."""

    async def make() -> None:
        services = await build(Settings(store_url=f"sqlite:///{path}", jwt_secret="s" * 32))
        try:
            owner = Identity(OWNER, "user", "Ada", 0)
            await services.trips.create(Origin("ws", OWNER, None), owner, {"title": "Lisbon"}, trip_id=TRIP)
        finally:
            await drain_adapters(services)

    asyncio.run(make())


async def drain_adapters(services: Services) -> None:
    await services.bus.close()
    for adapter in services.closing:
        await adapter.close()
    await services.store.close()


def files_of(folder: Path) -> dict[str, bytes]:
    """The folder's files and their bytes, but what any reader of a WAL-mode file makes, even a
    read-only one: SQLite's shared-memory index and an empty write-ahead log."""
    return {
        item.name: item.read_bytes()
        for item in folder.iterdir()
        if not item.name.endswith("-shm") and not (item.name.endswith("-wal") and item.stat().st_size == 0)
    }


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


def test_erase_on_a_missing_or_empty_store_is_refused_and_writes_nothing(tmp_path: Path) -> None:
    erase = ("erase", "--user", OWNER, "--store")
    assert "no such file" in one_error_line(cli(*erase, f"sqlite:///{tmp_path}/typo/events.db"))
    assert not (tmp_path / "typo").exists()
    migrated_store(tmp_path / "events.db")
    before = files_of(tmp_path)
    assert "holds no records" in one_error_line(cli(*erase, f"sqlite:///{tmp_path}/events.db"))
    assert files_of(tmp_path) == before  # no erasure recorded, no key store made


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
    assert done.returncode == 0 and "created a new, empty log" in done.stdout  # not "up to date": it was not there
    again = cli("migrate", "--store", url)
    assert again.returncode == 0 and again.stdout == "up to date\n"
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


def test_an_unknown_command_is_one_line_naming_the_commands() -> None:
    line = one_error_line(cli("veriffy"))
    assert "'veriffy'" in line and "verify" in line and "rebuild-sessions" in line


def test_every_command_says_what_it_does() -> None:
    top = cli("--help")
    assert top.returncode == 0
    for command in ("replay", "trip-at", "export", "verify", "migrate", "erase", "rebuild-sessions"):
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


def test_opening_personal_data_reads_the_key_store_and_writes_nothing(tmp_path: Path) -> None:
    served_log(tmp_path / "events.db")
    url = f"sqlite:///{tmp_path}/events.db"
    before = files_of(tmp_path)
    assert "events.keys.db" in before
    shown = cli("trip-at", TRIP, "--store", url)
    assert shown.returncode == 0 and json.loads(shown.stdout)["title"] == "Lisbon", shown.stderr
    exported = cli("export", "--store", url, "--progress", "off")
    assert exported.returncode == 0 and '"Lisbon"' in exported.stdout, exported.stderr
    assert files_of(tmp_path) == before


def test_a_log_copied_without_its_keys_gets_no_key_store_and_says_why_names_are_masked(tmp_path: Path) -> None:
    served_log(tmp_path / "events.db")
    copy = tmp_path / "copy"
    copy.mkdir()
    shutil.copy(tmp_path / "events.db", copy / "events.db")
    shown = cli("trip-at", TRIP, "--store", f"sqlite:///{copy}/events.db")
    assert shown.returncode == 0 and json.loads(shown.stdout)["title"] == "[erased]"
    assert shown.stderr.startswith("note: no key store at") and "events.keys.db" in shown.stderr
    assert not (copy / "events.keys.db").exists()


def test_a_store_that_cannot_be_opened_ends_the_server_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "events.db").mkdir()  # a folder where the file should be
    done = server("--store", f"sqlite:///{tmp_path}/events.db", "--port", "0")
    assert "cannot open the store" in one_error_line(done)


def test_a_port_in_use_is_found_before_the_store_is_touched(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        done = server("--store", f"sqlite:///{tmp_path}/data/events.db", "--port", str(taken.getsockname()[1]))
    assert "in use" in one_error_line(done)
    assert not (tmp_path / "data").exists()


def server(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "app.py"), *args],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "JWT_SECRET": "s" * 32},
        capture_output=True,
        text=True,
        timeout=60,
    )


def mongo_collections(url: str, database: str) -> list[str]:
    client: MongoClient[dict[str, object]] = MongoClient(url, serverSelectionTimeoutMS=3000)
    try:
        return sorted(client[database].list_collection_names())
    finally:
        client.close()


def test_a_mongodb_database_without_the_schema_is_refused_and_left_as_it_was(
    mongo_url: str, mongo_database: str
) -> None:
    url = f"{mongo_url.rstrip('/')}/{mongo_database}"
    for command in READERS:
        line = one_error_line(cli(*command, "--store", url))
        assert "lacks migrations" in line and "migrate" in line, line
    status = cli("migrate", "--status", "--store", url)
    assert status.returncode == 1 and "applied: none" in status.stdout
    assert mongo_collections(mongo_url, mongo_database) == []  # nothing made by any of them


def test_an_empty_mongodb_log_is_refused(mongo_url: str, mongo_database: str) -> None:
    url = f"{mongo_url.rstrip('/')}/{mongo_database}"
    assert cli("migrate", "--store", url).returncode == 0
    for command in READERS:
        assert "holds no records" in one_error_line(cli(*command, "--store", url))


@pytest.mark.parametrize("live", ["not-a-url", "ftp://127.0.0.1/", "http://127.0.0.1:1"])
def test_replay_against_a_node_that_cannot_be_read_is_one_line(tmp_path: Path, live: str) -> None:
    served_log(tmp_path / "events.db")
    line = one_error_line(cli("replay", "--store", f"sqlite:///{tmp_path}/events.db", "--live", live, "--token", "t"))
    assert "cannot read the live read model" in line and live in line
