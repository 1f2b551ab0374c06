"""Trip state, folded from each trip's stream with the domain's ``evolve``."""

from __future__ import annotations

from typing import Any

from domain.trip_codec import trip_weight
from domain.trip_decider import evolve
from domain.trip_events import event_from_json
from domain.trip_model import Trip
from eventlog.records import RecordView

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

    def __init__(self, *, remember_changes: bool = True, weigh: bool = False) -> None:
        self._remember_changes = remember_changes  # False: for reading only (no command is decided on these)
        self._versions: dict[str, int] = {}  # trip id -> the last stream version applied
        self._states: dict[str, Trip | None] = {}  # trip id -> its state (chat messages deferred aside)
        self._deferred: dict[str, RecordView] = {}  # trip id -> its newest chat record not evolved yet
        self._weigh = weigh  # True: keep each state's weight, for a cache's budget
        self._weights: dict[str, int] = {}

    def held(self, trip_id: str) -> bool:
        return trip_id in self._versions

    def held_trips(self) -> list[str]:
        return list(self._versions)

    def weight(self, trip_id: str) -> int:
        """About how many bytes the trip's state takes (0 unless built with ``weigh=True``)."""
        return self._weights.get(trip_id, 0)

    def seed(self, trip_id: str, state: Trip | None, version: int) -> None:
        """Start the trip from a state folded elsewhere (a snapshot) up to ``version``."""
        self.forget(trip_id)
        self._versions[trip_id] = version
        self._states[trip_id] = state
        if self._weigh and state is not None:
            self._weights[trip_id] = trip_weight(state)

    def forget(self, trip_id: str) -> None:
        self._versions.pop(trip_id, None)
        self._states.pop(trip_id, None)
        self._deferred.pop(trip_id, None)
        self._weights.pop(trip_id, None)

    def version(self, trip_id: str) -> int:
        return self._versions.get(trip_id, 0)

    def get(self, trip_id: str) -> Trip | None:
        if trip_id in self._deferred:
            return self._settle(trip_id)
        return self._states.get(trip_id)

    def membership(self, trip_id: str) -> Trip | None:
        """The state as of its last change other than a chat message: right in everything
        but ``version`` and ``updated_at`` (owner, collaborators, days...), without
        settling the chat messages since."""
        return self._states.get(trip_id)

    def _settle(self, trip_id: str) -> Trip | None:
        record = self._deferred.pop(trip_id)
        assert record.version is not None
        state = evolve(
            self._states[trip_id],
            event_from_json(record.events[0]),
            record.version,
            record.at,
            remember_changes=self._remember_changes,
            by=record.user_id,
        )
        self._states[trip_id] = state
        return state

    def apply(self, record: RecordView) -> bool:
        stream, version, events = record.stream, record.version, record.events
        if stream is None or version is None or not events:
            return False
        applied = self._versions.get(stream, 0)
        if version <= applied:
            return False
        if version != applied + 1:
            raise StreamGap(f"{stream}: have {applied}, got {version}")
        self._versions[stream] = version
        event = events[0]  # the stream event
        if event["type"] == CHAT_MESSAGE and self._states.get(stream) is not None:
            self._deferred[stream] = record
            return True
        state = self._settle(stream) if stream in self._deferred else self._states.get(stream)
        state = self._states[stream] = evolve(
            state,
            event_from_json(event),
            version,
            record.at,
            remember_changes=self._remember_changes,
            by=record.user_id,
        )
        if self._weigh and state is not None:
            self._weights[stream] = trip_weight(state)
        return True

    def snapshot(self) -> dict[str, Any]:
        for trip_id in list(self._deferred):
            self._settle(trip_id)
        return {trip_id: _compared(state) for trip_id, state in sorted(self._states.items()) if state is not None}


def _compared(state: Trip) -> dict[str, Any]:
    """The trip as replays compare it: its view, and the notes of chat messages edited or deleted
    (the chat histories' digests leave those changes out, see ``projections/digests.py``)."""
    view = state.to_json()
    if state.chat_notes:
        view["chatNotes"] = {message_id: note.to_json() for message_id, note in sorted(state.chat_notes.items())}
    return view
