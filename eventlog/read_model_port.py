"""The read-model port: what a batch of folded records changed, and the sink that
mirrors it into a database (``eventlog/mongo_read_models.py``).  Written by the
read side (``projections/read_models.py``), implemented by adapters."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class TripView:
    trip_id: str
    version: int  # the last stream version applied
    state: dict[str, Any] | None  # ``Trip.to_json()``; None when the stream holds no trip (yet)


@dataclass(frozen=True, slots=True)
class NotificationRead:
    notification_id: str
    user_id: str
    position: int


@dataclass(slots=True)
class ReadModelChange:
    """What a batch of folded records changed in the read models."""

    trip: TripView | None = None
    messages: list[dict[str, Any]] = field(default_factory=list)  # chat message views (with tripId, seq)
    created: list[dict[str, Any]] = field(default_factory=list)  # notifications: view + userId, position
    reads: list[NotificationRead] = field(default_factory=list)
    # edits and deletes of chat messages, in stream order (``chat_change_view``: a deleted one has no text)
    message_changes: list[dict[str, Any]] = field(default_factory=list)
    deleted_previews: list[str] = field(default_factory=list)  # ids of deleted chat messages: previews emptied

    def __bool__(self) -> bool:
        return bool(
            self.trip or self.messages or self.created or self.reads or self.message_changes or self.deleted_previews
        )


class ReadModelSink(Protocol):
    async def write(self, change: ReadModelChange) -> None: ...

    async def erase_person(self, user_id: str, trips: list[TripView]) -> None: ...

    async def erase_message(self, message_id: str) -> None: ...

    async def close(self) -> None: ...
