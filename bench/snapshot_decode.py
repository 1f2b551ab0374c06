"""``python -m bench.snapshot_decode LOG``: what a trip state built from its snapshot takes in
memory and costs to build, against the same state folded from the log.

Folds the log's first trips (``--trips``) in an unbounded read side (``tracemalloc``: KiB per
trip), writes each one's snapshot as the store keeps it (JSON), then builds the states back
from those snapshots: KiB per trip kept, and the best of five rounds of decoding and building.
Reads the log only (any SQLite log: ``python -m bench.scale_log`` writes one).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sqlite3
import sys
import time
import tracemalloc

import orjson

from domain.trip_codec import trip_from_snapshot, trip_to_snapshot
from eventlog.sqlite_store import SqliteEventStore
from projections.read_side import ReadSide, TripCache

KIB = 1024


def _traced() -> int:
    gc.collect()
    return tracemalloc.get_traced_memory()[0]


async def measure(path: str, count: int) -> dict[str, float]:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        query = "SELECT DISTINCT stream FROM log WHERE stream IS NOT NULL LIMIT ?"
        trips = [row[0] for row in db.execute(query, (count,))]
    store = SqliteEventStore(path)
    await store.open()
    try:
        side = ReadSide(store, cache=TripCache(1 << 40, snapshot_every=None, schema="no snapshot"))
        tracemalloc.start()
        base = _traced()
        for trip_id in trips:
            await side.catch_up_trip(trip_id)
        for trip_id in trips:
            side.chat.forget(trip_id)
        folded = _traced() - base
        states = [state for state in map(side.trips.get, trips) if state is not None]
        snapshots = [orjson.dumps(trip_to_snapshot(state)) for state in states]
        counted = sum(side.trips.weight(trip_id) for trip_id in trips)
        for trip_id in trips:
            side.trips.forget(trip_id)
    finally:
        await store.close()
    base = _traced()
    built = [trip_from_snapshot(orjson.loads(snapshot)) for snapshot in snapshots]
    decoded = _traced() - base
    tracemalloc.stop()
    del built
    best = float("inf")
    for _ in range(5):
        began = time.perf_counter()
        for snapshot in snapshots:
            trip_from_snapshot(orjson.loads(snapshot))
        best = min(best, (time.perf_counter() - began) / len(snapshots))
    n = len(trips) * KIB
    return {
        "folded KiB": folded / n,
        "from snapshot KiB": decoded / n,
        "counted KiB": counted / n,
        "snapshot JSON KiB": sum(map(len, snapshots)) / n,
        "decode and build ms": best * 1000,
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.snapshot_decode", description=__doc__)
    parser.add_argument("log", help="an SQLite log")
    parser.add_argument("--trips", type=int, default=50)
    args = parser.parse_args(argv)
    figures = asyncio.run(measure(args.log, args.trips))
    print(", ".join(f"{name} {value:.2f}" for name, value in figures.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
