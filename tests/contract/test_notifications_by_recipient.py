"""One user's notifications read by recipient, through an index written with the records: the contract
every store adapter keeps, and the SQLite backfill of logs written before the index."""

from __future__ import annotations

import itertools
import sqlite3
from pathlib import Path
from typing import Any

from eventlog.ports import EventStore
from eventlog.records import ACCEPTED, LogRecord, SlimRecord
from eventlog.sqlite_store import SqliteEventStore
from tests.contract.test_sqlite_specifics import unsplit

_ids = itertools.count(1)
TRIP = "a" * 24
ANA, BEN, CAL = "1" * 24, "2" * 24, "3" * 24


def _record(command: str, events: tuple[dict[str, Any], ...], *, version: int | None = None) -> LogRecord:
    n = next(_ids)
    return LogRecord(
        record_id=f"{n:024x}",
        at=f"2026-11-25T10:00:{n % 60:02d}.000Z",
        source="rest",
        command=command,
        outcome=ACCEPTED,
        user_id=CAL,
        trip_id=TRIP if version is not None else None,
        events=events,
        stream=TRIP if version is not None else None,
        version=version,
    )


def created(user: str, note: str) -> dict[str, Any]:
    return {"type": "notification_created", "data": {"notificationId": note, "userId": user, "title": note}}


def read(user: str, note: str) -> dict[str, Any]:
    return {"type": "notification_read", "data": {"notificationId": note, "userId": user}}


def chat(user: str, message: str) -> dict[str, Any]:
    return {"type": "chat_message", "data": {"messageId": message, "userId": user, "message": "hi", "type": "text"}}


async def _fill(store: EventStore) -> dict[str, int]:
    """Records by name -> position: some notify Ana, Ben or both, some only carry their user ids elsewhere."""
    written = {
        "ana1": _record("notify", (created(ANA, "n1"),)),
        "ana_chat": _record("chat_message", (chat(ANA, "m1"),), version=1),  # Ana's own message: no notification
        "both": _record("chat_message", (chat(CAL, "m2"), created(ANA, "n2"), created(BEN, "n3")), version=2),
        "ben_read": _record("mark_notification_read", (read(BEN, "n3"),)),
        "ana_read": _record("mark_notification_read", (read(ANA, "n1"),)),
        "other": _record("notify", (created(CAL, "n4"),)),
    }
    return {name: (await store.append(record)).position for name, record in written.items()}


def _positions(records: list[SlimRecord]) -> list[int]:
    return [record.position for record in records]


async def test_a_users_notifications_are_the_records_that_create_or_read_theirs_in_position_order(
    store: EventStore,
) -> None:
    at = await _fill(store)
    assert _positions(await store.read_notifications(ANA)) == [at["ana1"], at["both"], at["ana_read"]]
    assert _positions(await store.read_notifications(BEN)) == [at["both"], at["ben_read"]]
    assert await store.read_notifications("9" * 24) == []
    ana = await store.read_notifications(ANA)
    assert [e["type"] for e in ana[1].events] == ["chat_message", "notification_created", "notification_created"]


async def test_a_users_notifications_are_read_a_page_at_a_time_after_a_position(store: EventStore) -> None:
    at = await _fill(store)
    assert _positions(await store.read_notifications(ANA, 0, 2)) == [at["ana1"], at["both"]]
    assert _positions(await store.read_notifications(ANA, at["both"], 2)) == [at["ana_read"]]
    assert await store.read_notifications(ANA, at["ana_read"]) == []
    assert await store.read_notifications(ANA, 0, 0) == []


async def test_notifications_are_found_by_recipient_after_the_store_is_reopened(store_factory: Any) -> None:
    async with store_factory() as store:
        at = await _fill(store)
    async with store_factory() as store:
        assert _positions(await store.read_notifications(BEN)) == [at["both"], at["ben_read"]]


def _as_schema_version_3(path: Path) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("DROP TABLE notices")
        conn.execute("PRAGMA user_version = 3")


async def _found_after_reopening(path: Path, at: dict[str, int]) -> None:
    store = SqliteEventStore(str(path))
    await store.open()
    try:
        assert _positions(await store.read_notifications(ANA)) == [at["ana1"], at["both"], at["ana_read"]]
        assert _positions(await store.read_notifications(BEN)) == [at["both"], at["ben_read"]]
    finally:
        await store.close()


async def test_a_sqlite_log_written_before_the_index_is_backfilled_when_the_store_opens(tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    store = SqliteEventStore(str(path))
    await store.open()
    at = await _fill(store)
    await store.close()

    _as_schema_version_3(path)  # split rows: filled by the upgrade to version 4
    await _found_after_reopening(path, at)

    _as_schema_version_3(path)
    assert unsplit(path) == len(at)  # rows of the first layout: filled as they are split
    await _found_after_reopening(path, at)
