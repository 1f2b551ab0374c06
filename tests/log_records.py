"""Log records made by hand, for tests that drive a store or the hub directly."""

from __future__ import annotations

from typing import Any

from eventlog.records import ACCEPTED, LogRecord


def chat_record(
    record_id: str,
    stream: str,
    version: int,
    *,
    user: str = "650000000000000000000001",
    session: str | None = None,
    ref: str | None = None,
) -> LogRecord:
    """An accepted chat message at ``version`` of a trip's stream."""
    return LogRecord(
        record_id=record_id,
        at="2026-01-01T00:00:00.000Z",
        source="ws",
        command="chat_message",
        outcome="accepted",
        user_id=user,
        session_id=session,
        trip_id=stream,
        ref=ref,
        stream=stream,
        version=version,
        events=(
            {
                "type": "chat_message",
                "data": {"messageId": f"m{record_id}", "userId": user, "message": f"hi {version}", "type": "text"},
            },
        ),
    )


def session_record(
    command: str,
    position: int,
    *,
    session_id: str = "s1",
    user_id: str = "u1",
    events: tuple[Any, ...] = (),
    **fields: Any,
) -> LogRecord:
    """An accepted record of a connection's session at ``position`` of the log, one a second
    from 2026-01-01T10:00:00Z (what the session folds read)."""
    return LogRecord(
        record_id=f"r{position}",
        at=f"2026-01-01T10:00:{position:02d}.000Z",
        source="ws",
        command=command,
        outcome=ACCEPTED,
        user_id=user_id,
        session_id=session_id,
        events=events,
        position=position,
        **fields,
    )
