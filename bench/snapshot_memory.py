"""What a held trip takes in memory against what the cache counts, loaded from its snapshot or folded.

    python -m bench.snapshot_memory --log /tmp/ts-scale/scale-1000000-2000-100000.db [--trips 400]

On a scale log whose trips have snapshots (after a ``bench/scale_bench.py`` run),
in process: a ``ReadSide`` with an unlimited ``TripCache`` (writing no snapshot)
loads ``--trips`` trips, once from their snapshots and once with the snapshots
ignored (folded from the stream); per trip, what ``forget`` gives back of the
chat and of the state (``tracemalloc``) against what the cache counts.  Then
``trip_from_snapshot`` over the same snapshots, decoding included, as decoded
and with every string of the decoded JSON interned first.  Reads the log only.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sqlite3
import sys
import tracemalloc
from collections.abc import Callable
from typing import Any

import orjson

from domain.trip_codec import trip_from_snapshot
from eventlog.sqlite_store import SqliteEventStore
from projections.read_side import ReadSide, TripCache
from projections.snapshot_schema import snapshot_schema

KIB = 1024


def _traced() -> int:
    gc.collect()
    return tracemalloc.get_traced_memory()[0]


async def held(path: str, trips: list[str], from_snapshots: bool) -> dict[str, float]:
    """KiB per trip: traced and counted, for the chat and the state."""
    store = SqliteEventStore(path)
    await store.open()
    try:
        schema = snapshot_schema() if from_snapshots else "no snapshot"  # an unknown schema: none is found
        side = ReadSide(store, cache=TripCache(1 << 40, snapshot_every=None, schema=schema))
        tracemalloc.start()
        base = _traced()
        for trip_id in trips:
            await side.catch_up_trip(trip_id)
        loaded = _traced()
        chat_counted = sum(side.chat.weight(trip_id) for trip_id in trips)
        state_counted = sum(side.trips.weight(trip_id) for trip_id in trips)
        for trip_id in trips:
            side.chat.forget(trip_id)
        without_chat = _traced()
        for trip_id in trips:
            side.trips.forget(trip_id)
        without_states = _traced()
        tracemalloc.stop()
    finally:
        await store.close()
    n = len(trips) * KIB
    return {
        "trip traced": (loaded - base) / n,
        "chat traced": (loaded - without_chat) / n,
        "chat counted": chat_counted / n,
        "state traced": (without_chat - without_states) / n,
        "state counted": state_counted / n,
    }


def _interned(value: Any) -> Any:
    if isinstance(value, str):
        return sys.intern(value)
    if isinstance(value, list):
        return [_interned(item) for item in value]
    if isinstance(value, dict):
        return {sys.intern(key): _interned(item) for key, item in value.items()}
    return value


def decoded(states: list[bytes], prepare: Callable[[Any], Any]) -> float:
    """KiB per state that ``trip_from_snapshot`` keeps, decoding included."""
    tracemalloc.start()
    base = _traced()
    built = [trip_from_snapshot(prepare(orjson.loads(state))) for state in states]
    kept = _traced() - base
    tracemalloc.stop()
    del built
    return kept / len(states) / KIB


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.snapshot_memory", description=__doc__.split("\n")[0])
    parser.add_argument("--log", required=True, help="an SQLite scale log with snapshots")
    parser.add_argument("--trips", type=int, default=400)
    opts = parser.parse_args(argv)
    conn = sqlite3.connect(f"file:{opts.log}?mode=ro", uri=True)
    try:
        rows = conn.execute(
            "SELECT stream, state FROM snapshots WHERE schema = ? ORDER BY stream LIMIT ? OFFSET 1",
            (snapshot_schema(), opts.trips),  # OFFSET 1: not the big trip (the first)
        ).fetchall()
    finally:
        conn.close()
    trips = [stream for stream, _ in rows]
    print(f"{len(trips)} trips; KiB per trip")
    for label, from_snapshots in (("from its snapshot", True), ("folded from the stream", False)):
        figures = asyncio.run(held(opts.log, trips, from_snapshots))
        print(f"{label}: " + ", ".join(f"{name} {value:.1f}" for name, value in figures.items()))
    states = [state for _, state in rows]
    print(f"trip_from_snapshot, as decoded: {decoded(states, lambda value: value):.1f}")
    print(f"trip_from_snapshot, strings interned: {decoded(states, _interned):.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
