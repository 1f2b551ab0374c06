"""Big logs for the scale bench, written straight into an SQLite store's table in bulk.

Not the service's command path (``bench/replay_bench.py`` simulates that, at a
few thousand records a second): rows are made here from plain templates and
inserted with ``executemany`` in large transactions, in the columns
``SqliteEventStore`` writes.  The records carry no hash chain (``verify`` would
say so); everything a node reads is as the service writes it.

The mix follows the logs the issue measured: about half the records are chat
messages, a sixth trip updates that change an existing activity (so a trip's
state keeps its size), the rest records outside the streams (typing, room
joins).  Trips get records uniformly, except ``big`` records of one trip (the
first), spread through the log.
"""

from __future__ import annotations

import random
import sqlite3
import time
from collections.abc import Iterator
from typing import Any

from eventlog.records import LogRecord, to_document
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
BATCH = 20_000


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
        return " ".join(self.rng.choice(WORDS) for _ in range(words)).capitalize()

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


def _row(record: LogRecord) -> tuple[Any, ...]:
    document = to_document(record)
    document.pop("position")
    return log_row(record, document)


async def write_log(path: str, total: int, *, trips: int, users: int, big: int, progress: bool = True) -> float:
    """Write ``total`` records to a new SQLite store at ``path``; returns the seconds it took."""
    store = SqliteEventStore(path)
    await store.open()  # the schema
    await store.close()
    started = time.monotonic()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA synchronous=OFF")
    sql = INSERT_ROW  # the store's own layout
    rows: list[tuple[Any, ...]] = []
    written = 0
    for record in ScaleLog(trips, users, big).records(total):
        rows.append(_row(record))
        if len(rows) == BATCH:
            conn.execute("BEGIN")
            conn.executemany(sql, rows)
            conn.execute("COMMIT")
            written += len(rows)
            rows.clear()
            if progress and written % (BATCH * 10) == 0:
                rate = written / (time.monotonic() - started)
                print(f"  {written:,}/{total:,} records ({rate:,.0f}/s)", flush=True)
    if rows:
        conn.execute("BEGIN")
        conn.executemany(sql, rows)
        conn.execute("COMMIT")
    conn.close()
    return time.monotonic() - started
