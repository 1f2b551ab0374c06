"""Replay benchmark: how fast the log folds back into the read side, and in how much memory.

    python -m bench.replay_bench                      # 1,000,000 events, SQLite
    python -m bench.replay_bench --events 100000      # smaller
    python -m bench.replay_bench --store mongo        # MongoDB (nx-27017 unless --mongo-url)
    python -m bench.replay_bench --store both

Generates a log of mixed records directly through the store adapter (batched
appends, no server): thousands of trips, chat-heavy (about half the records are
chat messages, most of which notify the members who are not in the room), room
signals, connections, trip updates of every type, notifications read, admin
notifications, and refused commands.  Every stream event comes from the domain's
``decide``/``evolve``, so the log is one the service could have written.  A
generated log is kept (``--data``) and reused when asked for again with the same
size and seed.

Then, in a fresh process pinned to one core (so its peak RSS is the replay's
alone), it times:

* ``rebuild``: ``ReadSide.rebuild(compact=True)``, the position-order fold that
  ``replay`` runs first;
* ``replay``: the whole ``python app.py replay`` check (rebuild, the independent
  per-stream fold, the comparison) without the progress bar.

Prints one line per measurement and a JSON line with every figure.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import itertools
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from domain.errors import CommandRefused  # noqa: E402
from domain.trip_decider import (  # noqa: E402
    Actor,
    AddCollaborator,
    CreateTrip,
    PostChatMessage,
    UpdateTrip,
    decide,
    evolve,
    fresh_ids_for_days,
    fresh_ids_needed,
)
from domain.trip_events import event_to_json  # noqa: E402
from domain.trip_model import Trip  # noqa: E402
from eventlog.factory import open_key_store, open_store  # noqa: E402
from eventlog.ports import EventStore  # noqa: E402
from eventlog.records import ACCEPTED, REFUSED, LogRecord  # noqa: E402
from service.privacy import RecordSealer  # noqa: E402

DEFAULT_DATA = Path(tempfile.gettempdir()) / "travelsense-replay-bench"
WORDS = (
    "meet",
    "at",
    "the",
    "station",
    "tomorrow",
    "morning",
    "museum",
    "lunch",
    "booked",
    "ferry",
    "tickets",
    "sunset",
    "walk",
    "dinner",
    "near",
    "old",
    "town",
    "hotel",
    "check",
    "in",
    "late",
    "train",
    "delayed",
    "bring",
    "umbrella",
    "beach",
    "day",
    "hike",
    "trail",
    "market",
    "coffee",
    "tapas",
    "tram",
    "castle",
    "viewpoint",
    "budget",
    "cheaper",
    "option",
    "reservation",
    "confirmed",
    "cancel",
    "flight",
    "gate",
)
ADMIN = "f" * 24
START = dt.datetime(2026, 1, 5, 8, 0, tzinfo=dt.UTC)


def iso(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@dataclass
class TripSim:
    trip_id: str
    owner: str
    state: Trip | None = None
    in_room: dict[str, str] = field(default_factory=dict)  # user -> session

    @property
    def members(self) -> list[str]:
        return [self.owner, *self.state.collaborators] if self.state else [self.owner]


class LogGenerator:
    """Records as the service writes them, for a crowd of users on thousands of trips."""

    def __init__(self, seed: int, trips: int, users: int) -> None:
        self.rng = random.Random(seed)
        self.trip_count = trips
        self.users = [f"{n:024x}" for n in range(1, users + 1)]
        self.trips: list[TripSim] = []
        self.by_id: dict[str, TripSim] = {}
        self.weights: list[float] = []
        self.sessions: dict[str, str] = {}  # connected user -> session
        self.rooms: dict[str, set[str]] = {}  # user -> trips whose room they sit in
        self.unread: dict[str, deque[str]] = {}
        self._ids = itertools.count(1)
        self._now = START

    # ids and time -------------------------------------------------------------

    def new_id(self) -> str:
        return f"{int(self._now.timestamp()):08x}{next(self._ids):016x}"

    def tick(self) -> str:
        self._now += dt.timedelta(milliseconds=self.rng.randint(1, 120))
        return iso(self._now)

    def text(self, low: int, high: int) -> str:
        words = self.rng.choices(WORDS, k=self.rng.randint(low, high))
        return " ".join(words).capitalize()

    # records ----------------------------------------------------------------------

    def record(
        self, command: str, user: str | None, *, source: str = "ws", outcome: str = ACCEPTED, **fields: Any
    ) -> LogRecord:
        session = self.sessions.get(user) if (user and source == "ws") else None
        meta = fields.pop("meta", None) or {"role": "admin" if user == ADMIN else "user"}
        return LogRecord(
            record_id=self.new_id(),
            at=self.tick(),
            source=source,
            command=command,
            outcome=outcome,
            user_id=user,
            session_id=session,
            meta=meta,
            **fields,
        )

    def refused(self, command: str, user: str, code: str, message: str, **fields: Any) -> LogRecord:
        return self.record(command, user, outcome=REFUSED, error={"code": code, "message": message}, **fields)

    def stream(
        self,
        sim: TripSim,
        command: str,
        user: str,
        payload: Any,
        events: tuple[Any, ...],
        *,
        source: str = "ws",
        ref: str | None = None,
    ) -> LogRecord:
        assert sim.state is not None or command == "create_trip"
        version = (sim.state.version if sim.state else 0) + 1
        key = f"{user}:{ref}" if ref else None
        return self.record(
            command,
            user,
            source=source,
            trip_id=sim.trip_id,
            payload=payload,
            ref=ref,
            events=events,
            stream=sim.trip_id,
            version=version,
            idempotency_key=key,
        )

    def run(self, command: Any, sim: TripSim) -> tuple[Any, dict[str, Any]] | CommandRefused | None:
        """The one event the command makes, its refusal, or None (nothing to do)."""
        try:
            events = decide(sim.state, command)
        except CommandRefused as refusal:
            return refusal
        return (events[0], event_to_json(events[0])) if events else None

    def advance(self, sim: TripSim, event: Any, record: LogRecord) -> None:
        assert record.version is not None
        sim.state = evolve(sim.state, event, record.version, record.at)

    # the generator ----------------------------------------------------------------

    def create_trip(self) -> list[LogRecord]:
        owner = self.rng.choice(self.users)
        collaborators = tuple(self.rng.sample(self.users, self.rng.randint(1, 5)))
        days = [
            {
                "date": f"2026-{self.rng.randint(1, 12):02d}-{d + 1:02d}",
                "title": self.text(1, 3),
                "activities": [
                    {"title": self.text(1, 4), "startTime": f"{9 + a:02d}:00"} for a in range(self.rng.randint(0, 3))
                ],
            }
            for d in range(self.rng.randint(1, 4))
        ]
        sim = TripSim(self.new_id(), owner)
        title = self.text(2, 5)
        body: dict[str, Any] = {"title": title, "collaborators": list(collaborators), "days": days}
        command = CreateTrip(
            sim.trip_id,
            title,
            owner,
            collaborators,
            tuple(days),
            tuple(self.new_id() for _ in range(fresh_ids_for_days(days))),
        )
        outcome = self.run(command, sim)
        assert outcome is not None and not isinstance(outcome, CommandRefused)
        record = self.stream(sim, "create_trip", owner, body, (outcome[1],), source="rest")
        self.advance(sim, outcome[0], record)
        self.trips.append(sim)
        self.by_id[sim.trip_id] = sim
        self.weights.append(1.0 / (len(self.trips) ** 0.3))  # a few busy trips, many quiet ones
        return [record]

    def connect(self, user: str) -> list[LogRecord]:
        if user in self.sessions:
            return []
        self.sessions[user] = self.new_id()
        meta = {
            "role": "user",
            "ip": f"10.0.{self.rng.randint(0, 255)}.{self.rng.randint(1, 254)}",
            "userAgent": "Mozilla/5.0",
            "hidden": False,
        }
        return [self.record("connect", user, meta=meta, events=({"type": "connected", "data": {"hidden": False}},))]

    def disconnect(self, user: str) -> list[LogRecord]:
        if user not in self.sessions:
            return []
        for trip_id in self.rooms.pop(user, set()):
            self.by_id[trip_id].in_room.pop(user, None)
        record = self.record(
            "disconnect", user, events=({"type": "disconnected", "data": {"code": 1000, "reason": None}},)
        )
        del self.sessions[user]
        return [record]

    def join(self, sim: TripSim, user: str) -> list[LogRecord]:
        out = self.connect(user)
        payload = {"tripId": sim.trip_id}
        out.append(
            self.record(
                "join_trip_room",
                user,
                trip_id=sim.trip_id,
                payload=payload,
                ref=f"j{next(self._ids)}",
                events=({"type": "user_joined", "data": {"tripId": sim.trip_id, "hidden": False}},),
            )
        )
        sim.in_room[user] = self.sessions[user]
        self.rooms.setdefault(user, set()).add(sim.trip_id)
        return out

    def leave(self, sim: TripSim, user: str) -> list[LogRecord]:
        sim.in_room.pop(user, None)
        self.rooms.get(user, set()).discard(sim.trip_id)
        return [
            self.record(
                "leave_trip_room",
                user,
                trip_id=sim.trip_id,
                payload={"tripId": sim.trip_id},
                events=({"type": "user_left", "data": {"tripId": sim.trip_id}},),
            )
        ]

    def chat(self, sim: TripSim, user: str) -> list[LogRecord]:
        assert sim.state is not None
        ref = f"c{next(self._ids)}"
        payload = {
            "tripId": sim.trip_id,
            "message": self.text(2, 30),
            "type": self.rng.choice(("text",) * 8 + ("suggestion", "alert")),
        }
        outcome = self.run(
            PostChatMessage(Actor(user, name=f"user {user[-4:]}"), self.new_id(), payload["message"], payload["type"]),
            sim,
        )
        assert outcome is not None and not isinstance(outcome, CommandRefused)
        event, event_json = outcome
        notes = []
        for member in sim.members:
            if member != user and member not in sim.in_room:
                note_id = self.new_id()
                notes.append(
                    {
                        "type": "notification_created",
                        "data": {
                            "notificationId": note_id,
                            "userId": member,
                            "kind": "chat_message",
                            "tripId": sim.trip_id,
                            "messageId": event.message_id,
                            "fromUserId": user,
                            "preview": payload["message"][:100],
                        },
                    }
                )
                self.unread.setdefault(member, deque(maxlen=20)).append(note_id)
        record = self.stream(sim, "chat_message", user, payload, (event_json, *notes), ref=ref)
        self.advance(sim, event, record)
        return [record]

    def update(self, sim: TripSim, user: str) -> list[LogRecord]:
        state = sim.state
        assert state is not None
        rng = self.rng
        choices = [
            "day_added",
            "constraint_added",
            "activity_added",
            "activity_updated",
            "activity_updated",
            "activity_removed",
            "day_removed",
            "constraint_removed",
        ]
        kind = rng.choice(choices)
        if kind == "day_added" and len(state.days) >= 12:  # plans stay the size of real trips
            kind = "day_removed"
        if kind == "constraint_added" and len(state.constraints) >= 8:
            kind = "constraint_removed"
        days = state.days
        activities = [(d, a) for d in days for a in d.activities]
        data: dict[str, Any]
        if kind == "day_added" or not days or (kind == "day_removed" and len(days) < 3):
            kind, data = (
                "day_added",
                {"day": {"date": f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}", "title": self.text(1, 3)}},
            )
        elif kind == "day_removed":
            data = {"dayId": rng.choice(days).day_id}
        elif kind in ("activity_updated", "activity_removed") and activities:
            day, act = rng.choice(activities)
            data = {"dayId": day.day_id, "activityId": act.activity_id}
            if kind == "activity_updated":
                data["changes"] = rng.choice(
                    (
                        {"notes": self.text(3, 12)},
                        {"cost": rng.randint(5, 300)},
                        {"startTime": f"{rng.randint(7, 22):02d}:30"},
                    )
                )
        elif kind == "constraint_removed" and state.constraints:
            data = {"constraintId": rng.choice(state.constraints).constraint_id}
        elif kind.startswith("constraint") or len(activities) > 40:
            kind, data = (
                "constraint_added",
                {
                    "constraint": {
                        "type": rng.choice(("budget", "pace", "diet")),
                        "value": {"max": rng.randint(50, 900)},
                        "description": self.text(2, 6),
                    }
                },
            )
        else:
            kind, data = (
                "activity_added",
                {
                    "dayId": rng.choice(days).day_id,
                    "activity": {"title": self.text(1, 4), "location": self.text(1, 3), "cost": rng.randint(0, 200)},
                },
            )
        payload: dict[str, Any] = {"tripId": sim.trip_id, "updateType": kind, "data": data}
        base = None
        if rng.random() < 0.3:
            base = max(1, state.version - rng.randint(0, 6))
            payload["baseVersion"] = base
        if rng.random() < 0.05:  # a client that lost track of the plan
            kind = "day_removed" if kind != "day_removed" else kind
            data = {"dayId": self.new_id()}
            payload.update(updateType=kind, data=data)
        ref = f"u{next(self._ids)}"
        command = UpdateTrip(
            Actor(user), kind, data, base, tuple(self.new_id() for _ in range(fresh_ids_needed(kind, data)))
        )
        outcome = self.run(command, sim)
        assert outcome is not None
        if isinstance(outcome, CommandRefused):
            error: dict[str, Any] = {"code": outcome.code.value, "message": outcome.message}
            if outcome.details is not None:
                error["details"] = outcome.details
            return [
                self.record(
                    "trip_update", user, outcome=REFUSED, error=error, trip_id=sim.trip_id, payload=payload, ref=ref
                )
            ]
        record = self.stream(sim, "trip_update", user, payload, (outcome[1],), ref=ref)
        self.advance(sim, outcome[0], record)
        return [record]

    def collaborator(self, sim: TripSim) -> list[LogRecord]:
        assert sim.state is not None
        target = self.rng.choice(self.users)
        outcome = self.run(AddCollaborator(Actor(sim.owner), target), sim)
        if isinstance(outcome, CommandRefused) or outcome is None:
            return []
        record = self.stream(sim, "add_collaborator", sim.owner, {"userId": target}, (outcome[1],), source="rest")
        self.advance(sim, outcome[0], record)
        return [record]

    def signal(self, sim: TripSim, user: str, command: str, event: str, **data: Any) -> list[LogRecord]:
        """A room signal (typing, presence): recorded, outside the trip's stream."""
        body = {"tripId": sim.trip_id, **data}
        return [self.record(command, user, trip_id=sim.trip_id, payload=body, events=({"type": event, "data": body},))]

    def step(self) -> list[LogRecord]:
        rng = self.rng
        if len(self.trips) < self.trip_count and (not self.trips or rng.random() < 0.05):  # every trip early on
            return self.create_trip()
        sim = rng.choices(self.trips, self.weights)[0]
        members = sim.members
        present = list(sim.in_room)
        roll = rng.random()
        if not present or roll < 0.06:
            absent = [m for m in members if m not in sim.in_room]
            return self.join(sim, rng.choice(absent)) if absent else self.chat(sim, rng.choice(present))
        user = rng.choice(present)
        if roll < 0.55:
            return self.chat(sim, user)
        if roll < 0.72:
            return self.signal(sim, user, "typing", "user_typing", isTyping=True)
        if roll < 0.82:
            return self.update(sim, user)
        if roll < 0.85:
            return self.leave(sim, user)
        if roll < 0.87:
            return self.disconnect(user)
        if roll < 0.89:
            status = rng.choice(("online", "away", "busy"))
            return self.signal(sim, user, "presence_update", "user_presence_updated", status=status)
        if roll < 0.93:
            reader = rng.choice(members)
            unread = self.unread.get(reader)
            if unread:
                note = unread.popleft()
                return [
                    self.record(
                        "mark_notification_read",
                        reader,
                        source="rest",
                        payload={"notificationId": note},
                        events=({"type": "notification_read", "data": {"notificationId": note, "userId": reader}},),
                    )
                ]
            return []
        if roll < 0.955:  # refused: not in the room, rate limited
            outsider = rng.choice([u for u in self.users[:50] if u not in sim.in_room] or self.users)
            if rng.random() < 0.5:
                return [
                    self.refused(
                        "chat_message",
                        outsider,
                        "NOT_IN_ROOM",
                        "join the trip's room first",
                        trip_id=sim.trip_id,
                        payload={"tripId": sim.trip_id, "message": "hi", "type": "text"},
                    )
                ]
            return [
                self.refused(
                    "typing",
                    user,
                    "RATE_LIMITED",
                    "too many events, slow down",
                    trip_id=sim.trip_id,
                    payload={"tripId": sim.trip_id, "isTyping": True},
                )
            ]
        if roll < 0.965:
            target = rng.choice(members)
            note = self.new_id()
            body = {"userId": target, "kind": "booking_update", "title": self.text(2, 6)}
            self.unread.setdefault(target, deque(maxlen=20)).append(note)
            return [
                self.record(
                    "notify",
                    ADMIN,
                    source="rest",
                    payload=body,
                    events=({"type": "notification_created", "data": {"notificationId": note, **body}},),
                )
            ]
        if roll < 0.97:
            return self.collaborator(sim)
        return self.chat(sim, user)

    def records(self, total: int) -> Iterator[LogRecord]:
        made = 0
        while made < total:
            for record in self.step():
                yield record
                made += 1
                if made == total:
                    return


# building the log ----------------------------------------------------------------------


async def fill(
    store: EventStore,
    events: int,
    *,
    seed: int,
    trips: int,
    users: int,
    chunk: int = 4096,
    sealer: RecordSealer | None = None,
) -> None:
    """``sealer``: personal data sealed as the service seals it (``--sealed``)."""
    generator = LogGenerator(seed, trips, users)
    started = time.monotonic()
    pending: list[LogRecord] = []
    written = 0
    for record in generator.records(events):
        pending.append(sealer.seal(record) if sealer is not None else record)
        if len(pending) == chunk:
            await asyncio.gather(*(store.append(r) for r in pending))
            written += len(pending)
            pending.clear()
            if written % (chunk * 25) == 0:
                rate = written / (time.monotonic() - started)
                print(f"  generated {written:,}/{events:,} records ({rate:,.0f}/s)", file=sys.stderr, flush=True)
    if pending:
        await asyncio.gather(*(store.append(r) for r in pending))


def store_url(kind: str, args: argparse.Namespace, mongo_url: str | None) -> str:
    name = f"events-{args.events}-{args.trips}-{args.users}-{args.seed}" + ("-sealed" if args.sealed else "")
    if kind == "sqlite":
        return f"sqlite:///{Path(args.data).resolve()}/{name}.db"
    assert mongo_url is not None
    base, _, query = mongo_url.partition("?")
    name = f"replaybench_{args.events}_{args.trips}_{args.users}_{args.seed}" + ("_sealed" if args.sealed else "")
    return f"{base.rstrip('/')}/{name}" + (f"?{query}" if query else "")


async def ensure_log(url: str, args: argparse.Namespace) -> tuple[int, int]:
    """Generate the log at ``url`` unless it holds one already; returns how many records and events it holds."""
    store = open_store(url)
    if url.startswith("mongodb"):
        from eventlog.mongo_store import MongoEventStore

        assert isinstance(store, MongoEventStore)
        await store.migrate()
    await store.open()
    try:
        head: int = await store.head_position()  # type: ignore[attr-defined]
        if head == 0:
            print(f"generating {args.events:,} records into {url.split('@')[-1]} ...", file=sys.stderr, flush=True)
            keys = open_key_store(url) if args.sealed else None
            await fill(
                store,
                args.events,
                seed=args.seed,
                trips=args.trips,
                users=args.users,
                sealer=RecordSealer(keys) if keys is not None else None,
            )
            if keys is not None:
                keys.close()
            head = await store.head_position()  # type: ignore[attr-defined]
        elif head < args.events:
            raise SystemExit(f"{url}: holds {head} records, not {args.events}: remove it and run again")
        return int(head), await count_events(store)
    finally:
        await store.close()


async def count_events(store: EventStore) -> int:
    """How many domain events the log's records hold (a record holds one or more, or none)."""
    events, position = 0, 0
    while records := await store.read_all_slim(position, 5000):
        events += sum(len(record.events) for record in records)
        position = records[-1].position
    return events


# measuring -------------------------------------------------------------------------------


def rss_mb() -> float:
    """This process's peak resident set (VmHWM), in MiB.

    Not ``ru_maxrss``: Linux carries that over from the parent through fork and
    exec, so a measurement started by a big generating process would report the
    generator's peak.
    """
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def measure(url: str, what: str) -> dict[str, Any]:
    from analysts.scan import gc_paused
    from projections.read_side import ReadSide

    store = open_store(url)
    await store.open()
    baseline = rss_mb()
    records = 0

    def count(n: int) -> None:
        nonlocal records
        records += n

    started = time.perf_counter()
    cpu_started = time.process_time()
    try:
        if what == "rebuild":
            with gc_paused():  # as replay folds
                await ReadSide.rebuild(store, count, compact=True)
        else:
            from analysts.replay import replay

            report = await replay(store, progress=lambda phase, total, unit: count if phase == "rebuild" else _skip)
            if report.differences:
                raise SystemExit(f"replay found differences: {report.differences[:3]}")
    finally:
        await store.close()
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    return {
        "what": what,
        "records": records,
        "seconds": round(seconds, 2),
        "cpu_seconds": round(cpu, 2),
        "events_per_s": round(records / seconds),  # records per wall second (the name of older runs)
        "records_per_cpu_s": round(records / cpu),
        "peak_rss_mb": round(rss_mb(), 1),
        "baseline_rss_mb": round(baseline, 1),
    }


def _skip(n: int) -> None:
    pass


def run_measurement(url: str, what: str, core: int | None) -> dict[str, Any]:
    """In a fresh process (its peak RSS is the replay's alone), pinned to one core."""
    command = [sys.executable, "-m", "bench.replay_bench", "--measure", what, "--url", url]
    if core is not None:
        command += ["--core", str(core)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=3600, check=False)
    if done.returncode != 0:
        raise SystemExit(f"measurement failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


@contextlib.contextmanager
def mongo(url: str | None, data: Path) -> Iterator[str]:
    if url:
        yield url
        return
    from tests.mongo_server import Nx27017

    server = Nx27017(data / "nx-27017")
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.replay_bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--store", choices=("sqlite", "mongo", "both"), default="sqlite")
    parser.add_argument("--mongo-url", default=os.environ.get("MONGO_URL"), help="default: a private nx-27017")
    parser.add_argument("--trips", type=int, default=2000, help="trips in the log (the same for every size)")
    parser.add_argument("--users", type=int, default=5000, help="users in the log (the same for every size)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--data", default=str(DEFAULT_DATA), help="where generated logs are kept")
    parser.add_argument("--what", default="rebuild,replay", help="comma list of rebuild, replay")
    parser.add_argument("--sealed", action="store_true", help="personal data sealed in the log, as the service logs it")
    parser.add_argument("--core", type=int, default=0, help="the core measurements run on (-1: any)")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure:
        if args.core >= 0 and hasattr(os, "sched_setaffinity"):
            os.sched_setaffinity(0, {args.core})
        print(json.dumps(asyncio.run(measure(args.url, args.measure))))
        return 0

    data = Path(args.data)
    data.mkdir(parents=True, exist_ok=True)
    kinds = ("sqlite", "mongo") if args.store == "both" else (args.store,)
    results = []
    with contextlib.ExitStack() as stack:
        mongo_url = stack.enter_context(mongo(args.mongo_url, data)) if "mongo" in kinds else None
        for kind in kinds:
            url = store_url(kind, args, mongo_url)
            records, events = asyncio.run(ensure_log(url, args))
            for what in args.what.split(","):
                result = {
                    "store": kind,
                    "log_records": records,
                    "log_events": events,
                    **run_measurement(url, what, None if args.core < 0 else args.core),
                }
                result["domain_events_per_cpu_s"] = round(events / result["cpu_seconds"])
                results.append(result)
                print(
                    f"{kind:6} {what:8} {result['records']:>10,} records ({events:,} events)  "
                    f"{result['seconds']:>7.2f} s wall {result['cpu_seconds']:>7.2f} s CPU  "
                    f"{result['records_per_cpu_s']:>7,} records/CPU-s "
                    f"{result['domain_events_per_cpu_s']:>8,} events/CPU-s  "
                    f"peak RSS {result['peak_rss_mb']:,.0f} MiB (at start {result['baseline_rss_mb']:,.0f} MiB)",
                    flush=True,
                )
    print(json.dumps({"events": args.events, "seed": args.seed, "results": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
