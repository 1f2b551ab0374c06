"""A trip as it was at a version or an instant, and the pages of its history, read from the log.

One fold for the analysts' ``trip-at`` and the service's history routes: the trip's
stream in version order through the read side's own projection, started from the
trip's latest snapshot when that is no newer than the asked version, and read with
the store's slim reads in bounded pages.  An instant stops the fold before the first
record written after it (records of one stream are written in version order, so
their times only go forward, give or take the clocks of several nodes).
"""

from __future__ import annotations

from dataclasses import dataclass

from domain.trip_codec import trip_from_snapshot
from domain.trip_model import Trip
from eventlog.ports import EventStore
from eventlog.records import SlimRecord
from projections.snapshot_schema import snapshot_schema
from projections.trips import TripStates

PAGE = 1000
SCAN = 5000  # records a history page reads at most
PLAN_EVENTS = ("trip_created", "trip_updated")


@dataclass(frozen=True, slots=True)
class TripAt:
    trip: Trip | None  # None: the trip did not exist yet (or does not exist)
    version: int  # the last version folded
    head: int  # the stream's newest version


async def trip_at(store: EventStore, trip_id: str, *, version: int | None = None, until: str | None = None) -> TripAt:
    """The trip after ``version`` (or after its last record at or before ``until``, an instant
    in the log's own form; both None: now)."""
    states = TripStates()
    folded = 0
    if until is None:
        snapshot = await store.load_snapshot(trip_id, snapshot_schema())
        if snapshot is not None and (version is None or snapshot.version <= version):
            states.seed(trip_id, trip_from_snapshot(snapshot.state), snapshot.version)
            folded = snapshot.version
    while version is None or folded < version:
        limit = PAGE if version is None else min(PAGE, version - folded)
        records = await store.read_stream_slim(trip_id, after_version=folded, limit=limit)
        for record in records:
            if until is not None and record.at > until:
                return TripAt(states.get(trip_id), folded, await store.stream_version(trip_id))
            states.apply(record)
            folded = record.version or folded
        if len(records) < limit:
            break
    return TripAt(states.get(trip_id), folded, await store.stream_version(trip_id))


async def history_page(
    store: EventStore, trip_id: str, before: int | None, limit: int
) -> tuple[list[SlimRecord], int | None]:
    """The plan's changes (chat left out) newest first, below version ``before`` (None: from
    the newest), at most ``limit`` of them, and the cursor of the next page (None: no more).
    At most ``SCAN`` records are read per call, so a page of a chat-heavy trip stays cheap
    (it may then hold fewer than ``limit``, with a cursor)."""
    head = await store.stream_version(trip_id)
    top = min(head, before - 1) if before is not None else head
    out: list[SlimRecord] = []
    lowest = top + 1  # the lowest version looked at
    scanned = 0
    while top > 0 and len(out) < limit and scanned < SCAN:
        start = max(0, top - PAGE)
        records = await store.read_stream_slim(trip_id, after_version=start, limit=top - start)
        for record in reversed(records):
            if len(out) >= limit:
                break
            scanned += 1
            lowest = record.version or lowest
            event = record.stream_event
            if event is not None and event["type"] in PLAN_EVENTS:
                out.append(record)
        if len(records) < top - start:
            break
        top = start
    return out, (lowest if lowest > 1 else None)
