"""The pure parts of sessions: a session record folded from its log records, the
audit view of connections, and resume tokens bound to user and session."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from eventlog.records import LogRecord
from eventlog.session_port import CONNECTED, DISCONNECTED, SessionRecord
from projections.audit import AuditViews
from projections.sessions import CLOSE_ABNORMAL, CLOSE_TAKEN_OVER, fold_session
from service.resume import SessionResumer
from tests.log_records import session_record as record

TRIP = "6650c3e2a41f5b7d9e0c1a2b"


def folded(*records: LogRecord) -> SessionRecord | None:
    session = None
    for rec in records:
        session = fold_session(session, rec, "s1")
    return session


CONNECT = record("connect", 1, meta={"ip": "203.0.113.1", "userAgent": "UA", "node": "n1"})
CONNECT_FOLDED = fold_session(None, CONNECT, "s1")


def test_a_session_takes_its_fields_from_connect_joins_leaves_and_disconnect() -> None:
    session = folded(
        CONNECT,
        record("join_trip_room", 2, trip_id=TRIP),
        record("chat_message", 3, trip_id=TRIP),
        record("disconnect", 4, events=({"type": "disconnected", "data": {"code": 1001}},)),
    )
    assert session == SessionRecord(
        session_id="s1",
        user_id="u1",
        node="n1",
        connection_time=CONNECT.at,
        last_activity="2026-01-01T10:00:04.000Z",
        ip="203.0.113.1",
        user_agent="UA",
        rooms=(TRIP,),  # kept at the disconnect: what a resume gives back
        status=DISCONNECTED,
        disconnected_at="2026-01-01T10:00:04.000Z",
        close_code=1001,
        position=4,
    )
    left = folded(CONNECT, record("join_trip_room", 2, trip_id=TRIP), record("leave_trip_room", 3, trip_id=TRIP))
    assert left is not None and left.rooms == ()


def test_a_resume_reconnects_the_session_on_its_new_node_with_the_rooms_given_back() -> None:
    resumed = folded(
        CONNECT,
        record("join_trip_room", 2, trip_id=TRIP),
        record("disconnect", 3, events=({"type": "disconnected", "data": {"code": None}},)),
        record("resume", 4, meta={"node": "n2"}, events=({"type": "resumed", "data": {"rooms": []}},)),
    )
    assert resumed is not None
    assert (resumed.status, resumed.node, resumed.rooms, resumed.disconnected_at) == (CONNECTED, "n2", (), None)
    assert resumed.connection_time == CONNECT.at


def test_a_lost_node_closes_its_connected_sessions_only() -> None:
    lost = record("sessions_lost", 5, events=({"type": "sessions_lost", "data": {"sessionIds": ["s1"]}},))
    session = folded(CONNECT, lost)
    assert session is not None and (session.status, session.close_code) == (DISCONNECTED, CLOSE_ABNORMAL)
    closed = folded(CONNECT, record("disconnect", 2, events=({"type": "disconnected", "data": {"code": 1000}},)), lost)
    assert closed is not None and closed.close_code == 1000 and closed.position == 2


def test_a_record_of_an_unknown_session_makes_none() -> None:
    assert fold_session(None, record("join_trip_room", 2, trip_id=TRIP), "s1") is None


def test_the_audit_view_lists_a_resumed_session_and_drops_a_lost_one() -> None:
    views = AuditViews()
    views.apply(CONNECT)
    views.apply(record("disconnect", 2, events=({"type": "disconnected", "data": {"code": None}},)))
    assert views.snapshot()["connections"] == {}
    views.apply(record("resume", 3, events=({"type": "resumed", "data": {"rooms": [TRIP]}},)))
    assert views.snapshot()["connections"] == {
        "s1": {"userId": "u1", "connectedAt": "2026-01-01T10:00:03.000Z", "rooms": [TRIP]}
    }
    views.apply(record("sessions_lost", 4, events=({"type": "sessions_lost", "data": {"sessionIds": ["s1"]}},)))
    assert views.snapshot()["connections"] == {}


class _Clock:
    def now(self) -> dt.datetime:
        return dt.datetime(2026, 1, 1, tzinfo=dt.UTC)

    def monotonic(self) -> float:
        return 0.0


def test_a_resume_token_is_good_for_its_user_and_session_only() -> None:
    resumer = SessionResumer(None, None, _Clock(), secret=b"k" * 32, window=120)  # type: ignore[arg-type]
    token = resumer.token("u1", "s1")
    assert resumer.session_of("u1", token) == "s1"
    assert resumer.session_of("u2", token) is None  # another user
    assert resumer.session_of("u1", token.replace("s1.", "s2.")) is None  # another session
    assert resumer.session_of("u1", token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    assert resumer.session_of("u1", "no-dot") is None and resumer.session_of("u1", "a.b.c") is None
    assert resumer.session_of("u1", "s1.\u00e9\ud800") is None  # not ASCII, a lone surrogate: refused, no error
    other = SessionResumer(None, None, _Clock(), secret=b"j" * 32, window=120)  # type: ignore[arg-type]
    assert other.session_of("u1", token) is None  # another secret


TAKEN_OVER = record("disconnect", 4, events=({"type": "disconnected", "data": {"code": CLOSE_TAKEN_OVER}},))
RESUMED_ELSEWHERE = record("resume", 3, meta={"node": "n2"}, events=({"type": "resumed", "data": {"rooms": []}},))


def test_the_close_of_a_connection_a_resume_took_over_leaves_the_session_connected_in_either_order() -> None:
    after = folded(CONNECT, RESUMED_ELSEWHERE, TAKEN_OVER)
    before = folded(CONNECT, replace(TAKEN_OVER, position=2), RESUMED_ELSEWHERE)
    for session in (after, before):
        assert session is not None and (session.status, session.node, session.close_code) == (CONNECTED, "n2", None)


def test_a_lost_node_does_not_close_a_session_resumed_on_another_node_before_the_sweep() -> None:
    lost = record("sessions_lost", 5, events=({"type": "sessions_lost", "data": {"node": "n1", "sessionIds": ["s1"]}},))
    session = folded(CONNECT, RESUMED_ELSEWHERE, lost)
    assert session is not None and (session.status, session.node) == (CONNECTED, "n2")
    assert CONNECT_FOLDED is not None
    assert folded(CONNECT, lost) == replace(
        CONNECT_FOLDED, status=DISCONNECTED, disconnected_at=lost.at, close_code=CLOSE_ABNORMAL, position=5
    )


def test_the_audit_view_keeps_a_session_whose_old_connection_a_resume_took_over() -> None:
    views = AuditViews()
    for rec in (CONNECT, RESUMED_ELSEWHERE, TAKEN_OVER):
        views.apply(rec)
    assert list(views.snapshot()["connections"]) == ["s1"]
