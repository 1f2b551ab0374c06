"""Servers under test, started pinned to core 0 and stopped by pid.

``ours`` is ``app.py`` on a fresh SQLite store (or a MongoDB URL) in a temp dir;
``peer`` is the python-socketio server in ``bench/peers``; ``bare`` a bare Tornado
WebSocket server there, the floor of the connection cases.  Every process is
started with ``taskset -c CORE`` when ``taskset`` exists.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.redis_cluster import PrivateCluster
    from tests.redis_server import PrivateRedis

ROOT = Path(__file__).resolve().parent.parent
SECRET = "bench-secret-not-for-production-0123456789"
SERVER_CORE = "0"
LOADGEN_CORE = "1"

# generous limits: the bench measures delivery, not the abuse guards
OUR_LIMITS = [
    "--max-connections", "20000", "--max-connections-per-user", "20000", "--max-connections-per-ip", "20000",
    "--connect-burst", "100000", "--connect-per-second", "100000",
    "--rate-burst", "100000", "--rate-per-second", "100000", "--abuse-refusals", "100000",
    "--outbound-max-frames", "100000", "--outbound-max-bytes", str(256 * 1024 * 1024),
]  # fmt: skip


def pinned(core: str, argv: list[str]) -> list[str]:
    return ["taskset", "-c", core, *argv] if shutil.which("taskset") else argv


def pin_all_threads(pid: int, core: str) -> None:
    if shutil.which("taskset"):
        subprocess.run(["taskset", "-a", "-p", "-c", core, str(pid)], check=False, capture_output=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    def __init__(self, kind: str, argv: list[str], port: int, workdir: Path, env: dict[str, str]) -> None:
        self.kind = kind
        self.argv = argv
        self.port = port
        self.workdir = workdir
        self.env = env
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    @property
    def command(self) -> str:
        return " ".join(self.argv)

    def start(self, timeout: float = 30.0) -> Server:
        log = (self.workdir / f"{self.kind}-{self.port}.log").open("ab")
        self.proc = subprocess.Popen(
            self.argv, cwd=str(ROOT), env={**os.environ, **self.env}, stdout=log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.kind} exited with {self.proc.returncode}: {self.log_tail()}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=1) as response:
                    if response.status == 200:
                        return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"{self.kind} not ready: {self.log_tail()}")

    def log_tail(self) -> str:
        path = self.workdir / f"{self.kind}-{self.port}.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""

    def stop(self, timeout: float = 20.0) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def ours(
    workdir: Path,
    *,
    store_url: str | None = None,
    redis_url: str | None = None,
    extra: list[str] | None = None,
    core: str = SERVER_CORE,
) -> Server:
    port = free_port()
    store = store_url or f"sqlite:///{workdir}/events-{port}.db"
    argv = pinned(
        core,
        [
            sys.executable,
            str(ROOT / "app.py"),
            "--port",
            str(port),
            "--store",
            store,
            "--log-level",
            "WARNING",
            *OUR_LIMITS,
            *(extra or []),
        ],
    )
    if redis_url:
        argv += ["--redis", redis_url]
    return Server("ours", argv, port, workdir, {"JWT_SECRET": SECRET})


def peer(workdir: Path, mode: str = "aiohttp", core: str = SERVER_CORE) -> Server:
    port = free_port()
    argv = pinned(
        core,
        [sys.executable, str(ROOT / "bench" / "peers" / "socketio_server.py"), "--port", str(port), "--mode", mode],
    )
    return Server("python-socketio", argv, port, workdir, {"JWT_SECRET": SECRET})


def bare(workdir: Path, core: str = SERVER_CORE) -> Server:
    """A bare Tornado WebSocket server (``bench/peers/bare_tornado.py``): the connection cases'
    floor, and the fan-out cases' baseline (it does not coalesce frames)."""
    port = free_port()
    argv = pinned(core, [sys.executable, str(ROOT / "bench" / "peers" / "bare_tornado.py"), "--port", str(port)])
    return Server("bare-tornado", argv, port, workdir, {})


@contextlib.contextmanager
def running(server: Server) -> Iterator[Server]:
    server.start()
    try:
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def workdir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="ts-bench-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def private_redis(workdir: Path) -> PrivateRedis:
    """The test suite's private redis-server (nothing persisted, stopped by pid),
    moved to the load generator's core once it answers."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from tests.redis_server import PrivateRedis

    redis = PrivateRedis(workdir).start()
    assert redis.process is not None
    pin_all_threads(redis.process.pid, LOADGEN_CORE)
    return redis


def private_cluster(workdir: Path) -> PrivateCluster:
    """The test suite's private three-master Redis Cluster (nothing persisted, stopped by pid),
    moved to the load generator's core once it answers."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from tests.redis_cluster import PrivateCluster

    cluster = PrivateCluster(workdir / "redis-cluster").start()
    for process in cluster.processes:
        pin_all_threads(process.pid, LOADGEN_CORE)
    return cluster
