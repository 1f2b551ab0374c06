"""``python -m bench.faults``: faults injected from the outside into two real nodes
under traffic, and every answer compared with what the log holds.

Two server processes share a store (one SQLite file, or the nx-27017 MongoDB wire
server) and a private ``redis-server``.  Clients, split over the two nodes, send
commands with unique ``ref``s without waiting for their answers; each trip's stream
is read back over REST (``GET /api/trips/{id}/events``) afterwards and every
acknowledgement is looked up in it.  A client whose connection closes (1001, a killed
node) reconnects, to the other node first, and resends every command it has no
answer to with the same ``ref`` (the contract: a repeated ``ref`` is answered with
the original).  A refusal is an answer: a refused command is not resent.

Faults (``--faults``, default all):

    pairs     no fault: each client sends ``day_added`` and at once ``activity_added``
              into that day (issue #22 item 1); any refusal fails it
    kill9     one node SIGKILLed under traffic
    sigterm   one node sent SIGTERM under traffic (it drains)
    redis     the redis-server SIGKILLed, restarted on its port after ``--outage`` s
    mongo     the nx-27017 server SIGKILLed, restarted on its port after the outage
    disk      the SQLite file's file system (a small tmpfs) filled up, freed after the outage

Per fault it prints: commands sent, acknowledged, lost (acknowledged, not in the
log), duplicated (in the log twice), out of order (a connection's commands in the log
in another order than sent), refused (by code), refused yet stored, unanswered (no
answer even after resends), answers that disagree with the log, deliveries out of
order, spurious presence announcements, /healthz during the fault, and the time to
recover (from the fault's end until every client has a command sent since then
acknowledged), and the slowest answer (from a command's first send to its first
answer), of all commands and of those sent while the fault lasted.  Exit status 1 when
any fault shows a lost, duplicated, reordered or unanswered command, a refused command
that was stored, an answer that disagrees with the log, a refusal in ``pairs``, or,
while the store is down (``mongo``, ``disk``), a command answered more than
``FAIL_FAST_BOUND`` s after it was sent (the nodes' ``--store-timeout``, 1 s, and a
margin): fail fast, every command, not only the first.  The e2e group
``tests/e2e/test_faults.py`` runs short versions of the same faults.

    python -m bench.faults                              # every fault, the issue's load
    python -m bench.faults --faults kill9,redis --duration 10
    python -m bench.faults --faults pairs,kill9,sigterm,redis --store mongo   # the same on nx-27017
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
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import websockets

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests import mongo_server  # noqa: E402
from tests.redis_server import PrivateRedis  # noqa: E402
from tests.server import ServerProcess, object_id, token  # noqa: E402

FAULTS = ("pairs", "kill9", "sigterm", "redis", "mongo", "disk")
STREAM_EVENTS = ("chat_message", "trip_updated")
# generous rate limits: what is measured is the faults, not the abuse guards
FIRST_DATE = dt.date(2027, 1, 1)
NODE_FLAGS = [
    *("--rate-burst", "10000", "--rate-per-second", "10000", "--abuse-refusals", "100000"),
    *("--max-trip-days", "100000", "--max-trip-bytes", "67108864", "--outbound-max-bytes", "268435456"),
]
TMPFS_SIZE = "32m"
STORE_DOWN = frozenset({"mongo", "disk"})  # faults during which every command must be answered fast
FAIL_FAST_BOUND = 2.0  # seconds from send to answer while the store is down: --store-timeout 1 s, and a margin


def _owed_fast(command: Command, cleared_at: float, fail_fast: float) -> bool:
    """Whether a command sent while the store was down owed its answer within ``fail_fast``:
    a refusal always does; so does an acknowledgement of a command the store was down for
    the whole of that time.  One sent just before the repair may have been written once the
    store answered again, and a write sent cannot be refused before its outcome is known."""
    return command.refused is not None or command.sent_at + fail_fast <= cleared_at


# commands and clients ---------------------------------------------------------------


@dataclass
class Command:
    ref: str
    event: str
    data: dict[str, Any]
    sent_at: float = 0.0  # first sent
    node: int = 0  # where first sent
    sends: int = 0
    acked_seq: int | None = None
    refused: str | None = None  # the error code
    answered_at: float | None = None
    disagreeing: int = 0  # later answers that differ from the first

    @property
    def answered(self) -> bool:
        return self.acked_seq is not None or self.refused is not None


@dataclass
class Connection:
    node: int
    opened_at: float
    close_code: int | None = None
    delivered: list[int] = field(default_factory=list)  # stream seqs, in arrival order


class Actor:
    """One client (one user): one connection at a time, reconnecting and resending."""

    def __init__(self, index: int, user: str, trip_id: str, nodes: list[ServerProcess], home: int) -> None:
        self.name = f"c{index:02d}"
        self.index = index
        self.user = user
        self.trip_id = trip_id
        self.nodes = nodes
        self.node = home
        self.commands: list[Command] = []
        self.by_ref: dict[str, Command] = {}
        self.connections: list[Connection] = []
        self.presence: list[tuple[float, str, str]] = []  # (when, event, whose)
        self.ready = asyncio.Event()
        self.done = asyncio.Event()  # stop: close and do not reconnect
        self._ws: Any = None
        self._counter = itertools.count()
        self._joins = itertools.count()

    # the connection ------------------------------------------------------------------

    async def run(self) -> None:
        failures = 0
        while not self.done.is_set():
            node = self.node
            try:
                ws = await asyncio.wait_for(
                    websockets.connect(
                        f"{self.nodes[node].ws_base}/ws?token={token(self.user)}", max_size=None, open_timeout=5
                    ),
                    6,
                )
            except Exception:  # refused, reset, timed out, a handshake answered with an error status
                failures += 1
                self.node = (node + 1) % len(self.nodes)  # try the other one
                await asyncio.sleep(min(0.05 * failures, 0.5))
                continue
            conn = Connection(node, time.monotonic())
            self.connections.append(conn)
            self._ws = ws
            try:
                if await self._join(ws, conn):
                    failures = 0
                    await self._resend(ws)
                    self.ready.set()
                    async for raw in ws:
                        self._on_frame(json.loads(raw), conn)
            except (websockets.ConnectionClosed, TimeoutError):  # closed, or no answer to the join in time
                pass
            finally:
                self.ready.clear()
                self._ws = None
                conn.close_code = ws.close_code
                with contextlib.suppress(Exception):
                    await ws.close()
            if not self.done.is_set():
                self.node = (node + 1) % len(self.nodes)  # a closed connection goes to the other node first
                await asyncio.sleep(0.05)

    async def _join(self, ws: Any, conn: Connection) -> bool:
        connected = json.loads(await asyncio.wait_for(ws.recv(), 5))
        if connected["event"] != "connected":
            raise RuntimeError(f"the first frame is not `connected`: {connected}")
        ref = f"join-{next(self._joins)}"
        await ws.send(json.dumps({"event": "join_trip_room", "data": {"tripId": self.trip_id}, "ref": ref}))
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            frame = json.loads(await asyncio.wait_for(ws.recv(), max(0.01, deadline - time.monotonic())))
            if frame.get("ref") == ref:
                if frame["event"] == "trip_room_joined":
                    return True
                await ws.close()  # refused (say the store is down): try again
                await asyncio.sleep(0.2)
                return False
            self._on_frame(frame, conn)
        await ws.close()
        return False

    async def _resend(self, ws: Any) -> None:
        """Every command without an answer, in the order first sent, with its ref."""
        for command in self.commands:
            if not command.answered:
                command.sends += 1
                await ws.send(json.dumps({"event": command.event, "data": command.data, "ref": command.ref}))

    def _on_frame(self, frame: dict[str, Any], conn: Connection) -> None:
        event, data, ref = frame["event"], frame.get("data") or {}, frame.get("ref")
        command = self.by_ref.get(ref) if ref is not None else None
        # a resend may be answered with an old seq
        if event in STREAM_EVENTS and "seq" in data and (command is None or command.sends == 1):
            conn.delivered.append(int(data["seq"]))
        if event in ("user_joined", "user_left"):
            self.presence.append((time.monotonic(), event, data.get("userId", "")))
        if command is None:
            return
        if event == "error":
            answer: tuple[int | None, str | None] = (None, str(data.get("code")))
        elif event in STREAM_EVENTS and "seq" in data:
            answer = (int(data["seq"]), None)
        else:
            return
        if not command.answered:
            command.acked_seq, command.refused = answer
            command.answered_at = time.monotonic()
        elif (command.acked_seq, command.refused) != answer:
            command.disagreeing += 1

    # sending ---------------------------------------------------------------------------

    async def send(self, event: str, data: dict[str, Any], ref: str) -> bool:
        """Send a new command now, if connected (a disconnected client sends nothing new)."""
        ws = self._ws
        if ws is None or not self.ready.is_set():
            return False
        command = Command(ref, event, data, time.monotonic(), self.node, 1)
        self.commands.append(command)
        self.by_ref[ref] = command
        with contextlib.suppress(websockets.ConnectionClosed):  # unanswered: resent on the next connection
            await ws.send(json.dumps({"event": event, "data": data, "ref": ref}))
        return True

    async def chat(self) -> None:
        ref = f"{self.name}-m{next(self._counter)}"
        await self.send("chat_message", {"tripId": self.trip_id, "message": ref}, ref)

    async def day_then_activity(self) -> None:
        n = next(self._counter)
        day_id = f"{self.index + 1:06x}{n:018x}"
        day_ref, activity_ref = f"{self.name}-d{n}", f"{self.name}-a{n}"
        # one date per day: a trip holds one day per date
        date = (FIRST_DATE + dt.timedelta(days=n * 64 + self.index)).isoformat()
        day = {"updateType": "day_added", "data": {"day": {"date": date, "title": day_ref, "dayId": day_id}}}
        if await self.send("trip_update", {"tripId": self.trip_id, **day}, day_ref):
            activity = {"updateType": "activity_added", "data": {"dayId": day_id, "activity": {"title": activity_ref}}}
            await self.send("trip_update", {"tripId": self.trip_id, **activity}, activity_ref)

    def unanswered(self) -> int:
        return sum(1 for c in self.commands if not c.answered)


def ref_of(event: dict[str, Any]) -> str | None:
    """The ref a stream event was sent with (the harness writes it into the content)."""
    data = event["data"]
    if event["type"] == "chat_message":
        return str(data["message"])
    if event["type"] == "trip_updated":
        inner = data.get("data") or {}
        item = inner.get("day") or inner.get("activity") or {}
        title = item.get("title")
        return str(title) if title is not None else None
    return None


# the cluster -------------------------------------------------------------------------


def _get(url: str, bearer: str | None = None, timeout: float = 10) -> tuple[int, Any]:
    request = urllib.request.Request(url)
    if bearer is not None:
        request.add_header("Authorization", f"Bearer {bearer}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as err:
        return err.code, None
    except OSError:  # refused, reset, timed out: no answer
        return 0, None


class Cluster:
    """Two nodes on one store and one private Redis; every process stopped by pid."""

    def __init__(self, work: Path, store: str, *, grace: float) -> None:
        self.work = work
        self.store = store  # "sqlite", "mongo" or "tmpfs" (SQLite on a small file system of its own)
        self.grace = grace
        self.redis = PrivateRedis(work / "redis")
        self.mongo: mongo_server.Nx27017 | None = None
        self.tmpfs: Path | None = None
        self.nodes: list[ServerProcess] = []

    async def __aenter__(self) -> Cluster:
        try:
            await asyncio.to_thread(self.redis.start)
            store_url = await self._store_url()
            flags = [*NODE_FLAGS, "--shutdown-grace", str(self.grace), "--redis", self.redis.url]
            flags += ["--redis-prefix", "faults", "--log-level", "WARNING"]
            self.nodes = [ServerProcess(store_url, args=[*flags, "--node-id", f"node-{n}"]) for n in "ab"]
            for node in self.nodes:
                node.start(self.work, wait=False)
            for node in self.nodes:
                await asyncio.to_thread(node.wait_ready)
        except BaseException:
            await self.__aexit__()
            raise
        return self

    async def _store_url(self) -> str:
        if self.store == "mongo":
            from eventlog.mongo_store import MongoEventStore

            self.mongo = mongo_server.Nx27017(self.work / "nx-27017")
            base = await asyncio.to_thread(self.mongo.start)
            database = mongo_server.unique_database("faults")
            store = MongoEventStore(base, database=database, migrate=True)
            await store.open()  # the schema, once, before any node starts
            await store.close()
            return f"{base.rstrip('/')}/{database}"
        directory = self.work
        if self.store == "tmpfs":
            self.tmpfs = directory = self.work / "tmpfs"
            directory.mkdir()
            try:
                mounted = subprocess.run(
                    ["mount", "-t", "tmpfs", "-o", f"size={TMPFS_SIZE}", "tmpfs", str(directory)],
                    capture_output=True,
                    check=False,
                )
                why = mounted.stderr.decode(errors="replace").strip() if mounted.returncode != 0 else None
            except OSError as exc:  # no mount(8) here
                why = str(exc)
            if why is not None:
                self.tmpfs = None
                raise Unavailable(f"cannot mount a tmpfs (root needed): {why}")
        return f"sqlite:///{directory}/events.db"

    async def __aexit__(self, *exc: object) -> None:
        for node in self.nodes:
            await asyncio.to_thread(node.stop, signal.SIGTERM, 10)
        self.redis.stop()
        if self.mongo is not None:
            self.mongo.stop()
        if self.tmpfs is not None:
            subprocess.run(["umount", "-l", str(self.tmpfs)], capture_output=True, check=False)

    def alive(self) -> list[ServerProcess]:
        return [n for n in self.nodes if n.proc is not None and n.proc.poll() is None]

    def fill_disk(self) -> None:
        assert self.tmpfs is not None
        chunk = b"\0" * (1 << 16)
        with contextlib.suppress(OSError), (self.tmpfs / "filler").open("wb") as filler:
            while True:
                filler.write(chunk)
                filler.flush()

    def free_disk(self) -> None:
        assert self.tmpfs is not None
        (self.tmpfs / "filler").unlink(missing_ok=True)


class Unavailable(Exception):
    """This machine cannot inject the fault (say, no permission to mount)."""


# one run -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Load:
    clients: int = 16
    rate: float = 96.0  # commands (or pairs) per second over all clients
    duration: float = 20.0  # seconds of traffic
    fault_at: float = 5.0  # seconds into the traffic
    outage: float = 5.0  # seconds the fault lasts (where it can be repaired)
    settle: float = 20.0  # seconds to wait for the last answers
    members: int = 4  # clients per trip
    grace: float = 5.0  # the nodes' --shutdown-grace
    after_repair: float = 2.0  # seconds of traffic at least after the fault is repaired (a restart may be slow)
    fail_fast: float = FAIL_FAST_BOUND  # seconds: a slower answer to a command sent while the store is down fails


@dataclass
class Result:
    fault: str
    store: str
    sent: int = 0
    acknowledged: int = 0
    lost: int = 0
    duplicated: int = 0
    out_of_order: int = 0
    refused: dict[str, int] = field(default_factory=dict)
    refused_stored: int = 0
    unanswered: int = 0
    unanswered_stored: int = 0
    resent: int = 0
    answered_after_resend: int = 0
    disagreeing: int = 0
    activity_refused_after_its_day: int = 0  # `activity_added` refused although its `day_added` was acknowledged
    delivered_out_of_order: int = 0
    spurious_presence: int = 0
    health: str = ""
    recover_s: float | None = None
    worst_answer_s: float | None = None  # the slowest answer, from first send to first answer
    worst_in_fault_s: float | None = None  # the same, of the commands first sent while the fault lasted
    late: int = 0  # sent while the store was down, answered more than FAIL_FAST_BOUND s later (``_owed_fast``)
    skipped: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def refusals(self) -> int:
        return sum(self.refused.values())

    def failures(self) -> list[str]:
        bad = [
            name
            for name in (
                "lost",
                "duplicated",
                "out_of_order",
                "unanswered",
                "refused_stored",
                "disagreeing",
                "activity_refused_after_its_day",
                "late",
            )
            if getattr(self, name)
        ]
        if self.fault == "pairs" and self.refusals:
            bad.append("refused")
        return bad


Injection = Callable[[Cluster], Awaitable[None]]


async def _kill_node(cluster: Cluster) -> None:
    await asyncio.to_thread(cluster.nodes[1].kill)


async def _sigterm_node(cluster: Cluster) -> None:
    node = cluster.nodes[1]
    assert node.proc is not None
    node.proc.send_signal(signal.SIGTERM)  # it drains while traffic goes on; reaped at the end


async def _stop_redis(cluster: Cluster) -> None:
    cluster.redis.stop()


async def _start_redis(cluster: Cluster) -> None:
    await asyncio.to_thread(cluster.redis.start)


async def _kill_mongo(cluster: Cluster) -> None:
    assert cluster.mongo is not None
    await asyncio.to_thread(cluster.mongo.kill)


async def _start_mongo(cluster: Cluster) -> None:
    mongo = cluster.mongo
    assert mongo is not None
    await asyncio.to_thread(mongo.start, 3, port=mongo.port)


async def _fill_disk(cluster: Cluster) -> None:
    await asyncio.to_thread(cluster.fill_disk)


async def _free_disk(cluster: Cluster) -> None:
    cluster.free_disk()


# fault -> (store, inject, repair or None when nothing is repaired)
PLANS: dict[str, tuple[str, Injection | None, Injection | None]] = {
    "pairs": ("sqlite", None, None),
    "kill9": ("sqlite", _kill_node, None),
    "sigterm": ("sqlite", _sigterm_node, None),
    "redis": ("sqlite", _stop_redis, _start_redis),
    "mongo": ("mongo", _kill_mongo, _start_mongo),
    "disk": ("tmpfs", _fill_disk, _free_disk),
}


class HealthWatch:
    """``/healthz`` of every node, four times a second: what each answered and how fast."""

    def __init__(self, nodes: list[ServerProcess]) -> None:
        self.nodes = nodes
        self.samples: list[tuple[float, int, int, float]] = []  # (when, node, status, seconds)
        self._stop = asyncio.Event()

    async def run(self) -> None:
        while not self._stop.is_set():
            for n, node in enumerate(self.nodes):
                if node.proc is None or node.proc.poll() is not None:
                    continue
                began = time.monotonic()
                status, _ = await asyncio.to_thread(_get, f"{node.base}/healthz", None, 3)
                self.samples.append((began, n, status, time.monotonic() - began))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), 0.25)

    def stop(self) -> None:
        self._stop.set()

    def summary(self, since: float, until: float) -> str:
        during = [s for s in self.samples if since <= s[0] <= until]
        if not during:
            return "-"
        statuses = Counter(status for _, _, status, _ in during)
        slowest = max(seconds for *_, seconds in during)
        return "/".join(f"{k}x{v}" for k, v in sorted(statuses.items())) + f" max {slowest:.2f}s"


async def run_fault(fault: str, load: Load, *, work: Path, store: str | None = None) -> Result:
    """Run one fault under ``load`` and compare every answer with the log."""
    planned_store, inject, repair = PLANS[fault]
    store = store or planned_store
    result = Result(fault, store)
    try:
        async with Cluster(work, store, grace=load.grace) as cluster:
            await _traffic(cluster, fault, load, inject, repair, result)
    except Unavailable as why:
        result.skipped = str(why)
    return result


async def _traffic(
    cluster: Cluster, fault: str, load: Load, inject: Injection | None, repair: Injection | None, result: Result
) -> None:
    nodes = cluster.nodes
    users = [object_id(0xFA000 + n) for n in range(load.clients)]
    actors: list[Actor] = []
    for first in range(0, load.clients, load.members):
        members = users[first : first + load.members]
        status, trip = nodes[0].request(
            "POST", "/api/trips", body={"title": "faults", "collaborators": members[1:]}, bearer=token(members[0])
        )
        assert status == 201, trip
        for n, user in enumerate(members, start=first):
            actors.append(Actor(n, user, trip["tripId"], nodes, n % len(nodes)))
    running = [asyncio.ensure_future(a.run()) for a in actors]
    health = HealthWatch(nodes)
    watching = asyncio.ensure_future(health.run())
    try:
        await asyncio.wait_for(asyncio.gather(*(a.ready.wait() for a in actors)), 30)
        setup_done = time.monotonic()
        interval = load.clients / load.rate  # each client's period
        began = time.monotonic()
        fault_task: asyncio.Task[tuple[float, float]] | None = None
        if inject is not None:
            fault_task = asyncio.ensure_future(_fault(cluster, began + load.fault_at, load.outage, inject, repair))
        # traffic goes on until the fault is repaired, and ``after_repair`` seconds more
        until = [began + load.duration if fault_task is None else float("inf")]
        senders = [
            asyncio.ensure_future(_send_loop(a, fault, began, until, interval, k / load.clients))
            for k, a in enumerate(actors)
        ]
        injected_at, cleared_at = began, began
        if fault_task is not None:
            injected_at, cleared_at = await fault_task
            until[0] = max(began + load.duration, cleared_at + load.after_repair)
        await asyncio.gather(*senders)
        deadline = time.monotonic() + load.settle
        while any(a.unanswered() for a in actors) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        health.stop()
        closing = time.monotonic()
        for actor in actors:
            actor.done.set()
            ws = actor._ws
            if ws is not None:
                await ws.close()
        await asyncio.wait(running, timeout=10)
        await watching
        result.health = health.summary(injected_at, cleared_at + 1.0) if inject is not None else "-"
        await _compare(cluster, actors, result, (setup_done + 1.0, closing), injected_at, cleared_at, load.fail_fast)
    finally:
        for task in (*running, watching):
            task.cancel()


async def _fault(
    cluster: Cluster, at: float, outage: float, inject: Injection, repair: Injection | None
) -> tuple[float, float]:
    await asyncio.sleep(max(0.0, at - time.monotonic()))
    injected_at = time.monotonic()
    await inject(cluster)
    if repair is None:
        return injected_at, injected_at
    await asyncio.sleep(max(0.0, injected_at + outage - time.monotonic()))
    await repair(cluster)
    return injected_at, time.monotonic()


async def _send_loop(actor: Actor, fault: str, began: float, until: list[float], interval: float, phase: float) -> None:
    next_at = began + phase * interval + random.uniform(0, interval / 4)
    while next_at < until[0]:
        await asyncio.sleep(max(0.0, next_at - time.monotonic()))
        if fault == "pairs":
            await actor.day_then_activity()
        else:
            await actor.chat()
        next_at += interval


async def _compare(
    cluster: Cluster,
    actors: list[Actor],
    result: Result,
    watched: tuple[float, float],
    injected_at: float,
    cleared_at: float,
    fail_fast: float = FAIL_FAST_BOUND,
) -> None:
    """Every answer against the streams read back; ``watched``: when presence must be quiet;
    ``fail_fast``: the slowest answer allowed while the store is down."""
    reader = cluster.alive()[0]
    streams: dict[str, list[dict[str, Any]]] = {}
    for actor in actors:
        if actor.trip_id not in streams:
            streams[actor.trip_id] = await asyncio.to_thread(_read_stream, reader, actor.trip_id, actor.user)
    stored: dict[str, list[int]] = {}
    for events in streams.values():
        for event in events:
            ref = ref_of(event)
            if ref is not None:
                stored.setdefault(ref, []).append(int(event["seq"]))
    refused: Counter[str] = Counter()
    reconnected = {a.user for a in actors if len(a.connections) > 1}
    recover: list[float] = []
    presence_notes: Counter[str] = Counter()
    refused_at: list[float] = []
    delays: list[float] = []
    in_fault: list[tuple[float, Command]] = []
    for actor in actors:
        previous = -1
        for command in actor.commands:
            seqs = stored.get(command.ref, [])
            result.sent += 1
            if command.answered_at is not None:
                delay = command.answered_at - command.sent_at
                delays.append(delay)
                if injected_at <= command.sent_at < cleared_at:
                    in_fault.append((delay, command))
                    result.late += (
                        result.fault in STORE_DOWN and delay > fail_fast and _owed_fast(command, cleared_at, fail_fast)
                    )
            result.resent += command.sends > 1
            result.disagreeing += command.disagreeing
            result.duplicated += len(seqs) > 1
            if command.acked_seq is not None:
                result.acknowledged += 1
                result.answered_after_resend += command.sends > 1
                if not seqs:
                    result.lost += 1
                elif command.acked_seq not in seqs:
                    result.disagreeing += 1
            elif command.refused is not None:
                refused[command.refused] += 1
                refused_at.append((command.answered_at or 0.0) - injected_at)
                result.refused_stored += bool(seqs)
            else:
                result.unanswered += 1
                result.unanswered_stored += bool(seqs)
            if seqs:
                if seqs[0] < previous:
                    result.out_of_order += 1
                previous = max(previous, seqs[0])
        for command in actor.commands:
            day = actor.by_ref.get(command.ref.replace("-a", "-d", 1)) if "-a" in command.ref else None
            if day is not None and day.acked_seq is not None and command.refused == "VALIDATION_ERROR":
                result.activity_refused_after_its_day += 1
        for conn in actor.connections:
            result.delivered_out_of_order += sum(1 for a, b in itertools.pairwise(conn.delivered) if b <= a)
        # announced joins or leaves of someone who never reconnected (the first joins settled)
        spurious = [
            (event, at)
            for at, event, whose in actor.presence
            if watched[0] < at < watched[1] and whose not in reconnected
        ]
        result.spurious_presence += len(spurious)
        presence_notes.update(f"{event} {at - injected_at:+.1f}s" for event, at in spurious)
        fresh = [c for c in actor.commands if c.sent_at >= cleared_at and c.acked_seq is not None]
        if fresh:
            recover.append(min(c.answered_at or 0.0 for c in fresh) - cleared_at)
        elif any(c.sent_at >= cleared_at for c in actor.commands):
            recover.append(float("inf"))
    result.refused = dict(refused)
    if refused_at:
        outage = cleared_at - injected_at
        before = sum(1 for t in refused_at if t < 0)
        during = sum(1 for t in refused_at if 0 <= t <= outage + 1.0)
        result.notes.append(
            f"refusals answered from {min(refused_at):+.1f}s to {max(refused_at):+.1f}s after the fault "
            f"(repaired at {outage:+.1f}s): {before} before it, {during} until 1 s after the repair, "
            f"{len(refused_at) - before - during} later"
        )
    if presence_notes:
        result.notes.append(f"spurious presence (event, since the fault): {dict(sorted(presence_notes.items()))}")
    result.recover_s = round(max(recover), 2) if recover else None
    result.worst_answer_s = round(max(delays), 2) if delays else None
    if in_fault:
        in_fault.sort(key=lambda late: -late[0])
        result.worst_in_fault_s = round(in_fault[0][0], 2)
        result.notes.append(
            "slowest answers to commands sent during the fault: "
            + ", ".join(
                f"{c.ref} node {c.node} sent {c.sent_at - injected_at:+.2f}s answered {delay:.2f}s later"
                f" ({c.refused or 'acknowledged'})"
                for delay, c in in_fault[:3]
            )
        )


def _read_stream(server: ServerProcess, trip_id: str, user: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    after = 0
    while True:
        status, body = _get(f"{server.base}/api/trips/{trip_id}/events?after={after}&limit=1000", token(user), 30)
        if status != 200:
            raise RuntimeError(f"reading the stream of {trip_id} answered {status}")
        events.extend(body["events"])
        if body["next"] is None:
            return events
        after = body["next"]


# the command line --------------------------------------------------------------------

COLUMNS = (
    ("fault", "fault"),
    ("store", "store"),
    ("sent", "sent"),
    ("acked", "acknowledged"),
    ("lost", "lost"),
    ("dup", "duplicated"),
    ("order", "out_of_order"),
    ("refused", "refusals"),
    ("unanswered", "unanswered"),
    ("resent", "resent"),
    ("recover s", "recover_s"),
    ("slowest s", "worst_answer_s"),
    ("in fault s", "worst_in_fault_s"),
    ("late", "late"),
)


def table(results: list[Result]) -> str:
    rows = [[title for title, _ in COLUMNS]]
    for r in results:
        if r.skipped is not None:
            rows.append([r.fault, r.store, f"skipped: {r.skipped}"])
            continue
        rows.append([str(getattr(r, name)) for _, name in COLUMNS])
    widths = [max(len(row[i]) for row in rows if i < len(row)) for i in range(len(COLUMNS))]
    lines = [
        "  ".join(cell.rjust(widths[i]) if i > 1 else cell.ljust(widths[i]) for i, cell in enumerate(row))
        for row in rows
    ]
    for r in results:
        if r.skipped is None:
            lines.append(
                f"{r.fault}: refused {r.refused or {}}, refused yet stored {r.refused_stored}, "
                f"unanswered yet stored {r.unanswered_stored}, answered after a resend {r.answered_after_resend}, "
                f"answers disagreeing with the log {r.disagreeing}, activities refused although their day "
                f"was acknowledged {r.activity_refused_after_its_day}, deliveries out of order "
                f"{r.delivered_out_of_order}, spurious presence {r.spurious_presence}, /healthz during the fault "
                f"{r.health}"
                + "".join(f"; {note}" for note in r.notes)
                + (f"; FAILED: {', '.join(r.failures())}" if r.failures() else "")
            )
    return "\n".join(lines)


@contextlib.contextmanager
def workdir(keep: bool) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="ts-faults-"))
    try:
        yield path
    finally:
        if keep:
            print(f"kept {path} (the nodes' logs)", flush=True)
        else:
            shutil.rmtree(path, ignore_errors=True)


async def run_all(
    faults: list[str], load: Load, outages: dict[str, float], keep: bool = False, store: str | None = None
) -> list[Result]:
    results = []
    for fault in faults:
        with workdir(keep) as work:
            print(f"== {fault}", flush=True)
            started = time.monotonic()
            result = await run_fault(
                fault, Load(**{**asdict(load), "outage": outages.get(fault, load.outage)}), work=work, store=store
            )
            print(json.dumps({**asdict(result), "seconds": round(time.monotonic() - started, 1)}), flush=True)
            results.append(result)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.faults", description=__doc__.split("\n\n")[0])
    parser.add_argument("--faults", default=",".join(FAULTS), help=f"comma list of {', '.join(FAULTS)}")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--rate", type=float, default=96.0, help="commands per second over all clients")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of traffic per fault")
    parser.add_argument("--fault-at", type=float, default=5.0, help="seconds into the traffic")
    parser.add_argument("--outage", type=float, default=None, help="seconds (default: redis 5, mongo 10, disk 5)")
    parser.add_argument(
        "--pairs-rate", type=float, default=32.0, help="pairs per second in `pairs` (8 clients, 0.25 s)"
    )
    parser.add_argument("--keep", action="store_true", help="keep each fault's directory (the nodes' logs)")
    parser.add_argument(
        "--store",
        choices=("sqlite", "mongo"),
        default=None,
        help="the store for pairs, kill9, sigterm and redis (default SQLite; mongo and disk have their own)",
    )
    args = parser.parse_args(argv)
    faults = [f for f in args.faults.split(",") if f]
    unknown = set(faults) - set(FAULTS)
    if unknown:
        parser.error(f"unknown faults: {', '.join(sorted(unknown))}")
    outages = {"redis": 5.0, "mongo": 10.0, "disk": 5.0}
    if args.outage is not None:
        outages = dict.fromkeys(outages, args.outage)
    load = Load(clients=args.clients, rate=args.rate, duration=args.duration, fault_at=args.fault_at)
    results: list[Result] = []
    for fault in faults:
        fault_load = load
        if fault == "pairs":
            fault_load = Load(**{**asdict(load), "clients": 8, "rate": args.pairs_rate})
        store = args.store if fault in ("pairs", "kill9", "sigterm", "redis") else None
        results += asyncio.run(run_all([fault], fault_load, outages, args.keep, store))
    print(table(results))
    failed = [r for r in results if r.failures()]
    return 1 if failed else 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
