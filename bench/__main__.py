"""``python -m bench``: the benchmark suite, ours and python-socketio side by side.

Each case starts a fresh server pinned to core 0 and runs the load generator
(``bench/loadgen.py``) pinned to core 1; where the peer applies, the two servers
are run one after the other inside each round (interleaved).  Prints a table and
appends JSON lines to ``bench/out/results-<time>.jsonl``.  Every run is bounded
in time, every process is stopped by pid.  Never part of the test suite.

    python -m bench                        # every case, one round
    python -m bench --cases fanout_a,fanout_b --rounds 3
    python -m bench --quick                # shorter runs, for a smoke check
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from bench import servers
from bench.report import print_table, write_jsonl

ROOT = servers.ROOT
CASES = (
    "fanout_a",
    "fanout_a_deflate",
    "fanout_b",
    "fanout_b_deflate",
    "fanout_b8",
    "fanout_b8_deflate",
    "idle_5k",
    "idle_5k_deflate",
    "idle_10k",
    "idle_10k_deflate",
    "persist_sqlite",
    "persist_mongo",
    "crossnode",
    "crossnode_collab",
    "crossnode_cluster",
    "recovery",
    "joinstorm_100",
    "joinstorm_1k",
    "joinstorm_10k",
    "joinstorm_10k_deflate",
    "churn_5k",
)


def run_loadgen(scenario: str, args: dict[str, Any]) -> tuple[dict[str, Any], str]:
    argv = servers.pinned(servers.LOADGEN_CORE, [sys.executable, "-m", "bench.loadgen", scenario, json.dumps(args)])
    command = " ".join(shlex.quote(a) for a in argv)
    timeout = float(args.get("timeout", 120)) + 30
    try:
        done = subprocess.run(argv, cwd=str(ROOT), capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:  # subprocess.run killed it (by pid)
        return {"error": f"load generator timed out after {timeout:.0f} s"}, command
    lines = [line for line in done.stdout.decode(errors="replace").splitlines() if line.startswith("{")]
    if not lines:
        return {"error": f"no result (exit {done.returncode}): {done.stderr.decode(errors='replace')[-800:]}"}, command
    result: dict[str, Any] = json.loads(lines[-1])
    return result, command


@contextlib.contextmanager
def server_for(
    kind: str, work: Path, opts: argparse.Namespace, *, extra: list[str] | None = None, **kw: Any
) -> Iterator[servers.Server]:
    if kind == "ours":
        server = servers.ours(work, extra=[*opts.server_arg, *(extra or [])], **kw)
    elif kind == "bare":
        server = servers.bare(work)
    else:
        server = servers.peer(work, opts.peer_mode)
    with servers.running(server):
        yield server


def fanout_case(
    name: str, n: int, rate: int, duration: float, window: int, deflate: bool = False
) -> Callable[..., list[dict[str, Any]]]:
    def run(work: Path, opts: argparse.Namespace, kind: str) -> list[dict[str, Any]]:
        with server_for(kind, work, opts) as server:
            args = {
                **talk_to(server, kind, deflate),
                "n": n,
                "rate": rate,
                "duration": duration * opts.scale,
                "window": window,
                "drain": 10,
                "timeout": 150,
            }
            result, command = run_loadgen("fanout", args)
            return [row(name, server, result, command)]

    return run


def talk_to(server: Any, kind: str = "ours", deflate: bool = False) -> dict[str, Any]:
    """What every load generator scenario is told about the server under test
    (``deflate``: its clients offer permessage-deflate as Chromium does)."""
    return {
        "proto": "sio" if kind == "peer" else "ours",  # the bare server speaks our handshake
        "port": server.port,
        "secret": servers.SECRET,
        "server_pid": server.pid,
        "deflate": deflate,
    }


def row(name: str, server: Any, result: dict[str, Any], command: str) -> dict[str, Any]:
    """One result line: the case, which server, its figures and how both sides were run."""
    return {"case": name, "server": server.kind, **result, "server_command": server.command, "loadgen_command": command}


def idle_case(name: str, n: int, deflate: bool = False) -> Callable[..., list[dict[str, Any]]]:
    def run(work: Path, opts: argparse.Namespace, kind: str) -> list[dict[str, Any]]:
        with server_for(kind, work, opts) as server:
            args = {
                **talk_to(server, kind, deflate),
                "n": n,
                "concurrency": 100,
                "settle": 3,
                "timeout": 240,
            }
            result, command = run_loadgen("idle", args)
            return [row(name, server, result, command)]

    return run


def persist_case(name: str, store: str) -> Callable[..., list[dict[str, Any]]]:
    def run(work: Path, opts: argparse.Namespace, kind: str) -> list[dict[str, Any]]:
        nx = None
        store_url = None
        note = "SQLite (WAL, synchronous=FULL) on the local disk"
        if store == "mongo":
            sys.path.insert(0, str(ROOT))
            from tests.mongo_server import Nx27017, unique_database

            nx = Nx27017(work / "nx")
            base = nx.start()
            assert nx.process is not None
            servers.pin_all_threads(nx.process.pid, servers.LOADGEN_CORE)
            store_url = f"{base}{unique_database('bench')}"
            note = (
                "MongoDB adapter against nx-27017 0.8.1, a MongoDB wire-protocol test server backed by SQLite "
                "(NOT MongoDB), pinned to core 1 with the load generator"
            )
        try:
            migrate = ["--migrate"] if store == "mongo" else []
            with server_for(kind, work, opts, store_url=store_url, extra=migrate) as server:
                args = {
                    **talk_to(server),
                    "clients": 64,
                    "window": 4,
                    "duration": 10 * opts.scale,
                    "timeout": 150,
                }
                result, command = run_loadgen("persist", args)
                return [
                    {
                        "case": name,
                        "server": server.kind,
                        "store": note,
                        **result,
                        "server_command": server.command,
                        "loadgen_command": command,
                    }
                ]
        finally:
            if nx is not None:
                nx.stop()

    return run


def recovery_case(work: Path, opts: argparse.Namespace, kind: str) -> list[dict[str, Any]]:
    with server_for(kind, work, opts) as server:
        args = {
            **talk_to(server),
            "behind": 1000,
            "rounds": 20,
            "timeout": 150,
        }
        result, command = run_loadgen("recovery", args)
        return [
            {
                "case": "recovery",
                "server": server.kind,
                **result,
                "server_command": server.command,
                "loadgen_command": command,
            }
        ]


def crossnode_case(name: str, absent_collaborator: bool, cluster: bool = False) -> Callable[..., list[dict[str, Any]]]:
    def run(work: Path, opts: argparse.Namespace, kind: str) -> list[dict[str, Any]]:
        return crossnode_run(work, opts, name, absent_collaborator, cluster)

    return run


def crossnode_run(
    work: Path, opts: argparse.Namespace, name: str, absent_collaborator: bool, cluster: bool
) -> list[dict[str, Any]]:
    if not (ROOT / "eventlog" / "redis_bus.py").exists():
        return [{"case": name, "server": "ours", "skipped": "no Redis bus"}]
    redis = servers.private_cluster(work) if cluster else servers.private_redis(work)
    try:
        store = f"sqlite:///{work}/shared-{name}-{time.monotonic_ns()}.db"
        a = servers.ours(work, store_url=store, redis_url=redis.url, extra=opts.server_arg)
        b = servers.ours(work, store_url=store, redis_url=redis.url, extra=opts.server_arg, core=servers.LOADGEN_CORE)
        with servers.running(a), servers.running(b):
            args = {
                "port": a.port,
                "port_b": b.port,
                "server_pid": a.pid,
                "server_pid_b": b.pid,
                "absent_collaborator": absent_collaborator,
                "secret": servers.SECRET,
                "rate": 1000,
                "duration": 10 * opts.scale,
                "timeout": 120,
            }
            result, command = run_loadgen("crossnode", args)
            return [
                {
                    "case": name,
                    "server": "ours",
                    **result,
                    "server_command": a.command,
                    "loadgen_command": command,
                    "note": "node A (sender's) on core 0; node B, "
                    + ("the three cluster masters" if cluster else "redis-server")
                    + " and the load generator on core 1; one SQLite file shared",
                }
            ]
    finally:
        redis.stop()


def storm_case(
    name: str, n: int, deflate: bool = False, scenario: str = "joinstorm", **scenario_args: Any
) -> Callable[..., list[dict[str, Any]]]:
    def run(work: Path, opts: argparse.Namespace, kind: str) -> list[dict[str, Any]]:
        with server_for(kind, work, opts) as server:
            args = {**talk_to(server, kind, deflate), "n": n, "visible": 100, "timeout": 120 + n / 25, **scenario_args}
            result, command = run_loadgen(scenario, args)
            return [row(name, server, result, command)]

    return run


def suite() -> dict[str, tuple[Callable[..., list[dict[str, Any]]], tuple[str, ...]]]:
    both = ("ours", "peer")
    with_bare = ("ours", "peer", "bare")
    return {
        "fanout_a": (fanout_case("fanout_a", 1000, 200, 10, 0), with_bare),
        "fanout_a_deflate": (fanout_case("fanout_a_deflate", 1000, 200, 10, 0, deflate=True), both),
        "fanout_b": (fanout_case("fanout_b", 100, 0, 10, 32), with_bare),
        "fanout_b_deflate": (fanout_case("fanout_b_deflate", 100, 0, 10, 32, deflate=True), both),
        "fanout_b8": (fanout_case("fanout_b8", 100, 0, 10, 8), with_bare),
        "fanout_b8_deflate": (fanout_case("fanout_b8_deflate", 100, 0, 10, 8, deflate=True), both),
        "idle_5k": (idle_case("idle_5k", 5000), with_bare),
        "idle_5k_deflate": (idle_case("idle_5k_deflate", 5000, deflate=True), both),
        "idle_10k": (idle_case("idle_10k", 10000), with_bare),
        "idle_10k_deflate": (idle_case("idle_10k_deflate", 10000, deflate=True), both),
        "persist_sqlite": (persist_case("persist_sqlite", "sqlite"), ("ours",)),
        "persist_mongo": (persist_case("persist_mongo", "mongo"), ("ours",)),
        "crossnode": (crossnode_case("crossnode", False), ("ours",)),
        "crossnode_collab": (crossnode_case("crossnode_collab", True), ("ours",)),
        "crossnode_cluster": (crossnode_case("crossnode_cluster", False, cluster=True), ("ours",)),
        "recovery": (recovery_case, ("ours",)),
        "joinstorm_100": (storm_case("joinstorm_100", 100, missed=10), ("ours",)),
        "joinstorm_1k": (storm_case("joinstorm_1k", 1000, missed=10), ("ours",)),
        "joinstorm_10k": (storm_case("joinstorm_10k", 10000, missed=10), ("ours",)),
        "joinstorm_10k_deflate": (storm_case("joinstorm_10k_deflate", 10000, deflate=True, missed=10), ("ours",)),
        "churn_5k": (storm_case("churn_5k", 5000, scenario="churn", rounds=24), ("ours",)),
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cases", default=",".join(CASES), help=f"comma list of {', '.join(CASES)}")
    parser.add_argument("--rounds", type=int, default=1, help="repeat each case, ours and peer interleaved")
    parser.add_argument("--peer-mode", default="aiohttp", choices=("aiohttp", "uvicorn"))
    parser.add_argument("--server-arg", action="append", default=[], help="extra flag for app.py (repeatable)")
    parser.add_argument("--quick", action="store_true", help="runs 3x shorter (smoke check, not for the record)")
    parser.add_argument("--no-peer", action="store_true")
    parser.add_argument("--label", default="", help="free text stored with every row (say which change)")
    opts = parser.parse_args(argv)
    opts.scale = 1 / 3 if opts.quick else 1.0
    table = suite()
    wanted = [c.strip() for c in opts.cases.split(",") if c.strip()]
    unknown = [c for c in wanted if c not in table]
    if unknown:
        parser.error(f"unknown case(s): {', '.join(unknown)}")
    out_dir = ROOT / "bench" / "out"
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    out = out_dir / f"results-{stamp}.jsonl"
    git = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout
    meta = {
        "when": stamp,
        "commit": git.strip(),
        "label": opts.label,
        "command": " ".join(["python -m bench", *argv]),
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
    }
    rows: list[dict[str, Any]] = []
    with servers.workdir() as work:
        for case in wanted:
            run, kinds = table[case]
            for round_no in range(1, opts.rounds + 1):
                for kind in kinds:
                    if kind != "ours" and opts.no_peer:
                        continue
                    started = time.monotonic()
                    try:
                        got = run(work, opts, kind)
                    except Exception as exc:
                        got = [{"case": case, "server": kind, "error": f"{type(exc).__name__}: {exc}"}]
                    for row in got:
                        row.update(round=round_no, wall_s=round(time.monotonic() - started, 1), **meta)
                        rows.append(row)
                        write_jsonl(out, row)
                        print(
                            f"# {case} {row.get('server')} round {round_no}: done in {row['wall_s']} s",
                            file=sys.stderr,
                            flush=True,
                        )
    print_table(rows)
    print(f"\nJSON lines: {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
