"""Notifications bench: a node's memory as many users open their notifications (issue #15).

    python -m bench.notification_bench --store sqlite:////abs/events.db [--users 5000] [--again 5000]

On a log made by ``python -m bench.replay_bench`` (its users get notifications),
a real server process (``app.py`` pinned to core 0, this client on core 1) is
started on the store; then each of ``--users`` notified users (random order)
asks for ``GET /api/notifications`` once, as themselves, then ``--again``
random ones ask again.  Reports the server's RSS after start-up and after each
step, its start-up time (a store's upgrade included), and latency percentiles
(measured by the client: loopback HTTP included).  ``--`` passes the rest to
the server (``-- --notification-cache 4``).  Prints one JSON object per row.
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import jwt

from bench import servers
from bench.scale_bench import Rest, Timings, rss_mib

GENEROUS = ["--rest-burst", "1000000", "--rest-per-second", "1000000"]
GENEROUS += ["--rest-ip-burst", "1000000", "--rest-ip-per-second", "1000000"]


def user_token(user: str) -> str:
    claims = {"sub": user, "role": "user", "exp": int(time.time() + 86_400)}
    return str(jwt.encode(claims, servers.SECRET, algorithm="HS256"))


def notified_users(path: str) -> list[str]:
    """Every user a notification was created for (a scan of the log: works on every schema version)."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        rows = conn.execute(
            "SELECT DISTINCT json_extract(event.value, '$.data.userId')"
            " FROM log, json_each(CAST(COALESCE(log.events, json_extract(log.body, '$.events')) AS TEXT)) AS event"
            " WHERE instr(CAST(COALESCE(log.events, log.body) AS TEXT), '\"notification_created\"') > 0"
            " AND json_extract(event.value, '$.type') = 'notification_created'"
        ).fetchall()
    return sorted(row[0] for row in rows if row[0])


def ask(port: int, users: list[str], label: str) -> Timings:
    timings = Timings()
    for user in users:
        rest = Rest(port, user_token(user))
        took, items = rest.get("/api/notifications")
        timings.add(label, took)
        rest.close()
        if not isinstance(items, list | dict):
            raise RuntimeError(f"unexpected answer for {user}: {items!r}")
    return timings


def run(opts: argparse.Namespace, extra: list[str]) -> list[dict[str, Any]]:
    path = opts.store.removeprefix("sqlite:///")
    users = notified_users(path)
    rng = random.Random(opts.seed)
    rng.shuffle(users)
    users = users[: opts.users]
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as work:
        node = servers.ours(Path(work), store_url=opts.store, extra=[*GENEROUS, *extra])
        started = time.monotonic()
        node.start(timeout=600)
        try:
            servers.pin_all_threads(node.pid, servers.SERVER_CORE)
            rows.append(
                {"step": "started", "startup_s": round(time.monotonic() - started, 2), "rss_mib": rss_mib(node.pid)}
            )
            timings = ask(node.port, users, "first ask")
            rows.append({"step": f"{len(users):,} users asked once", "rss_mib": rss_mib(node.pid), **timings.summary()})
            timings = ask(node.port, [rng.choice(users) for _ in range(opts.again)], "ask again")
            rows.append(
                {"step": f"{opts.again:,} random users asked again", "rss_mib": rss_mib(node.pid), **timings.summary()}
            )
        finally:
            node.stop()
    return rows


def main(argv: list[str]) -> int:
    extra: list[str] = []
    if "--" in argv:
        argv, extra = argv[: argv.index("--")], argv[argv.index("--") + 1 :]
    parser = argparse.ArgumentParser(prog="python -m bench.notification_bench", description=__doc__.split("\n")[0])
    parser.add_argument("--store", required=True, help="sqlite:////abs/path of a replay_bench log")
    parser.add_argument("--users", type=int, default=5000, help="notified users who ask once (at most)")
    parser.add_argument("--again", type=int, default=5000, help="random asks after that")
    parser.add_argument("--seed", type=int, default=1)
    opts = parser.parse_args(argv)
    for row in run(opts, extra):
        print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
