"""What the bus costs per message: each reading node's CPU and Redis's, on one Redis and on a cluster.

    python -m bench.bus_bench [--messages 50000] [--readers 3] [--cluster]

A private ``redis-server`` (or a private three-master Redis Cluster), pinned
to core 1, and ``--readers`` reader processes (each one ``RedisStreamsBus``
that hands every message to a no-op, as a node with no member in the room
does), then one publisher process that publishes ``--messages`` room messages
of 40 trips, about 300 bytes each, as fast as the bus takes them.  Each reader
reports its own CPU time from its first to its last message; Redis's CPU comes
from ``/proc`` (every master's, summed).  Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import servers

ROOT = servers.ROOT
TRIPS = [f"{0x650000000000000000000000 + n:024x}" for n in range(40)]


def proc_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def message(n: int) -> dict[str, Any]:
    trip = TRIPS[n % len(TRIPS)]
    data = {"messageId": f"{n:024x}", "tripId": trip, "userId": "u" * 24, "message": "x" * 120, "seq": n}
    return {"kind": "room", "tripId": trip, "event": "chat_message", "data": data, "seq": n}


async def read(url: str, prefix: str, count: int) -> None:
    from eventlog.redis_bus import RedisStreamsBus

    got = 0
    first = 0.0
    done = asyncio.Event()

    def deliver(_message: dict[str, Any]) -> None:
        nonlocal got, first
        if got == 0:
            first = time.process_time()
        got += 1
        if got >= count:
            done.set()

    bus = RedisStreamsBus(url, prefix=prefix)
    await bus.start(deliver)
    print("ready", flush=True)
    await asyncio.wait_for(done.wait(), 600)
    cpu = time.process_time() - first
    print(json.dumps({"received": got, "cpu_s": cpu, "resyncs": bus.stats.resyncs}), flush=True)
    await bus.close()


async def publish(url: str, prefix: str, count: int) -> None:
    from eventlog.redis_bus import RedisStreamsBus

    bus = RedisStreamsBus(url, prefix=prefix)
    await bus.start(lambda _message: None)
    started = time.monotonic()
    for n in range(count):
        await bus.publish(message(n))
        if n % 256 == 0:
            await asyncio.sleep(0)  # let the writer drain the outbox
    while bus.metrics()["bus_outbox_size"]:
        await asyncio.sleep(0.01)
    print(json.dumps({"published": count, "wall_s": time.monotonic() - started}), flush=True)
    await bus.close()


def run(opts: argparse.Namespace) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="ts-bus-bench-"))
    if opts.cluster:
        cluster = servers.private_cluster(work)
        url, pids, stop = cluster.url, [p.pid for p in cluster.processes], cluster.stop
    else:
        redis = servers.private_redis(work)
        assert redis.process is not None
        url, pids, stop = redis.url, [redis.process.pid], redis.stop
    prefix = f"bus-bench-{os.getpid()}"
    me = [sys.executable, "-m", "bench.bus_bench"]
    readers: list[subprocess.Popen[str]] = []
    try:
        for _ in range(opts.readers):
            argv = servers.pinned(servers.SERVER_CORE, [*me, "--role", "reader", "--url", url, "--prefix", prefix])
            argv += ["--messages", str(opts.messages)]
            reader = subprocess.Popen(argv, cwd=str(ROOT), stdout=subprocess.PIPE, text=True)
            readers.append(reader)
            assert reader.stdout is not None
            assert reader.stdout.readline().strip() == "ready"
        redis_before = sum(proc_cpu(pid) for pid in pids)
        argv = servers.pinned(servers.SERVER_CORE, [*me, "--role", "publisher", "--url", url, "--prefix", prefix])
        argv += ["--messages", str(opts.messages)]
        published = json.loads(subprocess.run(argv, cwd=str(ROOT), capture_output=True, text=True, timeout=900).stdout)
        results = []
        for reader in readers:
            out, _ = reader.communicate(timeout=900)
            results.append(json.loads(out.strip().splitlines()[-1]))
        redis_cpu = sum(proc_cpu(pid) for pid in pids) - redis_before
    finally:
        for reader in readers:
            if reader.poll() is None:
                reader.kill()
                reader.wait(5)
        stop()
    per_reader = [r["cpu_s"] / r["received"] * 1e6 for r in results]
    return {
        "bus": "cluster (3 masters)" if opts.cluster else "one Redis",
        "messages": opts.messages,
        "readers": opts.readers,
        "publish_wall_s": round(published["wall_s"], 2),
        "reader_us_per_message": [round(v, 1) for v in per_reader],
        "redis_us_per_message": round(redis_cpu / opts.messages * 1e6, 1),
        "redis_us_per_message_per_reader": round(redis_cpu / opts.messages / opts.readers * 1e6, 1),
        "resyncs": sum(r["resyncs"] for r in results),
        "command": " ".join(["python -m bench.bus_bench", *opts.argv]),
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bus_bench", description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=50_000)
    parser.add_argument("--readers", type=int, default=3)
    parser.add_argument("--cluster", action="store_true")
    parser.add_argument("--role", choices=("reader", "publisher"), help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--prefix", help=argparse.SUPPRESS)
    opts = parser.parse_args(argv)
    opts.argv = argv
    if opts.role == "reader":
        asyncio.run(read(opts.url, opts.prefix, opts.messages))
        return 0
    if opts.role == "publisher":
        asyncio.run(publish(opts.url, opts.prefix, opts.messages))
        return 0
    print(json.dumps(run(opts)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
