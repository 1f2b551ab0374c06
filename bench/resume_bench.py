"""Resume storm: N clients in trip rooms are dropped at once (TCP cut, no close
frame), miss events meanwhile, and resume at once with their tokens and
``lastSeq``.  Reports the time from the reconnect until every client holds every
event it missed, and how many events were lost or delivered twice (each client's
``seq`` list before the drop plus after the resume must be the trip's whole
range, once each).

    python -m bench.resume_bench --clients 1000 --trips 50 --missed 20

One server (``bench.servers.ours``, SQLite, pinned to core 0); this process is
the load generator.  Results go in bench/RESULTS.md with the command and the
machine's load (``uptime``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
import websockets

from bench.servers import SECRET, ours

STREAM_EVENTS = ("chat_message", "trip_updated")


def object_id(n: int) -> str:
    return f"{n:024x}"


def make_token(secret: str, user: str, role: str = "user", ttl: float = 7200) -> str:
    return str(jwt.encode({"sub": user, "role": role, "exp": int(time.time() + ttl)}, secret, algorithm="HS256"))


def rest(port: int, method: str, path: str, bearer: str, body: Any = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method)
    request.add_header("Authorization", f"Bearer {bearer}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


@dataclass
class Member:
    user: str
    trip_id: str
    ws: Any = None
    connected: dict[str, Any] = field(default_factory=dict)
    before: list[int] = field(default_factory=list)  # seqs received before the drop
    after: list[int] = field(default_factory=list)  # seqs received after the resume
    arrived: dict[int, float] = field(default_factory=dict)  # seq -> when it arrived (after the resume)
    resumed: bool | None = None
    connected_at: float = 0.0  # when its last `connected` frame arrived
    reader: asyncio.Task[None] | None = None


async def read(member: Member, into: list[int], timed: bool) -> None:
    try:
        async for raw in member.ws:
            frame = json.loads(raw)
            event, data = frame["event"], frame["data"]
            if event == "connected":
                member.connected = data
                member.resumed = data.get("resumed")
                member.connected_at = time.monotonic()
            elif event in STREAM_EVENTS and "seq" in data:
                into.append(int(data["seq"]))
                if timed:
                    member.arrived[int(data["seq"])] = time.monotonic()
    except websockets.ConnectionClosed:
        return


async def connect(url: str, member: Member, into: list[int], timed: bool) -> None:
    member.ws = await websockets.connect(url, max_size=None, open_timeout=60)
    member.reader = asyncio.ensure_future(read(member, into, timed))


async def until(check: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out: {what}")
        await asyncio.sleep(0.02)


async def chat(writer: Any, trip_id: str, n: int) -> int:
    await writer.send(
        json.dumps({"event": "chat_message", "data": {"tripId": trip_id, "message": f"m{n}"}, "ref": f"r{n}"})
    )
    while True:
        frame = json.loads(await writer.recv())
        if frame.get("ref") == f"r{n}":
            if frame["event"] == "error":
                raise RuntimeError(frame)
            return int(frame["data"]["seq"])


async def run(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        server = ours(Path(tmp), extra=["--presence-grace", "60"]).start()
        try:
            return await storm(args, server.port)
        finally:
            server.stop()


async def storm(args: argparse.Namespace, port: int) -> dict[str, Any]:
    base = f"ws://127.0.0.1:{port}/ws"
    per_trip = args.clients // args.trips
    owner = object_id(0xB0)
    owner_token = make_token(SECRET, owner)
    admin_token = make_token(SECRET, object_id(0xAD), role="admin")
    members: list[Member] = []
    trips: list[str] = []
    for t in range(args.trips):
        users = [object_id(0x1000 + t * per_trip + n) for n in range(per_trip)]
        trip = rest(port, "POST", "/api/trips", owner_token, {"title": f"resume {t}", "collaborators": users})
        trips.append(trip["tripId"])
        members += [Member(user, trip["tripId"]) for user in users]
    tokens = {m.user: make_token(SECRET, m.user) for m in members}

    # every client in its room (a join per client, 100 at a time)
    async def enter(member: Member) -> None:
        await connect(f"{base}?token={tokens[member.user]}", member, member.before, False)
        await member.ws.send(json.dumps({"event": "join_trip_room", "data": {"tripId": member.trip_id, "lastSeq": 1}}))

    for start in range(0, len(members), 100):
        await asyncio.gather(*(enter(m) for m in members[start : start + 100]))
    writers = {}
    for trip_id in trips:
        writers[trip_id] = await websockets.connect(f"{base}?token={owner_token}", max_size=None)
        await writers[trip_id].recv()  # connected
        await writers[trip_id].send(json.dumps({"event": "join_trip_room", "data": {"tripId": trip_id}}))
    heads = {trip_id: 1 for trip_id in trips}
    for trip_id in trips:  # two live events each, seen by everyone
        for n in range(2):
            heads[trip_id] = await chat(writers[trip_id], trip_id, n)
    await until(lambda: all(m.before and m.before[-1] == heads[m.trip_id] for m in members), 60, "live events")

    # the drop: every client's TCP connection cut at once
    for member in members:
        member.ws.transport.abort()
    for trip_id in trips:  # events they miss
        for n in range(args.missed):
            heads[trip_id] = await chat(writers[trip_id], trip_id, 100 + n)

    def disconnected() -> bool:
        page = rest(port, "GET", "/api/realtime/sessions?status=connected&limit=1000", admin_token)
        return len(page["sessions"]) <= len(trips)  # the writers only

    await until(disconnected, 60, "the server noticed the drops")
    for member in members:
        if member.reader is not None:
            member.reader.cancel()

    # the resume: every client at once, with its token and the last seq it holds
    def resume_url(member: Member) -> str:
        token = member.connected["resumeToken"]
        return f"{base}?token={tokens[member.user]}&resume={token}&lastSeq={member.trip_id}:{member.before[-1]}"

    async def rejoin(member: Member) -> None:
        """The comparison (``--rejoin``): a fresh session that joins its room again with ``lastSeq``."""
        await connect(f"{base}?token={tokens[member.user]}", member, member.after, True)
        join = {"tripId": member.trip_id, "lastSeq": member.before[-1]}
        await member.ws.send(json.dumps({"event": "join_trip_room", "data": join}))

    started = time.monotonic()
    if args.rejoin:
        await asyncio.gather(*(rejoin(m) for m in members))
    else:
        await asyncio.gather(*(connect(resume_url(m), m, m.after, True) for m in members))
    await until(lambda: all(m.after and m.after[-1] >= heads[m.trip_id] for m in members), 120, "caught up")
    caught_up = max(max(m.arrived.values()) for m in members) - started
    for trip_id in trips:  # then live events
        heads[trip_id] = await chat(writers[trip_id], trip_id, 999)
    await until(lambda: all(m.after[-1] >= heads[m.trip_id] for m in members), 60, "live after resume")

    lost = duplicated = 0
    for member in members:
        got = member.before + member.after
        wanted = set(range(2, heads[member.trip_id] + 1))
        lost += len(wanted - set(got))
        duplicated += len(got) - len(set(got))
    await asyncio.gather(*(member.ws.close() for member in members), *(w.close() for w in writers.values()))
    return {
        "mode": "rejoin" if args.rejoin else "resume",
        "clients": len(members),
        "trips": len(trips),
        "missed_per_client": args.missed,
        "resumed": sum(1 for m in members if m.resumed),
        "caught_up_seconds": round(caught_up, 3),
        "all_connected_seconds": round(max(m.connected_at for m in members) - started, 3),
        "lost": lost,
        "duplicated": duplicated,
        "uptime": subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip(),
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--trips", type=int, default=50)
    parser.add_argument("--missed", type=int, default=20, help="events each trip gets while its clients are away")
    parser.add_argument("--rejoin", action="store_true", help="compare: fresh sessions that rejoin with lastSeq")
    result = asyncio.run(run(parser.parse_args(argv)))
    print(json.dumps(result, indent=2))
    resumed_all = result["resumed"] == (0 if result["mode"] == "rejoin" else result["clients"])
    return 0 if result["lost"] == 0 and result["duplicated"] == 0 and resumed_all else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
