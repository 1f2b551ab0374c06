"""Signed checkpoints anchor the log against someone who can write the store but
does not hold the key: a history rewritten and re-chained directly in SQLite
still verifies without the key (the old, unkeyed check) and is found with it, or
with checkpoints exported before the rewrite; a forged checkpoint is named; an
idle log is not checkpointed over and over; a node continues from the newest
checkpoint signed with its key."""

from __future__ import annotations

import json
import random
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from app import build
from config import Settings
from eventlog import checkpoints
from eventlog.chain import content_hash, is_stream_record
from eventlog.records import from_document, to_document
from eventlog.sqlite_store import _document, _split
from service.checkpointer import Checkpointer
from service.operations import start_operations
from tests.integration.test_projections import mixed_session
from tests.server import ROOT

pytestmark = pytest.mark.integration

KEY = "a key kept outside the store"


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "app.py"), *args], cwd=ROOT, capture_output=True, text=True, timeout=120
    )


async def signed_log(path: Path, commands: int = 60) -> None:
    """A log written by the service, with a checkpoint at the end (as a node writes at shutdown)."""
    services = await build(Settings(store_url=f"sqlite:///{path}", jwt_secret="s" * 32, checkpoint_key=KEY))
    try:
        operations = await start_operations(services)
        await mixed_session(services, random.Random(7), commands)
        await operations.close()
    finally:
        await services.store.close()


def rewrite_and_rechain(path: Path, change: Any) -> str:
    """What someone with write access does: alter one trip record, then recompute every hash
    after it on its chain, so that the unkeyed chains verify again.  Returns the record's id."""
    heads: dict[str, str] = {}
    altered = ""
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT position, body, events FROM log ORDER BY position").fetchall()
        for position, body, events in rows:
            document = _document(position, body, events)
            if not altered and document.get("stream") and document.get("version") == 2:
                change(document)
                altered = document["recordId"]
            record = from_document(document)
            chain = record.stream if is_stream_record(record) else record.extra["chain"]
            record = record.but(extra={**record.extra, "prevHash": heads.get(str(chain))})
            record = record.but(extra={**record.extra, "hash": content_hash(record)})
            heads[str(chain)] = record.extra["hash"]
            stored = to_document(record)
            del stored["position"]
            *_, events_blob, body_blob = _split(stored)
            conn.execute("UPDATE log SET body = ?, events = ? WHERE position = ?", (body_blob, events_blob, position))
    assert altered
    return altered


def retitle(document: dict[str, Any]) -> None:
    event = document["events"][0]
    event["data"] = {**event["data"], "title": "what really happened"}


async def test_a_rewritten_and_rechained_history_is_found_with_the_key_only(tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    await signed_log(path)
    url = f"sqlite:///{path}"
    before = cli("verify", "--store", url, "--key", KEY, "--progress", "off")
    assert before.returncode == 0 and "intact" in before.stdout, before.stdout + before.stderr
    exported = tmp_path / "checkpoints.jsonl"
    assert cli("export", "--store", url, "--type", "checkpoint", "--output", str(exported)).returncode == 0

    rewrite_and_rechain(path, retitle)

    unkeyed = cli("verify", "--store", url, "--progress", "off")
    assert unkeyed.returncode == 0 and "intact" in unkeyed.stdout  # the chains alone cannot tell,
    assert "in the log, not checked" in unkeyed.stdout  # and verify says so instead of implying more
    keyed = cli("verify", "--store", url, "--key", KEY, "--progress", "off")
    assert keyed.returncode == 1 and "no longer gives the signed value" in keyed.stdout, keyed.stdout
    from_file = cli("verify", "--store", url, "--checkpoints", str(exported), "--progress", "off")
    assert from_file.returncode == 1 and "no longer gives the signed value" in from_file.stdout


async def test_a_checkpoint_signed_without_the_key_is_named_as_forged(tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    await signed_log(path, commands=20)
    with sqlite3.connect(path) as conn:
        position, body = conn.execute(
            "SELECT position, body FROM log WHERE command = 'checkpoint' ORDER BY position DESC LIMIT 1"
        ).fetchone()
        document = json.loads(body)
        forged = checkpoints.sign("a guessed key", **{
            name: document["payload"][field]
            for name, field in (("position", "position"), ("accumulator", "accumulator"), ("records", "records"),
                                ("node", "node"), ("at", "at"))
        })  # fmt: skip
        document["payload"] = forged.to_json()
        conn.execute("UPDATE log SET body = ? WHERE position = ?", (json.dumps(document), position))
    done = cli("verify", "--store", f"sqlite:///{path}", "--key", KEY, "--all", "--progress", "off")
    assert done.returncode == 1 and "does not verify with this key: forged" in done.stdout


async def test_a_log_without_a_signed_checkpoint_is_not_anchored(tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    services = await build(Settings(store_url=f"sqlite:///{path}", jwt_secret="s" * 32))
    try:
        await mixed_session(services, random.Random(3), 10)
    finally:
        await services.store.close()
    done = cli("verify", "--store", f"sqlite:///{path}", "--key", KEY, "--progress", "off")
    assert done.returncode == 1 and "nothing anchors the log" in done.stdout
    assert cli("verify", "--store", f"sqlite:///{path}", "--progress", "off").returncode == 0


async def test_deleting_the_newest_records_is_found_with_exported_checkpoints(tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    await signed_log(path, commands=20)
    exported = tmp_path / "checkpoints.jsonl"
    assert (
        cli("export", "--store", f"sqlite:///{path}", "--type", "checkpoint", "--output", str(exported)).returncode == 0
    )
    with sqlite3.connect(path) as conn:
        conn.execute("DELETE FROM log WHERE position >= (SELECT MAX(position) - 2 FROM log)")
    done = cli("verify", "--store", f"sqlite:///{path}", "--checkpoints", str(exported), "--progress", "off")
    assert done.returncode == 1 and "newest records were deleted" in done.stdout, done.stdout


async def test_an_idle_log_gets_no_new_checkpoints_and_a_node_continues_from_the_newest(tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    await signed_log(path, commands=10)
    services = await build(Settings(store_url=f"sqlite:///{path}", jwt_secret="s" * 32, checkpoint_key=KEY))
    try:
        head = await services.store.head_position()
        writer = await Checkpointer(services.store, services.pipeline, KEY, "n2", interval=0).start()
        assert await writer.checkpoint(head) is None  # nothing new since the last node's checkpoint
        await mixed_session(services, random.Random(5), 5)
        signed = await writer.checkpoint(await services.store.head_position())
        assert signed is not None and signed.signed_with(KEY)
    finally:
        await services.store.close()
    done = cli("verify", "--store", f"sqlite:///{path}", "--key", KEY, "--progress", "off")
    assert done.returncode == 0 and "intact" in done.stdout, done.stdout
