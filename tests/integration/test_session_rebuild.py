"""Session records are a read model of the log: folding the whole log from scratch
(``rebuild_sessions``) gives what the live fold wrote, on either store's log."""

from __future__ import annotations

from pathlib import Path

from eventlog.session_port import SessionQuery, SessionRecords
from eventlog.sqlite_sessions import SqliteSessionRecords
from projections.sessions import rebuild_sessions
from service.container import Services
from service.pipeline import Origin, Request
from tests.integration.test_session_retention import USER, connect, disconnect, records, services, store_url

__all__ = ["records", "services", "store_url"]  # the fixtures, on both stores
TRIP = "6650c3e2a41f5b7d9e0c1a2b"


async def test_a_rebuild_from_the_log_gives_what_the_live_fold_wrote(
    services: Services, records: SessionRecords, tmp_path: Path
) -> None:
    node = services.session.node
    origin = Origin("ws", USER, "user", "s-one")
    await connect(services, "s-one", node)
    await services.pipeline.record(
        Request(origin, "join_trip_room", {"tripId": TRIP}, trip_id=TRIP), ({"type": "user_joined", "data": {}},)
    )
    await services.pipeline.record(
        Request(origin, "typing", {"tripId": TRIP, "isTyping": True}, trip_id=TRIP),
        ({"type": "user_typing", "data": {}},),
    )
    await services.pipeline.record(
        Request(origin, "presence_visibility", {"hidden": True}),
        ({"type": "presence_visibility_set", "data": {"hidden": True}},),
    )
    await disconnect(services, "s-one")
    await services.pipeline.record(
        Request(origin, "resume", {"lastSeq": {}}, meta={"node": "other-node"}),
        ({"type": "resumed", "data": {"rooms": [TRIP], "revoked": [], "hidden": True}},),
    )
    await connect(services, "s-two", "dead-node")
    await services.pipeline.record(
        Request(Origin("system"), "sessions_lost", {"node": "dead-node"}),
        ({"type": "sessions_lost", "data": {"node": "dead-node", "sessionIds": ["s-two"]}},),
    )
    await services.read_side.drain()
    live = await records.find(SessionQuery())

    rebuilt = SqliteSessionRecords(str(tmp_path / "rebuilt-sessions.db"))
    await rebuilt.open()
    try:
        assert await rebuild_sessions(services.store, rebuilt, page=2) == 2
        assert await rebuilt.find(SessionQuery()) == live
        assert [s.status for s in live] == ["connected", "disconnected"] and live[0].node == "other-node"
        assert await rebuilt.hidden(USER) is True and await records.hidden(USER) is True
    finally:
        await rebuilt.close()
