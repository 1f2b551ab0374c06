"""Trip state, folded from each trip's stream with the domain's ``evolve``."""

from __future__ import annotations

from typing import Any

from domain.trip_decider import event_from_json, evolve
from domain.trip_model import JSON, Trip
from eventlog.records import LogRecord

CHAT_MESSAGE = "chat_message"


class StreamGap(Exception):
    """A record arrived whose predecessor has not been applied: read the log."""


class TripStates:
    """trip id -> (last stream version applied, state); applying twice is a no-op.

    A chat message only moves its trip's version: ``evolve`` of a
    ``ChatMessagePosted`` keeps everything else, whatever came before (a test
    holds the domain to it).  So a run of chat messages is evolved lazily, only
    its last one and only when the state is next needed; a rebuild of a
    chat-heavy log skips most ``evolve`` calls that way.
    """

    def __init__(self) -> None:
        self._views: dict[str, tuple[int, Trip | None]] = {}
        self._deferred: dict[str, tuple[JSON, int, str]] = {}  # trip id -> its newest chat event not evolved yet

    def version(self, trip_id: str) -> int:
        return self._views.get(trip_id, (0, None))[0]

    def get(self, trip_id: str) -> Trip | None:
        if trip_id in self._deferred:
            self._settle(trip_id)
        return self._views.get(trip_id, (0, None))[1]

    def _settle(self, trip_id: str) -> Trip | None:
        event, version, at = self._deferred.pop(trip_id)
        applied, state = self._views[trip_id]
        state = evolve(state, event_from_json(event), version, at)
        self._views[trip_id] = (applied, state)
        return state

    def apply(self, record: LogRecord) -> bool:
        event = record.stream_event
        stream, version = record.stream, record.version
        if event is None or stream is None or version is None:
            return False
        applied, state = self._views.get(stream, (0, None))
        if version <= applied:
            return False
        if version != applied + 1:
            raise StreamGap(f"{stream}: have {applied}, got {version}")
        if event["type"] == CHAT_MESSAGE and state is not None:
            self._views[stream] = (version, state)
            self._deferred[stream] = (event, version, record.at)
            return True
        if stream in self._deferred:
            state = self._settle(stream)
        self._views[stream] = (version, evolve(state, event_from_json(event), version, record.at))
        return True

    def snapshot(self) -> dict[str, Any]:
        for trip_id in list(self._deferred):
            self._settle(trip_id)
        return {trip_id: state.to_json() for trip_id, (_, state) in sorted(self._views.items()) if state is not None}
