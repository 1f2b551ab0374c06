"""``python app.py rebuild-sessions``: session records (and saved presence choices)
that were lost are folded again from the log, on either store, by the real command
in a process of its own; running it twice changes nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pymongo import MongoClient

from app import build
from config import Settings
from eventlog.factory import open_session_records
from eventlog.session_port import SessionQuery, SessionRecord
from eventlog.sqlite_sessions import sessions_path
from service.pipeline import Origin, Request
from tests.integration.test_session_retention import USER, connect, disconnect, store_url
from tests.server import ROOT

__all__ = ["store_url"]  # the fixture: the test runs on both stores
TRIP = "6650c3e2a41f5b7d9e0c1a2b"


def app_command(*args: str) -> subprocess.CompletedProcess[str]:
    """``python app.py ARGS`` in a process of its own (waited for, so never left running)."""
    return subprocess.run(
        [sys.executable, str(ROOT / "app.py"), *args], cwd=ROOT, capture_output=True, text=True, timeout=120
    )


async def session_records(url: str) -> tuple[list[SessionRecord], bool]:
    records = open_session_records(url)
    await records.open()
    try:
        return await records.find(SessionQuery()), await records.hidden(USER)
    finally:
        await records.close()


def lose_session_records(url: str) -> None:
    if url.startswith("sqlite:///"):
        os.remove(sessions_path(url.removeprefix("sqlite:///")))
        return
    client: MongoClient[dict[str, Any]] = MongoClient(url, serverSelectionTimeoutMS=3000)
    try:
        database = client[urlsplit(url).path.lstrip("/")]
        database.drop_collection("sessions")
        database.drop_collection("presence_choices")
    finally:
        client.close()


async def test_lost_session_records_are_folded_again_from_the_log_by_the_command(store_url: str) -> None:
    built = await build(Settings(store_url=store_url, jwt_secret="s" * 32, migrate=True))
    for follower in built.followers:
        follower.cancel()
    try:
        origin = Origin("ws", USER, "user", "s-one")
        await connect(built, "s-one", built.session.node)
        await built.pipeline.record(
            Request(origin, "join_trip_room", {"tripId": TRIP}, trip_id=TRIP), ({"type": "user_joined", "data": {}},)
        )
        await built.pipeline.record(
            Request(origin, "presence_visibility", {"hidden": True}),
            ({"type": "presence_visibility_set", "data": {"hidden": True}},),
        )
        await disconnect(built, "s-one")
        await connect(built, "s-two", built.session.node)
        await built.read_side.drain()
    finally:
        for adapter in built.closing:
            await adapter.close()
        await built.bus.close()
        await built.store.close()
    live, hidden = await session_records(store_url)
    assert [(s.session_id, s.status) for s in live] == [("s-one", "disconnected"), ("s-two", "connected")]
    assert hidden is True
    lose_session_records(store_url)
    assert await session_records(store_url) == ([], False)

    first = app_command("rebuild-sessions", "--store", store_url)
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("rebuild-sessions: 2 sessions folded from the log"), first.stdout
    assert await session_records(store_url) == (live, True)

    again = app_command("rebuild-sessions", "--store", store_url)
    assert again.returncode == 0, again.stderr
    assert await session_records(store_url) == (live, True)


def test_the_command_refuses_a_store_that_is_not_there(tmp_path: Path) -> None:
    missing = app_command("rebuild-sessions", "--store", f"sqlite:///{tmp_path}/nothing.db")
    assert missing.returncode == 2 and "error:" in missing.stderr
    assert not (tmp_path / "nothing-sessions.db").exists()  # nothing was created
