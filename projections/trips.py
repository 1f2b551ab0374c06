"""Trip state, folded from each trip's stream with the domain's ``evolve``."""

from __future__ import annotations

from typing import Any

from domain.trip_decider import event_from_json, evolve
from domain.trip_model import Trip
from eventlog.records import LogRecord


class StreamGap(Exception):
    """A record arrived whose predecessor has not been applied: read the log."""


class TripStates:
    """trip id -> (last stream version applied, state); applying twice is a no-op."""

    def __init__(self) -> None:
        self._views: dict[str, tuple[int, Trip | None]] = {}

    def version(self, trip_id: str) -> int:
        return self._views.get(trip_id, (0, None))[0]

    def get(self, trip_id: str) -> Trip | None:
        return self._views.get(trip_id, (0, None))[1]

    def apply(self, record: LogRecord) -> bool:
        event = record.stream_event
        if event is None or record.stream is None or record.version is None:
            return False
        applied, state = self._views.get(record.stream, (0, None))
        if record.version <= applied:
            return False
        if record.version != applied + 1:
            raise StreamGap(f"{record.stream}: have {applied}, got {record.version}")
        self._views[record.stream] = (record.version, evolve(state, event_from_json(event), record.version, record.at))
        return True

    def snapshot(self) -> dict[str, Any]:
        return {trip_id: state.to_json() for trip_id, (_, state) in sorted(self._views.items()) if state is not None}
