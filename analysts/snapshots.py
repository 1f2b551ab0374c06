"""Trip snapshots checked against a fold of the log: ``verify`` and ``replay`` report any that differ.

A snapshot made by this code (``projections.snapshot_schema``) must equal the
stream folded up to its version, recent changes included; one made by other
code is stale (nodes never load it) and only counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from analysts.compare import Differ, Difference
from domain.trip_codec import trip_to_snapshot
from eventlog.ports import EventStore, TripSnapshot
from projections.snapshot_schema import snapshot_schema
from projections.trips import StreamGap, TripStates

PAGE = 1000


@dataclass
class SnapshotCheck:
    checked: int = 0  # snapshots made by this code, each compared with a fold
    stale: int = 0  # made by other code: never loaded
    differing: list[Difference] = field(default_factory=list)
    truncated: bool = False


async def _fold_until(store: EventStore, stream: str, version: int) -> tuple[int, object]:
    """The stream folded up to ``version``: (the version reached, the state as a snapshot holds it)."""
    trips = TripStates()
    reached = 0
    while reached < version:
        records = await store.read_stream(stream, reached, min(PAGE, version - reached))
        if not records:
            break
        for record in records:
            trips.apply(record)
        reached = records[-1].version or reached
    state = trips.get(stream)
    return reached, trip_to_snapshot(state) if state is not None else None


async def _check_one(store: EventStore, snapshot: TripSnapshot, differ: Differ) -> None:
    path = f"snapshots.{snapshot.stream}"
    try:
        reached, folded = await _fold_until(store, snapshot.stream, snapshot.version)
    except StreamGap as gap:
        differ.add(Difference(path, note=f"the fold stopped at a gap ({gap})"))
        return
    if reached < snapshot.version:
        differ.add(Difference(path, note=f"the snapshot is at version {snapshot.version}, the log ends at {reached}"))
        return
    found = Differ(1)
    found.json(path, snapshot.state, folded)
    for difference in found.found:
        detail = difference.describe("snapshot", "fold of the log")
        differ.add(Difference(path, note=f"the snapshot at version {snapshot.version} differs: {detail}"))


async def check_snapshots(store: EventStore, *, limit: int = 1000, schema: str | None = None) -> SnapshotCheck:
    """Every stream's latest snapshot, those made by ``schema`` (this code's) compared with a fold of the log."""
    schema = schema or snapshot_schema()
    check = SnapshotCheck()
    differ = Differ(limit)
    after = ""
    while True:
        snapshots = await store.read_snapshots(after, PAGE)
        for snapshot in snapshots:
            if snapshot.schema != schema:
                check.stale += 1
                continue
            check.checked += 1
            await _check_one(store, snapshot, differ)
        if len(snapshots) < PAGE:
            break
        after = snapshots[-1].stream
    check.differing, check.truncated = differ.found, differ.truncated
    return check
