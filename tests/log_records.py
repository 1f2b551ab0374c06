"""Log records made by hand, for tests that drive a store or the hub directly."""

from __future__ import annotations

from eventlog.records import LogRecord


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
