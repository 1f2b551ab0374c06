"""``python -m bench.garbage_flood``: one client floods a node with frames that are not
JSON, as fast as its socket takes them, under the default rate limits (run on demand,
never part of the test suite).

It prints how many frames were sent before the node closed the connection (and with
which code), the server's CPU over the flood, and how many refusal records the flood
left in the log.  A frame that cannot be read must pay a rate token as any frame does:
past the burst it is ``RATE_LIMITED``, a burst is recorded once, and past the abuse
bound the connection is closed with 4008.

    python -m bench.garbage_flood              # 20,000 frames at most
    python -m bench.garbage_flood --frames 5000
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import websockets

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import servers  # noqa: E402
from bench.hostile import cpu_seconds, token  # noqa: E402
from config import Limits  # noqa: E402

ATTACKER = f"{0xBAD:024x}"
# the shipped defaults again: servers.ours starts with the bench's generous limits
_SHIPPED = Limits()
DEFAULT_LIMITS = [
    *("--rate-burst", str(_SHIPPED.rate_burst), "--rate-per-second", str(_SHIPPED.rate_per_second)),
    *("--abuse-refusals", str(_SHIPPED.abuse_refusals), "--abuse-window", str(_SHIPPED.abuse_window_seconds)),
]


async def flood(port: int, frames: int) -> tuple[int, int | None, float]:
    """Frames sent, the close code the node sent (None: it never closed), seconds taken."""
    sent, code = 0, None
    began = time.perf_counter()
    async with websockets.connect(f"ws://127.0.0.1:{port}/ws?token={token(ATTACKER)}", compression=None) as ws:
        await ws.recv()  # connected

        async def drain() -> None:
            async for _ in ws:
                pass

        reader = asyncio.ensure_future(drain())
        try:
            for n in range(frames):
                await ws.send(f"not json {n}")
                sent += 1
        except websockets.ConnectionClosed:
            pass
        with contextlib.suppress(TimeoutError, websockets.ConnectionClosed):
            await asyncio.wait_for(reader, 10)
        code = ws.close_code
    return sent, code, time.perf_counter() - began


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.garbage_flood", description=__doc__)
    parser.add_argument("--frames", type=int, default=20_000)
    opts = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="garbage-flood-") as tmp:
        work = Path(tmp)
        server = servers.ours(work, extra=DEFAULT_LIMITS)
        with servers.running(server):
            before = cpu_seconds(server.pid)
            sent, code, took = asyncio.run(flood(server.port, opts.frames))
            time.sleep(1.0)  # the refusals' records land
            cpu = cpu_seconds(server.pid) - before
        log = sqlite3.connect(work / f"events-{server.port}.db")
        refusals = log.execute("SELECT COUNT(*) FROM log WHERE outcome = 'refused'").fetchone()[0]
        result = {
            "frames_offered": opts.frames,
            "frames_sent": sent,
            "close_code": code,
            "seconds": round(took, 2),
            "server_cpu_s": round(cpu, 2),
            "refusal_records": refusals,
            "server_command": server.command,
        }
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
