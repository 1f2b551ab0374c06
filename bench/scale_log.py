"""Big logs for the scale bench, written straight into an SQLite store's table in bulk.

Not the service's command path (``bench/replay_bench.py`` simulates that, at a
few thousand records a second): records are made here from plain templates,
linked into their hash chains by the store's own ``eventlog.chain`` (trip
streams, and one writer chain for the rest) and turned into rows by the
store's own ``log_row``, so the rows are those ``SqliteEventStore`` writes and
``python app.py verify`` finds the log intact.

Fast, because a 10,000,000-record log must be written in minutes, not hours:

* a worker process makes the rows (the records, their links, their JSON) while
  this one inserts them (``executemany`` over prepared tuples);
* while loading, the file has no rollback journal and no syncs
  (``journal_mode=OFF``, ``synchronous=OFF``: a crash leaves a half-written
  bench log, which is thrown away) and a large page cache;
* the log's secondary indexes are dropped before the load and made again
  after it from their own definitions (read back from ``sqlite_master``, so they
  are exactly the schema's); making the unique ``(stream, version)`` index
  again also proves no version was written twice.  Then the file is put back
  in WAL mode, as the store keeps it.

The mix follows the logs the issue measured: about half the records are chat
messages, a sixth trip updates that change an existing activity (so a trip's
state keeps its size), the rest records outside the streams (typing, room
joins).  Trips get records uniformly, except ``big`` records of one trip (the
first), spread through the log.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import random
import sqlite3
import sys
import time
from collections.abc import Iterator
from typing import Any

from eventlog.chain import Chains
from eventlog.notices import recipients
from eventlog.records import LogRecord
from eventlog.sqlite_store import INSERT_ROW, SqliteEventStore, log_row

WORDS = [
    "train",
    "beach",
    "hotel",
    "dinner",
    "museum",
    "ferry",
    "castle",
    "lunch",
    "tickets",
    "sunset",
    "market",
    "hike",
    "coffee",
    "tram",
    "gate",
]
START = 1_767_225_600  # 2026-01-01T00:00:00Z
BATCH = 20_000  # rows per message from the worker, and per transaction
QUEUED = 4  # batches the worker may be ahead
LOAD_CACHE_KIB = 256 * 1024  # the loading connection's page cache (index builds sort in it)


def _at(n: int) -> str:
    seconds, millis = divmod(n * 37, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(START + seconds)) + f".{millis:03d}Z"


class ScaleLog:
    def __init__(self, trips: int, users: int, big: int, seed: int = 1) -> None:
        self.rng = random.Random(seed)
        self.trip_ids = [f"{0x650000000000000000000000 + n:024x}" for n in range(trips)]
        self.users = [f"{0x660000000000000000000000 + n:024x}" for n in range(users)]
        self.big = big
        self.versions = dict.fromkeys(self.trip_ids, 0)
        self.activities: dict[str, list[tuple[str, str]]] = {}  # trip -> (day id, activity id)
        self.members: dict[str, list[str]] = {}
        self._ids = 0
        self._n = 0

    def _id(self) -> str:
        self._ids += 1
        return f"{0x670000000000000000000000 + self._ids:024x}"

    def _record(self, command: str, user: str, trip: str | None, events: tuple[Any, ...], payload: Any) -> LogRecord:
        self._n += 1
        stream = version = None
        if trip is not None and command in ("create_trip", "chat_message", "trip_update"):
            self.versions[trip] += 1
            stream, version = trip, self.versions[trip]
        return LogRecord(
            record_id=self._id(),
            at=_at(self._n),
            source="ws",
            command=command,
            outcome="accepted",
            user_id=user,
            session_id=f"s-{user[-6:]}",
            trip_id=trip,
            payload=payload,
            events=events,
            stream=stream,
            version=version,
        )

    def _create(self, trip: str) -> LogRecord:
        owner = self.rng.choice(self.users)
        members = [owner, *self.rng.sample(self.users, 4)]
        self.members[trip] = members
        days, pairs = [], []
        for d in range(3):
            day_id = self._id()
            activities = []
            for _ in range(3):
                activity_id = self._id()
                pairs.append((day_id, activity_id))
                activities.append({"activityId": activity_id, "title": self._text(2), "startTime": "09:00"})
            days.append(
                {"dayId": day_id, "date": f"2026-07-0{d + 1}", "title": self._text(2), "activities": activities}
            )
        self.activities[trip] = pairs
        data = {"tripId": trip, "title": self._text(3), "ownerId": owner, "collaborators": members[1:], "days": days}
        return self._record("create_trip", owner, trip, ({"type": "trip_created", "data": data},), {"title": "t"})

    def _text(self, words: int) -> str:
        return " ".join(self.rng.choices(WORDS, k=words)).capitalize()

    def _next(self, trip: str) -> LogRecord:
        user = self.rng.choice(self.members[trip])
        kind = self.rng.random()
        if kind < 0.5:
            message = self._text(self.rng.randint(3, 20))
            data = {"messageId": self._id(), "userId": user, "name": f"user {user[-4:]}", "message": message}
            data["type"] = "text"
            payload = {"tripId": trip, "message": message, "type": "text"}
            return self._record("chat_message", user, trip, ({"type": "chat_message", "data": data},), payload)
        if kind < 0.65:
            day_id, activity_id = self.rng.choice(self.activities[trip])
            changes = {"startTime": f"{self.rng.randint(6, 22):02d}:{self.rng.choice(('00', '30'))}"}
            update = {"dayId": day_id, "activityId": activity_id, "changes": changes}
            event = {"type": "trip_updated", "data": {"updateType": "activity_updated", "data": update}}
            return self._record("trip_update", user, trip, (event,), {"tripId": trip, "updateType": "activity_updated"})
        event = {"type": "user_typing", "data": {"tripId": trip, "isTyping": True}}
        return self._record("typing", user, trip, (event,), {"tripId": trip, "isTyping": True})

    def records(self, total: int) -> Iterator[LogRecord]:
        for trip in self.trip_ids:
            yield self._create(trip)
        made = len(self.trip_ids)
        big_trip, others = self.trip_ids[0], self.trip_ids[1:]
        big_share = self.big / max(1, total - made)
        while made < total:
            # the big trip's share of the stream records (a third of the records are outside the streams)
            in_big = self.versions[big_trip] < self.big and self.rng.random() < big_share * 1.54
            yield self._next(big_trip if in_big or not others else self.rng.choice(others))
            made += 1


Row = tuple[Any, ...]
Notice = tuple[str, int]  # (user id, the record's number from 1: its position in a new log)


def rows(total: int, trips: int, users: int, big: int) -> Iterator[tuple[list[Row], list[Notice]]]:
    """The log's rows in batches of ``BATCH``, each record linked into its chain as the store links it."""
    chains = Chains(heads_cached=trips)  # one writer chain for the log, and every stream's last link
    chain = chains.batch()
    linked_records: list[LogRecord] = []
    batch: list[Row] = []
    notices: list[Notice] = []
    for number, record in enumerate(ScaleLog(trips, users, big).records(total), start=1):
        linked, body = chain.link(record)
        batch.append(log_row(linked, body))
        notices.extend((user, number) for user in recipients(linked.events))
        chain.advance(linked)
        linked_records.append(linked)
        if len(batch) == BATCH:
            chain.commit(linked_records)  # as the store does once a transaction committed
            yield batch, notices
            chain, linked_records, batch, notices = chains.batch(), [], [], []
    if batch:
        yield batch, notices


def _make_rows(queue: Any, total: int, trips: int, users: int, big: int) -> None:
    """The worker process: every batch onto ``queue``, then None (also when it fails: the loader stops)."""
    try:
        for made in rows(total, trips, users, big):
            queue.put(made)
    finally:
        queue.put(None)


def log_name(records: int, trips: int, big: int) -> str:
    """The file name of a log in a bench's data directory."""
    return f"scale-{records}-{trips}-{big}.db"


def _secondary_indexes(conn: sqlite3.Connection) -> list[tuple[str, str]]:
    """The indexes the schema made on ``log`` (name, definition); not those of UNIQUE columns."""
    return conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'log' AND sql IS NOT NULL"
    ).fetchall()


async def write_log(path: str, total: int, *, trips: int, users: int, big: int, progress: bool = True) -> float:
    """Write ``total`` records to a new SQLite store at ``path``; returns the seconds it took.

    The file is written as ``<path>.part`` and renamed once whole, so a failed run leaves no log a bench
    would take."""
    part = f"{path}.part"
    for leftover in (part, f"{part}-wal", f"{part}-shm"):
        if os.path.exists(leftover):
            os.remove(leftover)
    store = SqliteEventStore(part)
    await store.open()  # the schema
    await store.close()
    started = time.monotonic()
    conn = sqlite3.connect(part, isolation_level=None)
    conn.execute("PRAGMA journal_mode=OFF")
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute(f"PRAGMA cache_size=-{LOAD_CACHE_KIB}")
    indexes = _secondary_indexes(conn)
    for name, _ in indexes:
        conn.execute(f"DROP INDEX {name}")
    queue: Any = multiprocessing.get_context("fork").Queue(QUEUED)
    worker = multiprocessing.get_context("fork").Process(
        target=_make_rows, args=(queue, total, trips, users, big), daemon=True
    )
    worker.start()
    written = 0
    try:
        while (item := queue.get()) is not None:
            batch, notices = item
            conn.execute("BEGIN")
            conn.executemany(INSERT_ROW, batch)
            conn.executemany("INSERT INTO notices (user_id, position) VALUES (?, ?)", notices)
            conn.execute("COMMIT")
            written += len(batch)
            if progress and written % (BATCH * 25) == 0:
                rate = written / (time.monotonic() - started)
                print(f"  {written:,}/{total:,} records ({rate:,.0f}/s)", flush=True)
    finally:
        worker.join(timeout=10)
        if worker.is_alive():
            worker.terminate()
    if worker.exitcode != 0 or written != total:
        raise RuntimeError(f"the row maker stopped after {written:,} of {total:,} records (exit {worker.exitcode})")
    loaded = time.monotonic()
    for _name, sql in indexes:
        conn.execute(sql)
    if progress:
        print(
            f"  {written:,} rows in {loaded - started:,.0f} s, indexes in {time.monotonic() - loaded:,.0f} s",
            flush=True,
        )
    conn.execute("PRAGMA journal_mode=WAL")
    conn.close()  # the last connection: nothing is left in a -wal file
    os.replace(part, path)
    return time.monotonic() - started


def main(argv: list[str]) -> int:
    """Write a log apart from the bench (``scale_bench`` then finds it in ``--data`` by its name)."""
    parser = argparse.ArgumentParser(prog="python -m bench.scale_log", description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--trips", type=int, default=2000)
    parser.add_argument("--users", type=int, default=5000)
    parser.add_argument("--big", type=int, default=100_000)
    parser.add_argument("--data", required=True, help="the directory (scale_bench's --data)")
    opts = parser.parse_args(argv)
    os.makedirs(opts.data, exist_ok=True)
    path = os.path.join(opts.data, log_name(opts.records, opts.trips, opts.big))
    if os.path.exists(path):
        parser.error(f"{path} exists")
    seconds = asyncio.run(write_log(path, opts.records, trips=opts.trips, users=opts.users, big=opts.big))
    size = os.path.getsize(path)
    print(
        f"{path}: {opts.records:,} records in {seconds:,.1f} s ({opts.records / seconds:,.0f} records/s),"
        f" {size / 2**20:,.0f} MiB ({size / opts.records:,.0f} bytes/record)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
