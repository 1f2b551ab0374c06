"""``python app.py trip-at``: a trip's state as of a version or an instant.

The trip's stream is folded in version order with the same projection the
read side uses, and stops at the asked version, or before the first record
written after the asked instant (records of one stream are written in version
order, so their times only go forward, give or take the clocks of several
nodes: the fold stops at the first later one).
"""

from __future__ import annotations

from dataclasses import dataclass

from analysts.scan import PAGE
from domain.trip_model import Trip
from eventlog.ports import EventStore
from projections.trips import TripStates
from service.clock import iso, parse_iso


@dataclass(frozen=True, slots=True)
class TripAt:
    trip: Trip | None  # None: the trip did not exist yet (or does not exist)
    version: int  # the last version folded
    head: int  # the stream's newest version


def log_time(text: str) -> str:
    """An ISO 8601 instant in the log's own form (UTC, milliseconds, ``Z``), so strings compare as instants."""
    return iso(parse_iso(text))


async def trip_at(store: EventStore, trip_id: str, *, version: int | None = None, at: str | None = None) -> TripAt:
    """The trip after ``version`` (or after its last record at or before ``at``; both None: now)."""
    until = log_time(at) if at is not None else None
    states = TripStates()
    folded = 0
    while version is None or folded < version:
        limit = PAGE if version is None else min(PAGE, version - folded)
        records = await store.read_stream(trip_id, after_version=folded, limit=limit)
        for record in records:
            if until is not None and record.at > until:
                return TripAt(states.get(trip_id), folded, await store.stream_version(trip_id))
            states.apply(record)
            folded = record.version or folded
        if len(records) < limit:
            break
    return TripAt(states.get(trip_id), folded, await store.stream_version(trip_id))
