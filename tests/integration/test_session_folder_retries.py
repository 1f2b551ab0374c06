"""A brief store hiccup while session records are folded (``SessionFolder``) loses none of
them: a batch whose save or read fails is tried again, then saved a record at a time, and
what the folder holds of a session changes only once it is saved.  Before, one failure lost
the whole batch (up to 500 sessions): a storm's disconnects were never written and the
sessions stayed shown connected.  The records are the shipped SQLite adapter; only the
failures are added, each a store's error once (or, for one session, always)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from eventlog.records import LogRecord
from eventlog.session_port import CONNECTED, DISCONNECTED, SessionRecord
from eventlog.sqlite_sessions import SqliteSessionRecords
from projections.sessions import SessionFolder
from tests.log_records import session_record

pytestmark = pytest.mark.integration

USER = "650000000000000000000001"


class Hiccups(SqliteSessionRecords):
    """SQLite session records whose next ``save_many`` fails ``failing_saves`` times, and
    whose ``get`` of a session in ``failing_gets`` fails (its count of times; -1: always)."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.failing_saves = 0
        self.failing_gets: dict[str, int] = {}

    async def save_many(self, sessions: Sequence[SessionRecord]) -> None:
        if self.failing_saves:
            self.failing_saves -= 1
            raise OSError("database is locked")
        await super().save_many(sessions)

    async def get(self, session_id: str) -> SessionRecord | None:
        left = self.failing_gets.get(session_id, 0)
        if left:
            self.failing_gets[session_id] = left - 1
            raise OSError("database is locked")
        return await super().get(session_id)


@pytest.fixture
async def records(tmp_path: Path) -> Hiccups:
    store = Hiccups(str(tmp_path / "sessions.db"))
    await store.open()
    return store  # the folder closes it (``SessionFolder.close``)


def logged(position: int, command: str, session_id: str, data: dict[str, object] | None = None) -> LogRecord:
    return session_record(
        command,
        position,
        session_id=session_id,
        user_id=USER,
        events=({"type": command, "data": data or {}},),
        meta={"node": "node-a", "ip": "127.0.0.1", "userAgent": "test"},
    )


async def test_a_batch_whose_save_fails_once_is_saved_when_tried_again(records: Hiccups) -> None:
    folder = SessionFolder(records, retry_pause=0)
    records.failing_saves = 1
    for position, session_id in enumerate(("s1", "s2", "s3"), start=1):
        folder.apply(logged(position, "connect", session_id))
    folder.apply(logged(4, "disconnect", "s2", {"code": 1000}))
    await folder.drain()

    saved = {s: await records.get(s) for s in ("s1", "s2", "s3")}
    assert {s: r.status if r else None for s, r in saved.items()} == {
        "s1": CONNECTED,
        "s2": DISCONNECTED,
        "s3": CONNECTED,
    }
    assert folder.failures == 1 and folder.lost == 0
    await folder.close()


async def test_a_session_read_that_fails_once_loses_nothing_of_the_batch(records: Hiccups) -> None:
    folder = SessionFolder(records, retry_pause=0)
    folder.apply(logged(1, "connect", "elsewhere"))  # a session this node will not hold (resumed on another)
    folder.apply(logged(2, "sessions_lost", "sweeper", {"node": "node-a", "sessionIds": ["elsewhere"]}))
    await folder.drain()
    records.failing_gets["elsewhere"] = 1
    folder.apply(logged(3, "connect", "s1"))
    folder.apply(logged(4, "resume", "elsewhere", {"rooms": []}))  # not held here: read from the store
    folder.apply(logged(5, "disconnect", "s1", {"code": 1000}))
    await folder.drain()

    s1, elsewhere = await records.get("s1"), await records.get("elsewhere")
    assert s1 is not None and s1.status == DISCONNECTED
    assert elsewhere is not None and elsewhere.status == CONNECTED and elsewhere.position == 4
    assert folder.lost == 0
    await folder.close()


async def test_a_record_that_cannot_be_written_costs_only_itself_and_is_counted(records: Hiccups) -> None:
    folder = SessionFolder(records, retry_pause=0)
    records.failing_gets["unreadable"] = -1
    folder.apply(logged(1, "connect", "s1"))
    folder.apply(logged(2, "disconnect", "unreadable", {"code": 1000}))
    folder.apply(logged(3, "connect", "s2"))
    await folder.drain()

    s1, s2 = await records.get("s1"), await records.get("s2")
    assert s1 is not None and s1.status == CONNECTED and s2 is not None and s2.status == CONNECTED
    assert folder.lost == 1
    await folder.close()


async def test_a_session_whose_connect_was_not_saved_yet_is_held_only_once_it_is(records: Hiccups) -> None:
    folder = SessionFolder(records, retry_pause=0, save_tries=1)
    records.failing_saves = 2  # its one try and its fallback: the connect is not written
    folder.apply(logged(1, "connect", "s1"))
    await folder.drain()
    assert folder.lost == 1 and await records.get("s1") is None

    folder.apply(logged(2, "join_trip_room", "s1"))  # not held as connected: read, unknown, nothing to save
    await folder.drain()
    assert await records.get("s1") is None
    await folder.close()
