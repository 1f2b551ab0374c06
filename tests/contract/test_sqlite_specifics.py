"""What only the SQLite adapter has: rows written before schema version 2 (events inside the body)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import orjson

from analysts.verify import verify
from eventlog.chain import content_hash
from eventlog.records import REFUSED, LogRecord, SlimRecord
from eventlog.sqlite_store import SqliteEventStore
from tests.contract.test_event_store import TRIP_A, TRIP_B, as_compared, record, slim_of


def unsplit(path: Path) -> int:
    """Turn every row back into the version 1 layout: the whole document in ``body``, no new columns."""
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT position, body, events FROM log").fetchall()
        for position, body, events in rows:
            document = {**orjson.loads(body), "events": orjson.loads(events)}
            conn.execute(
                "UPDATE log SET body = ?, events = NULL, session_id = NULL, error_code = NULL, schema_version = NULL"
                " WHERE position = ?",
                (orjson.dumps(document), position),
            )
    return len(rows)


def unsplit_rows(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM log WHERE events IS NULL").fetchone()[0])


async def everything(store: SqliteEventStore) -> tuple[list[LogRecord], list[SlimRecord], list[SlimRecord]]:
    return (
        await store.read_all(),
        as_compared(await store.read_all_slim()),
        as_compared(await store.read_stream_slim(TRIP_A)),
    )


async def test_rows_of_the_first_layout_read_the_same_and_are_split_when_the_store_opens(tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    store = SqliteEventStore(str(path))
    await store.open()
    await store.append(record(TRIP_A, 1))
    await store.append(record(TRIP_A, None, command="chat_message", outcome=REFUSED))
    await store.append(record(TRIP_A, 2, command="chat_message"))
    await store.append(record(TRIP_B, 1))
    written = await everything(store)
    assert [slim_of(r) for r in written[0]] == written[1]
    await store.close()

    assert unsplit(path) == 4
    store = SqliteEventStore(str(path))
    await store.open()  # splits them again
    try:
        assert unsplit_rows(path) == 0
        assert await everything(store) == written

        unsplit(path)  # as a tool writing the first layout would leave them, behind an open store
        assert await everything(store) == written
        # the next record of the stream links to the hash of one such row
        newest = await store.append(record(TRIP_A, 3))
        assert newest.extra["prevHash"] == content_hash(written[0][2])
        assert (await verify(store)).intact
    finally:
        await store.close()
    store = SqliteEventStore(str(path))
    await store.open()
    try:
        assert unsplit_rows(path) == 0
        assert (await everything(store))[0][:4] == written[0]
    finally:
        await store.close()
