"""``python app.py trip-at``: a trip's state as of a version or an instant.

The fold itself is ``projections.time_travel.trip_at`` (the service's history route
reads the same one); this module reads the analyst's instant in any ISO 8601 form.
"""

from __future__ import annotations

from eventlog.ports import EventStore
from projections.time_travel import TripAt
from projections.time_travel import trip_at as fold_trip_at
from service.clock import iso, parse_iso

__all__ = ["TripAt", "log_time", "trip_at"]


def log_time(text: str) -> str:
    """An ISO 8601 instant in the log's own form (UTC, milliseconds, ``Z``), so strings compare as instants."""
    return iso(parse_iso(text))


async def trip_at(store: EventStore, trip_id: str, *, version: int | None = None, at: str | None = None) -> TripAt:
    """The trip after ``version`` (or after its last record at or before ``at``; both None: now)."""
    return await fold_trip_at(store, trip_id, version=version, until=log_time(at) if at is not None else None)
