"""Load test: N WebSocket connections for M minutes of chat and trip updates.

Not part of the test suite.  Starts its own server (or uses ``--url`` with
``--secret``), creates one trip per room, connects every client (one user each),
joins it to its room, then for ``--minutes`` has every client send chat messages
and trip updates at ``--rate`` per second (Poisson arrivals).  Every message
carries its id and send time; every client records every frame it receives.

Reports: messages sent and acknowledged, refused, deliveries expected (each
message to every member of its room, the sender's own copy included), delivered,
lost (must be 0: the exit status is 1 otherwise), duplicated, p50/p99 delivery
and acknowledgement latency, and the server's peak memory (VmHWM, and RSS
sampled every 0.5 s) and CPU time.  Clients run in ``--processes`` worker
processes so that the load generator is not the bottleneck.

    python bench/load_test.py --connections 200 --minutes 1
    python bench/load_test.py --connections 1000 --rooms 100 --minutes 5 --rate 0.5 --processes 4
    python bench/load_test.py --url ws://127.0.0.1:8080 --secret "$JWT_SECRET" --connections 50

Every process it starts is stopped by pid; every wait is bounded.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
import websockets

ROOT = Path(__file__).resolve().parent.parent


def object_id(n: int) -> str:
    return f"{n:024x}"


def mint(secret: str, user: str, ttl: float) -> str:
    return str(
        jwt.encode(
            {"sub": user, "exp": int(time.time() + ttl), "name": f"load {int(user, 16)}"}, secret, algorithm="HS256"
        )
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# the server --------------------------------------------------------------------------------


@dataclass
class Server:
    base: str  # http://host:port
    secret: str
    proc: subprocess.Popen[bytes] | None = None
    log: Path | None = None

    @property
    def ws(self) -> str:
        return "ws" + self.base[len("http") :]

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def request(self, method: str, path: str, body: Any, bearer: str) -> Any:
        data = json.dumps(body).encode()
        req = urllib.request.Request(
            f"{self.base}{path}",
            data=data,
            method=method,
            headers={"Authorization": f"Bearer {bearer}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=30) as response:
            return json.loads(response.read())

    def stop(self) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(10)


def start_server(workdir: Path, extra: list[str], pin: str | None) -> Server:
    port = free_port()
    secret = "load-test-secret-" + os.urandom(8).hex()
    log = workdir / "server.log"
    argv = [
        sys.executable,
        str(ROOT / "app.py"),
        "--port",
        str(port),
        "--store",
        f"sqlite:///{workdir}/events.db",
        "--log-level",
        "WARNING",
        "--max-connections-per-ip",
        "1000000",
        *extra,
    ]
    if pin:
        argv = ["taskset", "-c", pin, *argv]
    with log.open("ab") as out:
        proc = subprocess.Popen(
            argv, cwd=str(workdir), env={**os.environ, "JWT_SECRET": secret}, stdout=out, stderr=subprocess.STDOUT
        )
    server = Server(f"http://127.0.0.1:{port}", secret, proc, log)
    deadline = time.monotonic() + 30
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{server.base}/healthz", timeout=1) as response:
                if response.status == 200:
                    return server
        except OSError:
            if time.monotonic() > deadline:
                server.stop()
                raise RuntimeError("server not ready after 30 s") from None
            time.sleep(0.1)


class MemoryWatch:
    """Samples the server's RSS every 0.5 s in a thread; reads its VmHWM and CPU at the end."""

    def __init__(self, pid: int | None) -> None:
        self.pid = pid
        self.peak_rss_kib = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _status(self, key: str) -> int:
        with open(f"/proc/{self.pid}/status") as status:
            for line in status:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
        return 0

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            with contextlib.suppress(OSError, ValueError):
                self.peak_rss_kib = max(self.peak_rss_kib, self._status("VmRSS"))
                self.samples += 1

    def start(self) -> MemoryWatch:
        if self.pid is not None:
            self._thread.start()
        return self

    def finish(self) -> dict[str, Any]:
        if self.pid is None:
            return {}
        self._stop.set()
        self._thread.join(2)
        out: dict[str, Any] = {"peak_rss_mib": round(self.peak_rss_kib / 1024, 1)}
        with contextlib.suppress(OSError, ValueError):
            out["vm_hwm_mib"] = round(self._status("VmHWM") / 1024, 1)
            with open(f"/proc/{self.pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            ticks = os.sysconf("SC_CLK_TCK")
            out["server_cpu_s"] = round((int(fields[11]) + int(fields[12])) / ticks, 1)
        return out


# the clients ----------------------------------------------------------------------------------


@dataclass
class Plan:
    ws: str
    secret: str
    clients: list[tuple[int, str, str]]  # (client number, user id, trip id)
    seconds: float
    rate: float
    update_share: float
    settle: float  # a client closes once it has been quiet this long after sending (and has every ack)
    settle_max: float  # ... or this long after sending, whatever is left in flight
    seed: int


@dataclass
class WorkerResult:
    sent: dict[str, tuple[float, str]] = field(default_factory=dict)  # message id -> (sent at, trip)
    acked: dict[str, float] = field(default_factory=dict)  # message id -> ack latency (s)
    received: list[tuple[str, int, float]] = field(default_factory=list)  # (message id, client, latency s)
    refused: dict[str, int] = field(default_factory=dict)  # error code -> count
    connect_failures: int = 0
    closed_early: int = 0  # closed by the server while still sending
    close_codes: dict[str, int] = field(default_factory=dict)  # "code reason" of closes the client did not ask for
    max_lag_s: float = 0.0  # how late this worker's event loop ran (the load generator saturating)
    last_frame_at: float = 0.0  # time.time() of the last delivery any client of this worker saw


@dataclass
class Clock:
    stop_at: float = float("inf")  # set when the parent says go


async def _client(
    plan: Plan,
    number: int,
    user: str,
    trip: str,
    ready: asyncio.Event,
    go: asyncio.Event,
    result: WorkerResult,
    clock: Clock,
) -> None:
    url = f"{plan.ws}/ws?token={mint(plan.secret, user, plan.seconds + 3600)}"
    try:
        ws = await websockets.connect(url, max_size=None, open_timeout=60, ping_interval=None)
    except (OSError, websockets.WebSocketException, TimeoutError):
        result.connect_failures += 1
        ready.set()
        return
    joined = asyncio.Event()
    rnd = random.Random(plan.seed * 1_000_003 + number)

    async def read() -> None:
        try:
            async for raw in ws:
                now = time.time()
                frame = json.loads(raw)
                event, data = frame["event"], frame["data"]
                if event == "trip_room_joined" and frame.get("ref") == "join":
                    joined.set()
                elif event == "chat_message":
                    _delivered(data.get("message", ""), frame, now)
                elif event == "trip_updated" and data.get("updateType") == "constraint_added":
                    _delivered(data["data"]["constraint"].get("description", ""), frame, now)
                elif event == "error":
                    code = data["code"]
                    result.refused[code] = result.refused.get(code, 0) + 1
        except websockets.ConnectionClosed as closed:
            if closing:
                return  # our own close
            code = f"{closed.rcvd.code} {closed.rcvd.reason}".strip() if closed.rcvd is not None else "1006"
            result.close_codes[code] = result.close_codes.get(code, 0) + 1
            if time.time() < clock.stop_at:
                result.closed_early += 1

    def _delivered(text: str, frame: dict[str, Any], now: float) -> None:
        if not text.startswith("m:"):
            return
        message_id, sent_at = text[2:].rsplit("@", 1)
        latency = now - float(sent_at)
        result.received.append((message_id, number, latency))
        result.last_frame_at = max(result.last_frame_at, now)
        if frame.get("ref") == message_id:
            result.acked[message_id] = latency

    mine: list[str] = []
    closing = False
    reader = asyncio.ensure_future(read())
    try:
        await ws.send(json.dumps({"event": "join_trip_room", "data": {"tripId": trip}, "ref": "join"}))
        await asyncio.wait_for(joined.wait(), 60)
        ready.set()
        await go.wait()
        n = 0
        while True:
            await asyncio.sleep(rnd.expovariate(plan.rate))
            if time.time() >= clock.stop_at:
                break
            message_id = f"{number}.{n}"
            n += 1
            text = f"m:{message_id}@{time.time():.6f}"
            if rnd.random() < plan.update_share:
                frame = {
                    "event": "trip_update",
                    "ref": message_id,
                    "data": {
                        "tripId": trip,
                        "updateType": "constraint_added",
                        "data": {"constraint": {"type": "load", "value": n, "description": text}},
                    },
                }
            else:
                frame = {"event": "chat_message", "ref": message_id, "data": {"tripId": trip, "message": text}}
            result.sent[message_id] = (time.time(), trip)
            mine.append(message_id)
            await ws.send(json.dumps(frame))
        # what is still in flight: wait for every ack, then for a quiet spell, within settle_max
        give_up = time.time() + plan.settle_max
        while time.time() < give_up:
            acked = all(m in result.acked for m in mine)
            if acked and time.time() - max(result.last_frame_at, clock.stop_at) >= plan.settle:
                break
            await asyncio.sleep(0.2)
    except (websockets.ConnectionClosed, TimeoutError):
        ready.set()
    finally:
        closing = True
        await ws.close()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await asyncio.wait_for(reader, 10)


async def _watch_lag(result: WorkerResult) -> None:
    while True:
        began = time.monotonic()
        await asyncio.sleep(0.1)
        result.max_lag_s = max(result.max_lag_s, time.monotonic() - began - 0.1)


async def _worker_main(plan: Plan, ready_queue: Any, go_event: Any, go_at: Any) -> WorkerResult:
    result = WorkerResult()
    go = asyncio.Event()
    clock = Clock()
    readies = [asyncio.Event() for _ in plan.clients]
    tasks = []
    for (number, user, trip), ready in zip(plan.clients, readies, strict=True):
        tasks.append(asyncio.ensure_future(_client(plan, number, user, trip, ready, go, result, clock)))
        await asyncio.sleep(0.002)  # do not stampede the accept queue
    await asyncio.wait_for(asyncio.gather(*(r.wait() for r in readies)), 300)
    ready_queue.put(len(plan.clients) - result.connect_failures)
    if not await asyncio.to_thread(go_event.wait, 600):
        raise TimeoutError("no go from the parent")
    clock.stop_at = go_at.value + plan.seconds
    await asyncio.sleep(max(0.0, go_at.value - time.time()))
    go.set()
    lag = asyncio.ensure_future(_watch_lag(result))
    await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), plan.seconds + plan.settle_max + 120)
    lag.cancel()
    return result


def _worker(plan: Plan, ready_queue: Any, go_event: Any, go_at: Any, results: Any) -> None:
    results.put(asyncio.run(_worker_main(plan, ready_queue, go_event, go_at)))


# the run ---------------------------------------------------------------------------------------


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def run(args: argparse.Namespace) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="load-test-"))
    server = (
        Server(args.url.replace("ws", "http", 1), args.secret)
        if args.url
        else start_server(workdir, args.server_arg or [], args.pin_server)
    )
    processes: list[Any] = []
    try:
        rooms = max(1, args.rooms or args.connections // 10)
        users = [object_id(0x10000 + n) for n in range(args.connections)]
        members: dict[int, list[str]] = {r: users[r::rooms] for r in range(rooms)}
        trips: dict[int, str] = {}
        for room, people in members.items():
            owner = mint(server.secret, people[0], 3600)
            trips[room] = server.request(
                "POST", "/api/trips", {"title": f"load room {room}", "collaborators": people[1:]}, owner
            )["tripId"]
        clients = [(n, users[n], trips[n % rooms]) for n in range(args.connections)]
        room_size = {trips[r]: len(p) for r, p in members.items()}
        context = multiprocessing.get_context("spawn")
        ready_queue, results, go_event, go_at = context.Queue(), context.Queue(), context.Event(), context.Value("d")
        setup_began = time.monotonic()
        memory = MemoryWatch(server.pid).start()
        for i in range(args.processes):
            plan = Plan(
                server.ws,
                server.secret,
                clients[i :: args.processes],
                args.minutes * 60,
                args.rate,
                args.update_share,
                args.settle,
                args.settle_max,
                args.seed,
            )
            proc = context.Process(target=_worker, args=(plan, ready_queue, go_event, go_at, results), daemon=True)
            proc.start()
            processes.append(proc)
        connected = sum(ready_queue.get(timeout=600) for _ in processes)
        go_at.value = time.time() + 1.0
        go_event.set()
        print(
            f"{connected} clients connected and joined {rooms} rooms in {time.monotonic() - setup_began:.1f} s; "
            f"sending for {args.minutes} min",
            file=sys.stderr,
            flush=True,
        )
        outcome = [results.get(timeout=args.minutes * 60 + args.settle_max + 600) for _ in processes]
        for proc in processes:
            proc.join(30)
        mem = memory.finish()
    finally:
        for proc in processes:
            if proc.is_alive():
                proc.kill()  # by its handle (pid)
                proc.join(5)
        exit_code = server.stop() if server.proc is not None else None

    sent: dict[str, tuple[float, str]] = {}
    acked: dict[str, float] = {}
    refused: dict[str, int] = {}
    got: dict[tuple[str, int], int] = {}
    latencies: list[float] = []
    connect_failures = closed_early = 0
    close_codes: dict[str, int] = {}
    last_delivery = max((part.last_frame_at for part in outcome), default=0.0)
    for part in outcome:
        sent.update(part.sent)
        acked.update(part.acked)
        for code, count in part.refused.items():
            refused[code] = refused.get(code, 0) + count
        for message_id, client, latency in part.received:
            got[(message_id, client)] = got.get((message_id, client), 0) + 1
            latencies.append(latency)
        connect_failures += part.connect_failures
        closed_early += part.closed_early
        for code, count in part.close_codes.items():
            close_codes[code] = close_codes.get(code, 0) + count
    accepted = {m: t for m, t in sent.items() if m in acked}
    expected = sum(room_size[trip] for _, trip in accepted.values())
    delivered = sum(1 for (message_id, _) in got if message_id in accepted)
    duplicates = sum(count - 1 for count in got.values() if count > 1)
    seconds = args.minutes * 60
    return {
        "connections": args.connections,
        "rooms": rooms,
        "minutes": args.minutes,
        "rate_per_client": args.rate,
        "update_share": args.update_share,
        "processes": args.processes,
        "connect_failures": connect_failures,
        "closed_early": closed_early,
        "server_closes": close_codes,
        "generator_max_lag_s": round(max(part.max_lag_s for part in outcome), 2),
        "sent": len(sent),
        "acknowledged": len(accepted),
        "unacknowledged": len(sent) - len(accepted),
        "refused": refused,
        "deliveries_expected": expected,
        "delivered": delivered,
        "lost": expected - delivered,
        "duplicates": duplicates,
        "messages_per_s": round(len(sent) / seconds, 1),
        "deliveries_per_s": round(delivered / seconds, 1),
        "drained_after_s": round(max(0.0, last_delivery - (go_at.value + seconds)), 1),
        "delivery_p50_ms": round(1000 * percentile(latencies, 50), 1),
        "delivery_p99_ms": round(1000 * percentile(latencies, 99), 1),
        "ack_p50_ms": round(1000 * percentile(list(acked.values()), 50), 1),
        "ack_p99_ms": round(1000 * percentile(list(acked.values()), 99), 1),
        **mem,
        "server_exit": exit_code,
        "note": (
            "the load generator fell behind (event loop late by over 1 s): latencies and losses measure it "
            "as much as the server; use more --processes or another machine"
        )
        if max(part.max_lag_s for part in outcome) > 1.0
        else "",
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench/load_test.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, default=200)
    parser.add_argument("--rooms", type=int, default=0, help="default: connections / 10")
    parser.add_argument("--minutes", type=float, default=1.0)
    parser.add_argument("--rate", type=float, default=0.5, help="messages per second per client")
    parser.add_argument("--update-share", type=float, default=0.25, help="share of messages that are trip updates")
    parser.add_argument("--processes", type=int, default=max(1, min(4, (os.cpu_count() or 2) - 1)))
    parser.add_argument(
        "--settle",
        type=float,
        default=3.0,
        help="after sending, a client closes once it has every ack and was this long without a frame",
    )
    parser.add_argument(
        "--settle-max",
        type=float,
        default=120.0,
        help="... or this long after sending at most: what is missing then counts as lost",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--url", help="an already running server (ws://host:port); needs --secret")
    parser.add_argument("--secret", help="its JWT_SECRET (HS256), to mint the clients' tokens")
    parser.add_argument("--pin-server", help="taskset CPU list for the server it starts (e.g. 0)")
    parser.add_argument("--server-arg", action="append", help="an extra flag for the server it starts (repeatable)")
    parser.add_argument("--json", type=Path, help="also write the report to this file")
    args = parser.parse_args(argv)
    if args.url and not args.secret:
        parser.error("--url needs --secret")
    report = run(args)
    width = max(len(k) for k in report)
    for key, value in report.items():
        print(f"{key:<{width}}  {value}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0 if report["lost"] == 0 and report["connect_failures"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
