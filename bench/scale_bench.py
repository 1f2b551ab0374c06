"""Scale bench: a node's memory and a trip's first open on a big log (issue: bounded memory).

    python -m bench.scale_bench --records 1000000 [--budget 256] [--random 10000]

On an SQLite log of ``--records`` records over ``--trips`` trips, one of them
with ``--big`` stream records (``bench/scale_log.py`` writes it in bulk, once,
into ``--data``), a real server process (``app.py`` pinned to core 0, this
client on core 1) is started with ``--cache-budget``; then, over REST as an
admin, as a client opening a trip does:

1. every trip once, in random order: ``GET /api/trips/{id}`` (first open) and
   ``GET /api/trips/{id}/messages`` (newest history page), then the page before
   it (``?before=``, older history, read from the store); meanwhile a second
   client (its own process) reads the newest page of a trip already opened every
   ~5 ms (``history page, another client meanwhile``: what a page waits for while
   the node folds long streams and writes snapshots; ``--no-pages-alongside``: not);
2. ``--random`` trips drawn uniformly, the same three requests;
3. the big trip on ``--fresh-opens`` fresh nodes, one after the other: its
   first open from the snapshot the first node wrote; then once more with its
   snapshots deleted (the whole stream folded).

Reports the server's RSS after start-up and after each step, its start-up time,
and latency percentiles per request kind (measured by the client: loopback HTTP
included).  Prints one JSON object per row and a Markdown table.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import multiprocessing
import os
import random
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import jwt
import orjson

from bench import servers
from bench.scale_log import log_name, write_log

DEFAULT_DATA = Path(tempfile.gettempdir()) / "travelsense-scale-bench"
ADMIN = "6a0000000000000000000001"


def admin_token() -> str:
    claims = {"sub": ADMIN, "role": "admin", "exp": int(time.time() + 86_400)}
    return str(jwt.encode(claims, servers.SECRET, algorithm="HS256"))


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(pid: int) -> float:
    """The process's CPU time so far (user + system, all threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def load_average() -> str:
    return " ".join(f"{value:.1f}" for value in os.getloadavg())


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] if ordered else 0.0


class Rest:
    """One keep-alive HTTP connection to the server, timing each request."""

    def __init__(self, port: int, token: str) -> None:
        self._connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self._headers = {"Authorization": f"Bearer {token}"}

    def get(self, path: str) -> tuple[float, Any]:
        started = time.perf_counter()
        self._connection.request("GET", path, headers=self._headers)
        response = self._connection.getresponse()
        body = response.read()
        took = time.perf_counter() - started
        if response.status != 200:
            raise RuntimeError(f"GET {path}: {response.status} {body[:300]!r}")
        return took, orjson.loads(body)

    def close(self) -> None:
        self._connection.close()


class Timings:
    def __init__(self) -> None:
        self.samples: dict[str, list[float]] = {}

    def add(self, kind: str, seconds: float) -> None:
        self.samples.setdefault(kind, []).append(seconds)

    def count(self) -> int:
        return sum(len(values) for values in self.samples.values())

    def summary(self) -> dict[str, dict[str, float]]:
        return {
            kind: {
                "n": len(values),
                "p50_ms": round(percentile(values, 0.5) * 1000, 2),
                "p99_ms": round(percentile(values, 0.99) * 1000, 2),
                "max_ms": round(max(values) * 1000, 2),
            }
            for kind, values in self.samples.items()
        }


def open_each(rest: Rest, trip_ids: list[str], label: str, opened: Any = None) -> Timings:
    """Open each trip as a client does (the trip, its newest chat page, the page before it), timed
    (``opened``: a shared counter of the trips opened so far, for ``pages_alongside``)."""
    timings = Timings()
    for trip_id in trip_ids:
        if opened is not None:
            opened.value += 1
        took, _ = rest.get(f"/api/trips/{trip_id}")
        timings.add(label, took)
        took, page = rest.get(f"/api/trips/{trip_id}/messages?limit=50")
        timings.add("history page (newest 50)", took)
        messages = page["messages"] if isinstance(page, dict) else page
        if messages:
            before = messages[0]["messageId"]
            took, _ = rest.get(f"/api/trips/{trip_id}/messages?limit=50&before={before}")
            timings.add("history page (older 50)", took)
    return timings


PAGES_ALONGSIDE = "history page, another client meanwhile"


def pages_alongside(port: int, token: str, order: list[str], opened: Any, stop: Any, out: Any) -> None:
    """A second client (its own process and connection): every ~5 ms, the newest history page of
    a trip the first client has opened already, while it opens others.  What a page waits for
    while the node folds long streams and writes snapshots for someone else."""
    rest, rng, samples = Rest(port, token), random.Random(2), []
    while not stop.is_set():
        count = opened.value
        if count:
            took, _ = rest.get(f"/api/trips/{order[rng.randrange(count)]}/messages?limit=50")
            samples.append(took)
        time.sleep(0.005)
    rest.close()
    out.put(samples)


def trip_ids(path: Path) -> tuple[list[str], str]:
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute("SELECT stream, MAX(version) FROM log WHERE version IS NOT NULL GROUP BY stream").fetchall()
    finally:
        conn.close()
    biggest = max(rows, key=lambda row: row[1])[0]
    return sorted(row[0] for row in rows), biggest


def snapshot_count(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute("SELECT COUNT(*) FROM snapshots").fetchone()[0])
    finally:
        conn.close()


def delete_snapshots(path: Path, stream: str) -> None:
    conn = sqlite3.connect(path)
    try:
        conn.execute("DELETE FROM snapshots WHERE stream = ?", (stream,))
        conn.commit()
    finally:
        conn.close()


def start_node(work: Path, store: str, budget: int) -> tuple[servers.Server, float]:
    node = servers.ours(work, store_url=store, extra=["--cache-budget", str(budget)])
    started = time.monotonic()
    node.start(timeout=300)
    return node, time.monotonic() - started


def open_every_trip(
    opts: argparse.Namespace,
    work: Path,
    store: str,
    trips: list[str],
    token: str,
    base: dict[str, Any],
    rng: random.Random,
) -> list[dict[str, Any]]:
    """Steps 1 and 2 on one node: every trip once, then random ones."""
    rows: list[dict[str, Any]] = []
    node, startup = start_node(work, store, opts.budget)
    try:
        servers.pin_all_threads(node.pid, servers.SERVER_CORE)
        rows.append(
            {
                **base,
                "step": "started",
                "startup_s": round(startup, 2),
                "rss_mib": rss_mib(node.pid),
                "load_average": load_average(),
            }
        )
        rest = Rest(node.port, token)
        order = list(trips)
        rng.shuffle(order)
        for step, chosen, label in (
            (f"every trip opened once ({len(trips):,})", order, "first open"),
            (f"{opts.random:,} random trips opened", [rng.choice(trips) for _ in range(opts.random)], "open"),
        ):
            # during the first sweep (folds of whole streams when the log has no snapshots), a second
            # client reads pages of the trips opened so far; its requests are not in the CPU figure
            alongside = label == "first open" and opts.pages_alongside
            if alongside:
                out: multiprocessing.Queue[list[float]] = multiprocessing.Queue()
                opened, stop = multiprocessing.Value("i", 0, lock=False), multiprocessing.Event()
                args = (node.port, token, chosen, opened, stop, out)
                other = multiprocessing.Process(target=pages_alongside, args=args)
                other.start()
            cpu, started = cpu_seconds(node.pid), time.monotonic()
            timings = open_each(rest, chosen, label, opened if alongside else None)
            cpu, wall = cpu_seconds(node.pid) - cpu, time.monotonic() - started
            if alongside:
                stop.set()
                for took in out.get(timeout=60):
                    timings.add(PAGES_ALONGSIDE, took)
                other.join()
            rows.append(
                {
                    **base,
                    "step": step,
                    "rss_mib": rss_mib(node.pid),
                    # the server's own CPU per request (what a request costs, without waiting for a core)
                    "server_cpu_ms_per_request": round(
                        cpu * 1000 / (timings.count() - len(timings.samples.get(PAGES_ALONGSIDE, ()))), 2
                    ),
                    "wall_s": round(wall, 1),
                    "load_average": load_average(),
                    **timings.summary(),
                }
            )
        rest.close()
    finally:
        node.stop()
    return rows


def run(opts: argparse.Namespace) -> list[dict[str, Any]]:
    data = Path(opts.data)
    data.mkdir(parents=True, exist_ok=True)
    path = data / log_name(opts.records, opts.trips, opts.big)
    rows: list[dict[str, Any]] = []
    if not path.exists():
        print(f"writing {opts.records:,} records to {path} ...", file=sys.stderr, flush=True)
        seconds = asyncio.run(write_log(str(path), opts.records, trips=opts.trips, users=opts.users, big=opts.big))
        rows.append({"step": "log written", "records": opts.records, "seconds": round(seconds, 1)})
    trips, big = trip_ids(path)
    token = admin_token()
    store = f"sqlite:///{path}"
    rng = random.Random(opts.seed)
    base = {"records": opts.records, "budget_mib": opts.budget, "log_mib": round(path.stat().st_size / 2**20)}
    with servers.workdir() as work:
        if not opts.only_big:
            rows.extend(open_every_trip(opts, work, store, trips, token, base, rng))
        rows.append({**base, "step": "snapshots in the store after the run", "snapshots": snapshot_count(path)})
        for label, wipe, times in (
            ("from its snapshot", False, opts.fresh_opens),
            ("with no snapshot (whole stream folded)", True, 1),
        ):
            if wipe:
                delete_snapshots(path, big)
            timings, startups, rss, version = Timings(), [], 0.0, 0
            for _ in range(times):
                node, startup = start_node(work, store, opts.budget)
                try:
                    servers.pin_all_threads(node.pid, servers.SERVER_CORE)
                    rest = Rest(node.port, token)
                    # the node's first request pays for warming up (first trip loaded, first token checked):
                    # timed apart, on another trip
                    took, _ = rest.get(f"/api/trips/{trips[-1]}")
                    timings.add("first request on the node (another trip)", took)
                    took, trip = rest.get(f"/api/trips/{big}")
                    timings.add("first open", took)
                    took, _ = rest.get(f"/api/trips/{big}/messages?limit=50")
                    timings.add("history page (newest 50)", took)
                    startups.append(startup)
                    rss, version = rss_mib(node.pid), int(trip["version"])
                    rest.close()
                finally:
                    node.stop()
            rows.append(
                {
                    **base,
                    "step": f"big trip ({version:,} events) on {times} fresh node(s), {label}",
                    "startup_s": round(max(startups), 2),
                    "rss_mib": rss,
                    "load_average": load_average(),
                    **timings.summary(),
                }
            )
    return rows


def markdown(rows: list[dict[str, Any]]) -> str:
    kinds = ("first open", "open", "history page (newest 50)", "history page (older 50)", PAGES_ALONGSIDE)
    lines = [
        "| records | budget | step | start-up | RSS | "
        + " | ".join(f"{k} p50/p99" for k in kinds)
        + " | server CPU/request | load average |",
        "| --- | --- | --- | --- | --- | " + " | ".join("---" for _ in kinds) + " | --- | --- |",
    ]
    for row in rows:
        if "rss_mib" not in row:
            continue
        cells = []
        for kind in kinds:
            found = row.get(kind)
            cells.append(f"{found['p50_ms']} / {found['p99_ms']} ms" if found else "")
        startup = f"{row['startup_s']} s" if "startup_s" in row else ""
        lines.append(
            f"| {row['records']:,} | {row['budget_mib']} MiB | {row['step']} | {startup} | {row['rss_mib']:.0f} MiB | "
            + " | ".join(cells)
            + f" | {row.get('server_cpu_ms_per_request', '')} | {row.get('load_average', '')} |"
        )
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scale_bench", description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--trips", type=int, default=2000)
    parser.add_argument("--users", type=int, default=5000)
    parser.add_argument("--big", type=int, default=100_000, help="stream records of the one big trip")
    parser.add_argument("--budget", type=int, default=256, help="the node's --cache-budget (MiB)")
    parser.add_argument("--random", type=int, default=10_000, help="random trips opened after every trip once")
    parser.add_argument("--fresh-opens", type=int, default=5, help="fresh nodes opening the big trip from its snapshot")
    parser.add_argument("--only-big", action="store_true", help="only step 3 (snapshots of an earlier run)")
    parser.add_argument(
        "--no-pages-alongside",
        dest="pages_alongside",
        action="store_false",
        help="no second client reading pages during the first sweep",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--data", default=str(DEFAULT_DATA), help="where generated logs are kept")
    opts = parser.parse_args(argv)
    rows = run(opts)
    for row in rows:
        print(json.dumps(row))
    print(markdown(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
