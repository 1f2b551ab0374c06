"""The load generator: many WebSocket connections on one uvloop loop (picows).

Run by ``python -m bench`` in its own process, pinned to the other core:
``python -m bench.loadgen SCENARIO JSON_ARGS``; prints one JSON line (the result).

Two protocols speak the same scenarios: ``ours`` (TravelSense's ``/ws``) and
``sio`` (Engine.IO 4 / Socket.IO 5 over WebSocket, the python-socketio peer).
With ``"deflate": true`` every connection offers permessage-deflate exactly as
Chromium does (``permessage-deflate; client_max_window_bits``) and then behaves
as Chromium does: a compressed frame is inflated with the connection's one
inflater (15-bit window), and every message it sends is deflated (level 6,
memLevel 8), afresh per message if the server asked for
``client_no_context_takeover``, with context takeover otherwise.
The hot path (one received broadcast) does no JSON parsing: the sender embeds
``~T<perf_counter_ns>~<index>~`` in the chat text and each receiver finds it
with ``bytes.find``; send and receive clocks are the same process's clock.
"""

from __future__ import annotations

import array
import asyncio
import gc
import json
import os
import resource
import socket
import sys
import time
import urllib.request
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt
import uvloop
from picows import WSFrame, WSListener, WSMsgType, WSTransport, ws_connect

TEXT = WSMsgType.TEXT
CLOSE = WSMsgType.CLOSE
MARK = b"~T"
CHROMIUM_OFFER = "permessage-deflate; client_max_window_bits"  # what Chromium sends, byte for byte
SYNC_TAIL = b"\x00\x00\xff\xff"


def object_id(n: int) -> str:
    return f"{n:024x}"


def make_token(secret: str, user: str, role: str = "user", ttl: float = 7200) -> str:
    return str(jwt.encode({"sub": user, "role": role, "exp": int(time.time() + ttl)}, secret, algorithm="HS256"))


def proc_cpu_seconds(pid: int) -> float:
    """utime+stime of a process (all its threads), from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def runq_wait_seconds(pid: int) -> float:
    """Time the server's main thread was runnable but waiting for a CPU (schedstat):
    other processes on its core.  High values make wall-clock figures unreliable."""
    try:
        with open(f"/proc/{pid}/schedstat") as f:
            return int(f.read().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return 0.0


def loadavg() -> float:
    return os.getloadavg()[0]


def proc_rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def self_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def percentile(sorted_values: list[int], q: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[index] / 1e6  # ns -> ms


# protocols --------------------------------------------------------------------------


class Ours:
    name = "ours"

    def __init__(self, port: int, secret: str, deflate: bool = False) -> None:
        self.port = port
        self.secret = secret
        self.deflate = deflate

    def url(self, token: str, hidden: bool) -> str:
        return f"ws://127.0.0.1:{self.port}/ws?token={token}" + ("&presence=hidden" if hidden else "")

    def join(self, trip_id: str, last_seq: int | None = None) -> bytes:
        data: dict[str, Any] = {"tripId": trip_id}
        if last_seq is not None:
            data["lastSeq"] = last_seq
        return json.dumps({"event": "join_trip_room", "data": data, "ref": "join"}).encode()

    def chat(self, trip_id: str, text: str, ref: str | None) -> bytes:
        frame: dict[str, Any] = {"event": "chat_message", "data": {"tripId": trip_id, "message": text}}
        if ref is not None:
            frame["ref"] = ref
        return json.dumps(frame).encode()

    def control(self, conn: Conn, payload: bytes) -> None:
        """A frame that is not a marked broadcast."""
        if payload.startswith(b'{"event":"connected"'):
            conn.state = "connected"
        elif payload.startswith(b'{"event":"trip_room_joined"'):
            conn.state = "joined"
            conn.joined_at = time.perf_counter_ns()
            conn.head = json.loads(payload)["data"]["seq"]
        elif payload.startswith(b'{"event":"error"'):
            conn.errors += 1
            if conn.errors <= 3:
                conn.last_error = payload[:300].decode(errors="replace")
        elif payload.startswith(b'{"event":"chat_message"'):
            conn.unmarked += 1

    def connected_ready(self, conn: Conn) -> bool:
        return conn.state in ("connected", "joined")


class SocketIO:
    name = "python-socketio"

    def __init__(self, port: int, secret: str, deflate: bool = False) -> None:
        self.port = port
        self.secret = secret
        self.deflate = deflate

    def url(self, token: str, hidden: bool) -> str:
        return f"ws://127.0.0.1:{self.port}/socket.io/?EIO=4&transport=websocket&token={token}"

    def join(self, trip_id: str, last_seq: int | None = None) -> bytes:
        return b"42" + json.dumps(["join_trip_room", {"tripId": trip_id}]).encode()

    def chat(self, trip_id: str, text: str, ref: str | None) -> bytes:
        return b"42" + json.dumps(["chat_message", {"tripId": trip_id, "message": text, "ref": ref}]).encode()

    def control(self, conn: Conn, payload: bytes) -> None:
        if payload == b"2":
            conn.send_text(b"3")  # Engine.IO ping -> pong
        elif payload.startswith(b"0{"):
            conn.send_text(b"40")  # open -> connect to the default namespace
        elif payload.startswith(b"40"):
            conn.state = "connected"
        elif payload.startswith(b'42["trip_room_joined"'):
            conn.state = "joined"
            conn.joined_at = time.perf_counter_ns()
        elif payload.startswith(b"44") or payload.startswith(b"1"):
            conn.errors += 1
            conn.last_error = payload[:300].decode(errors="replace")
        elif payload.startswith(b'42["chat_message"'):
            conn.unmarked += 1

    def connected_ready(self, conn: Conn) -> bool:
        return conn.state in ("connected", "joined")


# connections ------------------------------------------------------------------------


class Stats:
    """What every receiver adds to, shared by all connections of a run."""

    def __init__(self, max_messages: int, n_receivers: int) -> None:
        self.latency = array.array("q")
        self.per_message = array.array("i", bytes(4 * max_messages))
        self.received = 0
        self.complete = 0
        self.n = n_receivers
        self.last_receipt = 0
        self.on_complete: Callable[[], None] | None = None


class Conn(WSListener):  # type: ignore[misc]
    def __init__(self, proto: Ours | SocketIO, stats: Stats | None) -> None:
        super().__init__()
        self.proto = proto
        self.stats = stats
        self.transport: WSTransport = None  # type: ignore[assignment]
        self.state = "new"
        self.received = 0
        self.unmarked = 0
        self.errors = 0
        self.last_error = ""
        self.closed = False
        self.close_code: int | None = None
        self.joined_at = 0
        self.head = 0
        self.recovered = 0
        self.waiter: asyncio.Future[None] | None = None
        self.want: str | None = None
        self.inflater: Any = None  # set when permessage-deflate was agreed
        self.deflater: Any = None  # kept across messages only with client context takeover
        self.fresh_deflater = False
        self.compressed_in = 0

    def on_ws_connected(self, transport: WSTransport) -> None:
        self.transport = transport
        if self.proto.deflate:
            agreed = transport.response.headers.get("Sec-WebSocket-Extensions", "")
            if agreed.startswith("permessage-deflate"):
                self.inflater = zlib.decompressobj(-15)
                self.fresh_deflater = "client_no_context_takeover" in agreed
                self.deflater = None if self.fresh_deflater else self._new_deflater()
        # picows' transport (aiofastnet) leaves Nagle on: small frames would then wait
        # for the server's delayed ACK (~40 ms), throttling the sender, not the server.
        sock = transport.underlying_transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    @staticmethod
    def _new_deflater() -> Any:
        return zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15, 8)

    def send_text(self, payload: bytes) -> None:
        if self.inflater is None:
            self.transport.send(TEXT, payload)
            return
        deflater = self._new_deflater() if self.fresh_deflater else self.deflater
        body = deflater.compress(payload) + deflater.flush(zlib.Z_SYNC_FLUSH)
        self.transport.send(TEXT, body[: -len(SYNC_TAIL)], rsv1=True)

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if frame.msg_type is TEXT:
            payload = frame.get_payload_as_bytes()
            if frame.rsv1:
                payload = self.inflater.decompress(payload + SYNC_TAIL)
                self.compressed_in += 1
            at = payload.find(MARK)
            if at >= 0:
                now = time.perf_counter_ns()
                end = payload.index(b"~", at + 2)
                sent = int(payload[at + 2 : end])
                index = int(payload[end + 1 : payload.index(b"~", end + 1)])
                self.received += 1
                stats = self.stats
                if stats is not None:
                    stats.latency.append(now - sent)
                    stats.received += 1
                    stats.last_receipt = now
                    count = stats.per_message[index] + 1
                    stats.per_message[index] = count
                    if count == stats.n:
                        stats.complete += 1
                        if stats.on_complete is not None:
                            stats.on_complete()
                return
            self.proto.control(self, payload)
            if self.waiter is not None and self.state == self.want and not self.waiter.done():
                self.waiter.set_result(None)
        elif frame.msg_type is CLOSE:
            self.close_code = frame.get_close_code().value if frame.payload_size >= 2 else None

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        self.closed = True
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError(f"closed (code {self.close_code})"))

    async def wait_state(self, state: str, timeout: float) -> None:
        if self.state == state:
            return
        self.want = state
        self.waiter = asyncio.get_running_loop().create_future()
        try:
            await asyncio.wait_for(self.waiter, timeout)
        finally:
            self.waiter = None


async def open_conn(
    proto: Ours | SocketIO, token: str, stats: Stats | None, *, hidden: bool, timeout: float = 30.0
) -> Conn:
    _transport, conn = await ws_connect(
        lambda: Conn(proto, stats),
        proto.url(token, hidden),
        websocket_handshake_timeout=timeout,
        max_frame_size=64 * 1024 * 1024,
        extra_headers={"Sec-WebSocket-Extensions": CHROMIUM_OFFER} if proto.deflate else None,
    )
    assert isinstance(conn, Conn)
    await conn.wait_state("connected", timeout)
    return conn


async def open_many(
    proto: Ours | SocketIO, tokens: list[str], stats: Stats | None, *, hidden: bool, concurrency: int, deadline: float
) -> tuple[list[Conn], int]:
    conns: list[Conn | None] = [None] * len(tokens)
    failures = 0
    next_index = 0

    async def worker() -> None:
        nonlocal next_index, failures
        while next_index < len(tokens) and time.monotonic() < deadline:
            i = next_index
            next_index += 1
            for attempt in range(3):
                try:
                    conns[i] = await open_conn(
                        proto, tokens[i], stats, hidden=hidden, timeout=max(1.0, deadline - time.monotonic())
                    )
                    break
                except Exception:
                    if attempt == 2:
                        failures += 1
                    await asyncio.sleep(0.05)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return [c for c in conns if c is not None], failures


async def join_all(proto: Ours | SocketIO, conns: list[Conn], trip_id: str, concurrency: int, timeout: float) -> None:
    sem = asyncio.Semaphore(concurrency)

    async def one(conn: Conn) -> None:
        async with sem:
            conn.send_text(proto.join(trip_id))
            await conn.wait_state("joined", timeout)

    await asyncio.gather(*(one(c) for c in conns))


def close_all(conns: list[Conn]) -> None:
    for conn in conns:
        if not conn.closed:
            conn.transport.send_close()
            conn.transport.disconnect()


def rest(port: int, method: str, path: str, bearer: str, body: Any = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method)
    req.add_header("Authorization", f"Bearer {bearer}")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=30) as response:
        return json.loads(response.read())


def create_trip(args: dict[str, Any], owner_token: str) -> str:
    if args["proto"] != "ours":
        return object_id(0xBEEF)
    trip = rest(args["port"], "POST", "/api/trips", owner_token, {"title": "bench trip"})
    return str(trip["tripId"])


def proto_of(args: dict[str, Any]) -> Ours | SocketIO:
    cls = Ours if args["proto"] == "ours" else SocketIO
    return cls(args["port"], args["secret"], bool(args.get("deflate")))


def deflate_figures(conns: list[Conn]) -> dict[str, Any]:
    """What was negotiated, as the result's evidence of the client mode."""
    agreed = [c for c in conns if c.inflater is not None]
    return {
        "deflate_offered": bool(conns and conns[0].proto.deflate),
        "deflate_agreed": len(agreed),
        "deflate_answer": agreed[0].transport.response.headers.get("Sec-WebSocket-Extensions", "") if agreed else "",
        "compressed_frames_in": sum(c.compressed_in for c in conns),
    }


# scenarios ----------------------------------------------------------------------------


async def fanout(args: dict[str, Any]) -> dict[str, Any]:
    """N clients in one room, one of them sending; (a) fixed rate, (b) rate 0 = as fast as
    the room keeps up (a window of ``window`` messages not yet received by everyone)."""
    proto = proto_of(args)
    n, rate, duration, window = args["n"], args["rate"], args["duration"], args["window"]
    pid, secret = args["server_pid"], args["secret"]
    hard_deadline = time.monotonic() + args["timeout"]
    max_messages = int((rate or 5000) * duration * 1.2) + 1000
    stats = Stats(max_messages, n)
    admin = make_token(secret, object_id(1), "admin")
    trip_id = await asyncio.to_thread(create_trip, args, admin)
    tokens = [make_token(secret, object_id(0x1000 + i), "admin") for i in range(n)]
    t0 = time.perf_counter()
    conns, failures = await open_many(
        proto, tokens, stats, hidden=True, concurrency=50, deadline=hard_deadline - duration - 20
    )
    await join_all(proto, conns, trip_id, 50, 30)
    setup_s = time.perf_counter() - t0
    stats.n = len(conns)
    sender = conns[0]
    await asyncio.sleep(0.5)

    sent = 0
    send_slip_max = 0.0
    loop = asyncio.get_running_loop()
    cpu_server0, cpu_self0, wall0 = proc_cpu_seconds(pid), self_cpu(), time.perf_counter()
    wait0 = runq_wait_seconds(pid)
    start_ns = time.perf_counter_ns()
    stop_at = time.perf_counter() + duration
    wake: asyncio.Future[None] | None = None

    def send_one() -> None:
        nonlocal sent
        ns = time.perf_counter_ns()
        sender.send_text(proto.chat(trip_id, f"~T{ns}~{sent}~", f"c{sent}"))
        sent += 1

    if rate:
        interval = 1.0 / rate
        next_at = time.perf_counter()
        while time.perf_counter() < stop_at and not sender.closed and sent < max_messages:
            now = time.perf_counter()
            if now < next_at:
                await asyncio.sleep(next_at - now)
                continue
            send_slip_max = max(send_slip_max, now - next_at)
            send_one()
            next_at += interval
    else:

        def on_complete() -> None:
            if wake is not None and not wake.done():
                wake.set_result(None)

        stats.on_complete = on_complete
        while time.perf_counter() < stop_at and not sender.closed and sent < max_messages:
            while sent - stats.complete < window and sent < max_messages:
                send_one()
            wake = loop.create_future()
            try:
                await asyncio.wait_for(wake, 5.0)
            except TimeoutError:
                break
    send_end = time.perf_counter()
    expected = sent * len(conns)
    drain_until = time.perf_counter() + args["drain"]
    while stats.received < expected and time.perf_counter() < drain_until:
        await asyncio.sleep(0.02)
    last_ns = stats.last_receipt or time.perf_counter_ns()
    cpu_server1, cpu_self1 = proc_cpu_seconds(pid), self_cpu()
    busy_s = max(1e-9, (last_ns - start_ns) / 1e9)
    lat = sorted(stats.latency)
    received = stats.received
    result = {
        "clients": len(conns),
        "connect_failures": failures,
        "setup_s": round(setup_s, 2),
        "sent": sent,
        "send_seconds": round(send_end - wall0, 3),
        "send_slip_max_ms": round(send_slip_max * 1e3, 2),
        "expected": expected,
        "received": received,
        "lost": expected - received,
        "messages_lost": sum(1 for i in range(sent) if stats.per_message[i] < len(conns)),
        "deliveries_per_s": round(received / busy_s),
        "p50_ms": round(percentile(lat, 0.50), 2),
        "p99_ms": round(percentile(lat, 0.99), 2),
        "max_ms": round(lat[-1] / 1e6, 2) if lat else None,
        "server_cpu_s": round(cpu_server1 - cpu_server0, 3),
        "server_us_per_delivery": round(1e6 * (cpu_server1 - cpu_server0) / received, 2) if received else None,
        "server_cpu_pct": round(100 * (cpu_server1 - cpu_server0) / busy_s, 1),
        "loadgen_cpu_pct": round(100 * (cpu_self1 - cpu_self0) / busy_s, 1),
        "disconnected": sum(1 for c in conns if c.closed),
        "sender_disconnected": sender.closed,
        "errors": sum(c.errors for c in conns),
        "last_error": next((c.last_error for c in conns if c.last_error), ""),
        "server_rss_kb": proc_rss_kb(pid),
        "server_runq_wait_pct": round(100 * (runq_wait_seconds(pid) - wait0) / busy_s, 1),
        "loadavg_1m": round(loadavg(), 2),
        **deflate_figures(conns),
    }
    close_all(conns)
    await asyncio.sleep(0.3)
    return result


async def idle(args: dict[str, Any]) -> dict[str, Any]:
    """N idle authenticated connections: time to connect them all, server RSS per connection."""
    proto = proto_of(args)
    n, pid, secret = args["n"], args["server_pid"], args["secret"]
    hard_deadline = time.monotonic() + args["timeout"]
    tokens = [make_token(secret, object_id(0x100000 + i)) for i in range(n)]
    warm, _ = await open_many(proto, tokens[:1], None, hidden=False, concurrency=1, deadline=hard_deadline)
    close_all(warm)
    await asyncio.sleep(1.0)
    rss0 = proc_rss_kb(pid)
    cpu_server0, cpu_self0 = proc_cpu_seconds(pid), self_cpu()
    wait0 = runq_wait_seconds(pid)
    t0 = time.perf_counter()
    conns, failures = await open_many(
        proto, tokens, None, hidden=False, concurrency=args["concurrency"], deadline=hard_deadline - 10
    )
    connect_s = time.perf_counter() - t0
    cpu_server1, cpu_self1 = proc_cpu_seconds(pid), self_cpu()
    await asyncio.sleep(args["settle"])
    rss1 = proc_rss_kb(pid)
    alive = sum(1 for c in conns if not c.closed)
    result = {
        "connections": len(conns),
        "alive_after_settle": alive,
        "failures": failures,
        "connect_s": round(connect_s, 2),
        "connects_per_s": round(len(conns) / connect_s),
        "server_rss_before_kb": rss0,
        "server_rss_after_kb": rss1,
        "rss_kb_per_conn": round((rss1 - rss0) / max(1, len(conns)), 1),
        "server_cpu_s": round(cpu_server1 - cpu_server0, 2),
        "server_us_per_connect": round(1e6 * (cpu_server1 - cpu_server0) / max(1, len(conns)), 1),
        "loadgen_cpu_pct": round(100 * (cpu_self1 - cpu_self0) / connect_s, 1),
        "server_runq_wait_pct": round(100 * (runq_wait_seconds(pid) - wait0) / connect_s, 1),
        "loadavg_1m": round(loadavg(), 2),
        **deflate_figures(conns),
    }
    close_all(conns)
    await asyncio.sleep(min(5.0, 0.5 + n / 5000))
    return result


async def persist(args: dict[str, Any]) -> dict[str, Any]:
    """Durable chat commands/s: ``clients`` senders, each in its own trip, each keeping
    ``window`` commands in flight; a command counts when its sender's copy (carrying
    its ref) comes back, which the server sends only after the record is durable."""
    proto = Ours(args["port"], args["secret"])
    clients, window, duration, pid = args["clients"], args["window"], args["duration"], args["server_pid"]
    secret = args["secret"]
    users = [object_id(0x200000 + i) for i in range(clients)]
    tokens = [make_token(secret, u) for u in users]
    trips = await asyncio.gather(
        *(asyncio.to_thread(rest, args["port"], "POST", "/api/trips", t, {"title": "bench"}) for t in tokens)
    )
    trip_ids = [t["tripId"] for t in trips]
    stats = Stats(clients * window * 20000, 1)
    conns, failures = await open_many(proto, tokens, stats, hidden=True, concurrency=20, deadline=time.monotonic() + 60)
    for conn, trip_id in zip(conns, trip_ids, strict=False):
        conn.send_text(proto.join(trip_id))
        await conn.wait_state("joined", 30)
    sent = [0] * len(conns)
    counter = 0
    cpu_server0, cpu_self0, t0 = proc_cpu_seconds(pid), self_cpu(), time.perf_counter()
    wait0 = runq_wait_seconds(pid)
    stop_at = t0 + duration

    def send(i: int) -> None:
        nonlocal counter
        ns = time.perf_counter_ns()
        conns[i].send_text(proto.chat(trip_ids[i], f"~T{ns}~{counter}~", f"p{counter}"))
        counter += 1
        sent[i] += 1

    # every completion lets its sender send the next one
    for i in range(len(conns)):
        for _ in range(window):
            send(i)
    while time.perf_counter() < stop_at:
        await asyncio.sleep(0.001)
        for i, conn in enumerate(conns):
            while sent[i] - conn.received < window and time.perf_counter() < stop_at:
                send(i)
    elapsed_send = time.perf_counter() - t0
    acked_in_window = stats.received
    deadline = time.perf_counter() + 10
    total = sum(sent)
    while stats.received < total and time.perf_counter() < deadline:
        await asyncio.sleep(0.01)
    cpu_server1, cpu_self1 = proc_cpu_seconds(pid), self_cpu()
    lat = sorted(stats.latency)
    # durability check: every acknowledged command is in the log (trip stream heads)
    heads = 0
    for conn, trip_id in zip(conns[:10], trip_ids[:10], strict=False):
        events = await asyncio.to_thread(
            rest, args["port"], "GET", f"/api/trips/{trip_id}/events?after=0&limit=1000", tokens[conns.index(conn)]
        )
        heads += sum(1 for e in events["events"] if e["type"] == "chat_message")
    acked_first10 = sum(c.received for c in conns[:10])
    result = {
        "clients": len(conns),
        "window": window,
        "failures": failures,
        "acked": stats.received,
        "sent": total,
        "commands_per_s": round(acked_in_window / elapsed_send),
        "ack_p50_ms": round(percentile(lat, 0.5), 2),
        "ack_p99_ms": round(percentile(lat, 0.99), 2),
        "server_us_per_command": round(1e6 * (cpu_server1 - cpu_server0) / max(1, stats.received), 1),
        "loadgen_cpu_pct": round(100 * (cpu_self1 - cpu_self0) / elapsed_send, 1),
        "errors": sum(c.errors for c in conns),
        "last_error": next((c.last_error for c in conns if c.last_error), ""),
        "durable_check": f"{heads} chat events in the log for {acked_first10} acks (first 10 trips)",
        "durable_ok": heads >= acked_first10,
        "server_runq_wait_pct": round(100 * (runq_wait_seconds(pid) - wait0) / elapsed_send, 1),
        "loadavg_1m": round(loadavg(), 2),
    }
    close_all(conns)
    await asyncio.sleep(0.5)
    return result


async def recovery(args: dict[str, Any]) -> dict[str, Any]:
    """Rejoin with lastSeq ``behind`` events behind: time from the join frame to the
    last missed event received (and from opening the socket)."""
    proto = Ours(args["port"], args["secret"])
    secret, behind, rounds = args["secret"], args["behind"], args["rounds"]
    owner = make_token(secret, object_id(0x300000))
    trip_id = await asyncio.to_thread(create_trip, {"proto": "ours", "port": args["port"]}, owner)
    writer_stats = Stats(behind + 10, 1)
    [writer], _ = await open_many(
        proto, [owner], writer_stats, hidden=True, concurrency=1, deadline=time.monotonic() + 30
    )
    writer.send_text(proto.join(trip_id))
    await writer.wait_state("joined", 30)
    sent = 0
    fill_deadline = time.perf_counter() + 60
    while writer.received < behind and time.perf_counter() < fill_deadline:
        while sent - writer.received < 32 and sent < behind:
            writer.send_text(proto.chat(trip_id, f"~T{time.perf_counter_ns()}~{sent}~", f"f{sent}"))
            sent += 1
        await asyncio.sleep(0.001)
    head = 1 + writer.received  # creation + chat messages
    times_join, times_open = [], []
    for _round in range(rounds):
        stats = Stats(behind + 10, 1)
        t_open = time.perf_counter_ns()
        [conn], _ = await open_many(
            proto,
            [make_token(secret, object_id(0x300000))],
            stats,
            hidden=True,
            concurrency=1,
            deadline=time.monotonic() + 30,
        )
        t_join = time.perf_counter_ns()
        conn.send_text(proto.join(trip_id, last_seq=head - behind))
        deadline = time.perf_counter() + 30
        while conn.received < behind and time.perf_counter() < deadline:
            await asyncio.sleep(0.0005)
        done = stats.last_receipt
        if conn.received >= behind:
            times_join.append(done - t_join)
            times_open.append(done - t_open)
        close_all([conn])
        await asyncio.sleep(0.05)
    close_all([writer])
    times_join.sort()
    times_open.sort()
    return {
        "behind": behind,
        "rounds": rounds,
        "ok_rounds": len(times_join),
        "rejoin_p50_ms": round(percentile(times_join, 0.5), 2),
        "rejoin_p99_ms": round(percentile(times_join, 0.99), 2),
        "rejoin_max_ms": round(times_join[-1] / 1e6, 2) if times_join else None,
        "connect_and_rejoin_p50_ms": round(percentile(times_open, 0.5), 2),
    }


async def crossnode(args: dict[str, Any]) -> dict[str, Any]:
    """A chat message from a client on node A to one on node B (through the Redis bus)."""
    proto_a = Ours(args["port"], args["secret"])
    proto_b = Ours(args["port_b"], args["secret"])
    secret, rate, duration = args["secret"], args["rate"], args["duration"]
    owner = make_token(secret, object_id(0x400000))
    body: dict[str, Any] = {"title": "bench trip"}
    if args.get("absent_collaborator"):
        # a member never connected: every message looks the room's roster up and notifies them
        body["collaborators"] = [object_id(0x400001)]
    trip = await asyncio.to_thread(rest, args["port"], "POST", "/api/trips", owner, body)
    trip_id = str(trip["tripId"])
    stats_b = Stats(int(rate * duration * 1.2) + 100, 1)
    [a], _ = await open_many(proto_a, [owner], None, hidden=True, concurrency=1, deadline=time.monotonic() + 30)
    [b], _ = await open_many(proto_b, [owner], stats_b, hidden=True, concurrency=1, deadline=time.monotonic() + 30)
    for conn, proto in ((a, proto_a), (b, proto_b)):
        conn.send_text(proto.join(trip_id))
        await conn.wait_state("joined", 30)
    await asyncio.sleep(0.5)
    sent, interval = 0, 1.0 / rate
    pid_a, pid_b = args.get("server_pid"), args.get("server_pid_b")
    cpu_a0 = proc_cpu_seconds(pid_a) if pid_a else 0.0
    cpu_b0 = proc_cpu_seconds(pid_b) if pid_b else 0.0
    cpu_self0 = self_cpu()
    next_at = time.perf_counter()
    stop_at = next_at + duration
    while time.perf_counter() < stop_at:
        now = time.perf_counter()
        if now < next_at:
            await asyncio.sleep(next_at - now)
            continue
        a.send_text(proto_a.chat(trip_id, f"~T{time.perf_counter_ns()}~{sent}~", f"x{sent}"))
        sent += 1
        next_at += interval
    deadline = time.perf_counter() + 10
    while stats_b.received < sent and time.perf_counter() < deadline:
        await asyncio.sleep(0.01)
    lat = sorted(stats_b.latency)
    per_message = max(1, sent)
    cpu_a = proc_cpu_seconds(pid_a) - cpu_a0 if pid_a else None
    cpu_b = proc_cpu_seconds(pid_b) - cpu_b0 if pid_b else None
    cpu_self = self_cpu() - cpu_self0
    close_all([a, b])
    return {
        "absent_collaborator": bool(args.get("absent_collaborator")),
        "node_a_us_per_message": round(1e6 * cpu_a / per_message, 1) if cpu_a is not None else None,
        "node_b_us_per_message": round(1e6 * cpu_b / per_message, 1) if cpu_b is not None else None,
        "loadgen_us_per_message": round(1e6 * cpu_self / per_message, 1),
        "rate": rate,
        "sent": sent,
        "received_on_b": stats_b.received,
        "lost": sent - stats_b.received,
        "p50_ms": round(percentile(lat, 0.5), 2),
        "p99_ms": round(percentile(lat, 0.99), 2),
        "max_ms": round(lat[-1] / 1e6, 2) if lat else None,
        "errors": a.errors + b.errors,
        "last_error": a.last_error or b.last_error,
    }


@dataclass(frozen=True)
class StormRoom:
    """One trip of ``n`` users for the storms: the first ``visible`` its collaborators,
    the rest admins who connect with ``presence=hidden`` (a huge room in which only
    ``visible`` members are announced, as a large trip's followers would be); ``owner``
    created it."""

    proto: Ours
    trip_id: str
    owner: str
    tokens: list[str]
    visible: int
    concurrency: int
    deadline: float

    @classmethod
    async def create(cls, args: dict[str, Any], deadline: float) -> StormRoom:
        proto = Ours(args["port"], args["secret"], bool(args.get("deflate")))
        n, visible, secret = args["n"], args["visible"], args["secret"]
        users = [object_id(0x500000 + i) for i in range(n)]
        owner = make_token(secret, object_id(0x4FFFFF), "admin")
        body = {"title": "storm trip", "collaborators": users[: min(visible, 100)]}
        trip = await asyncio.to_thread(rest, args["port"], "POST", "/api/trips", owner, body)
        tokens = [make_token(secret, u, "user" if i < visible else "admin") for i, u in enumerate(users)]
        return cls(proto, str(trip["tripId"]), owner, tokens, visible, args.get("concurrency", 500), deadline)

    async def connect_all(self, stats: Stats | None) -> tuple[list[Conn], int]:
        visible_conns, f1 = await open_many(
            self.proto,
            self.tokens[: self.visible],
            stats,
            hidden=False,
            concurrency=self.concurrency,
            deadline=self.deadline,
        )
        hidden_conns, f2 = await open_many(
            self.proto,
            self.tokens[self.visible :],
            stats,
            hidden=True,
            concurrency=self.concurrency,
            deadline=self.deadline,
        )
        return visible_conns + hidden_conns, f1 + f2

    async def join_every(self, conns: list[Conn], last_seq: int | None) -> int:
        """Every connection sends its join at once; how many were not answered."""
        for conn in conns:
            conn.send_text(self.proto.join(self.trip_id, last_seq))
        waits = (c.wait_state("joined", max(1.0, self.deadline - time.monotonic())) for c in conns)
        outcomes = await asyncio.gather(*waits, return_exceptions=True)
        return sum(1 for outcome in outcomes if isinstance(outcome, BaseException))

    async def open_writer(self) -> Conn:
        """The owner, joined, hidden: sends the messages the others miss while away."""
        [writer], _ = await open_many(
            self.proto, [self.owner], None, hidden=True, concurrency=1, deadline=self.deadline
        )
        writer.send_text(self.proto.join(self.trip_id))
        await writer.wait_state("joined", 30)
        return writer

    async def send_missed(self, writer: Conn, count: int, first: int = 0) -> None:
        """``count`` marked chat messages, indexed from ``first`` (a ``Stats`` slot each, and a
        ref each: a chat ref is its idempotency key, so a reused one would not be a new message);
        back when the writer has its own copies."""
        target = writer.received + count
        for i in range(first, first + count):
            writer.send_text(self.proto.chat(self.trip_id, f"~T{time.perf_counter_ns()}~{i}~", f"m{i}"))
        while writer.received < target and time.monotonic() < self.deadline:
            await asyncio.sleep(0.01)

    async def settle(self) -> None:
        """After dropping everyone: time for the server to take the closes in, so that the
        next phase measures coming back, not leaving."""
        await asyncio.sleep(min(5.0, 0.5 + len(self.tokens) / 4000))


async def joinstorm(args: dict[str, Any]) -> dict[str, Any]:
    """A room of ``n`` connections (the first ``visible`` trip collaborators, the rest
    admins with ``presence=hidden``): all connected, then (1) every one joins at once;
    (2) every one is dropped, ``missed`` chat messages are sent meanwhile, and every
    one reconnects and rejoins with ``lastSeq`` at once: done when each has its
    ``missed`` messages back."""
    n, missed, pid = args["n"], args["missed"], args["server_pid"]
    hard_deadline = time.monotonic() + args["timeout"] - 30  # room to report what was reached
    room = await StormRoom.create(args, hard_deadline)

    # (1) everyone connected, then everyone joins at once
    cpu_start, t0 = proc_cpu_seconds(pid), time.perf_counter()
    conns, failures = await room.connect_all(None)
    connect_s = time.perf_counter() - t0
    connect_cpu = proc_cpu_seconds(pid) - cpu_start
    cpu0, wait0, t1 = proc_cpu_seconds(pid), runq_wait_seconds(pid), time.perf_counter()
    join_failures = await room.join_every(conns, None)
    join_s = time.perf_counter() - t1
    print(f"joinstorm: {len(conns)} connected in {connect_s:.1f} s, joined in {join_s:.1f} s", file=sys.stderr)
    join_cpu = proc_cpu_seconds(pid) - cpu0
    join_wait = runq_wait_seconds(pid) - wait0
    head = max((c.head for c in conns), default=0)
    close_all(conns)
    await room.settle()

    # (2) messages go on while everyone is away; everyone comes back at once
    writer = await room.open_writer()
    await room.send_missed(writer, missed)
    stats = Stats(missed + 10, n)
    cpu1, wait1, t2, mine1 = proc_cpu_seconds(pid), runq_wait_seconds(pid), time.perf_counter(), self_cpu()
    back, refailures = await room.connect_all(stats)
    reconnect_connect_s = time.perf_counter() - t2
    stats.n = len(back)
    rejoin_failures = await room.join_every(back, head)
    print(f"joinstorm: {len(back)} back and rejoined in {time.perf_counter() - t2:.1f} s", file=sys.stderr)
    give_up = min(hard_deadline + 15, time.monotonic() + args.get("catch_up_timeout", 60))
    while stats.complete < missed and time.monotonic() < give_up:
        await asyncio.sleep(0.005)
    reconnect_s = time.perf_counter() - t2
    reconnect_cpu = proc_cpu_seconds(pid) - cpu1
    reconnect_wait = runq_wait_seconds(pid) - wait1
    reconnect_mine = self_cpu() - mine1
    result = {
        "n": n,
        "visible": room.visible,
        "connected": len(conns),
        "failures": failures + refailures,
        "join_failures": join_failures,
        "rejoin_failures": rejoin_failures,
        "closed_codes": sorted({c.close_code for c in conns + back if c.closed and c.close_code is not None}),
        "connect_s": round(connect_s, 2),
        "server_us_per_connect": round(1e6 * connect_cpu / max(1, len(conns)), 1),
        "join_s": round(join_s, 2),
        "server_us_per_join": round(1e6 * join_cpu / max(1, len(conns)), 1),
        "join_runq_wait_pct": round(100 * join_wait / max(1e-9, join_s), 1),
        "missed": missed,
        "back": len(back),
        "complete_back": sum(1 for c in back if c.received >= missed),
        "reconnect_s": round(reconnect_s, 2),
        "reconnect_connect_s": round(reconnect_connect_s, 2),
        "server_us_per_reconnect": round(1e6 * reconnect_cpu / max(1, len(back)), 1),
        "reconnect_runq_wait_pct": round(100 * reconnect_wait / max(1e-9, reconnect_s), 1),
        "reconnect_server_cpu_pct": round(100 * reconnect_cpu / max(1e-9, reconnect_s), 1),
        "reconnect_loadgen_cpu_pct": round(100 * reconnect_mine / max(1e-9, reconnect_s), 1),
        "errors": sum(c.errors for c in conns + back),
        "last_error": next((c.last_error for c in conns + back if c.last_error), ""),
        "server_rss_kb": proc_rss_kb(pid),
        "loadavg_1m": round(loadavg(), 2),
        **deflate_figures(back),
    }
    close_all([*back, writer])
    await room.settle()
    return result


async def churn(args: dict[str, Any]) -> dict[str, Any]:
    """The storm's second half ``rounds`` times over: ``n`` connections in one trip, all
    dropped, one chat message sent while they are away, all back with ``lastSeq`` and the
    message; the server's RSS after each round. What connections leave behind (cyclic
    garbage the collector has not reached yet, caches that keep the departed) shows as
    RSS that goes on growing from round to round instead of levelling off.

    Not the storm's figures: a round's seconds include the pause while the server takes
    the closes in, and its CPU the closes, the visible members' presence and the message."""
    n, rounds, pid = args["n"], args["rounds"], args["server_pid"]
    hard_deadline = time.monotonic() + args["timeout"] - 30
    room = await StormRoom.create(args, hard_deadline)
    conns, failures = await room.connect_all(None)
    join_failures = await room.join_every(conns, None)
    writer = await room.open_writer()
    rss_kb = [proc_rss_kb(pid)]
    cpu0, t0 = proc_cpu_seconds(pid), time.perf_counter()
    incomplete = errors = 0
    last_error = ""
    for round_no in range(rounds):
        if time.monotonic() >= hard_deadline:
            break
        head = max((c.head for c in conns), default=0)
        errors += sum(c.errors for c in conns)
        last_error = next((c.last_error for c in conns if c.last_error), last_error)
        close_all(conns)
        await room.settle()
        await room.send_missed(writer, 1, first=round_no)  # this round's message is slot round_no
        stats = Stats(round_no + 1, n)
        conns, refailures = await room.connect_all(stats)
        failures += refailures
        join_failures += await room.join_every(conns, head)
        give_up = min(hard_deadline, time.monotonic() + 30)
        while stats.per_message[round_no] < n and time.monotonic() < give_up:
            await asyncio.sleep(0.005)
        incomplete += stats.per_message[round_no] < n  # a client that did not come back counts too
        rss_kb.append(proc_rss_kb(pid))
    done = len(rss_kb) - 1
    half = rss_kb[(done + 1) // 2]  # after the middle round: the first rounds fill caches and pools
    errors += sum(c.errors for c in [*conns, writer])
    result = {
        "n": n,
        "rounds": done,
        "failures": failures,
        "join_failures": join_failures,
        "rounds_not_all_back": incomplete + rounds - done,
        "errors": errors,
        "last_error": next((c.last_error for c in [*conns, writer] if c.last_error), last_error),
        "server_us_per_reconnect": round(1e6 * (proc_cpu_seconds(pid) - cpu0) / max(1, n * done), 1),
        "seconds_per_round": round((time.perf_counter() - t0) / max(1, done), 2),
        "server_rss_mb_by_round": [round(kb / 1024, 1) for kb in rss_kb],
        "rss_mb_joined": round(rss_kb[0] / 1024, 1),
        "rss_mb_half": round(half / 1024, 1),
        "rss_mb_last": round(rss_kb[-1] / 1024, 1),
        "rss_mb_second_half": round((rss_kb[-1] - half) / 1024, 1),
        **deflate_figures(conns),
    }
    close_all([*conns, writer])
    await room.settle()
    return result


SCENARIOS = {
    "fanout": fanout,
    "idle": idle,
    "persist": persist,
    "recovery": recovery,
    "crossnode": crossnode,
    "joinstorm": joinstorm,
    "churn": churn,
}


def main() -> None:
    scenario, raw = sys.argv[1], sys.argv[2]
    args = json.loads(raw)
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    uvloop.install()
    # the load generator's own cyclic collector scanned its 10,000s of connections over and over
    # (~28 % of its CPU in the join storm): a run is short, its garbage is freed when it exits
    gc.disable()
    try:
        result = asyncio.run(asyncio.wait_for(SCENARIOS[scenario](args), args.get("timeout", 120)))
    except Exception as exc:  # reported, not raised: the suite goes on
        result = {"error": f"{type(exc).__name__}: {exc}"}
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
