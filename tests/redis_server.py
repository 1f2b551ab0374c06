"""Redis for tests: the shared one (``TEST_REDIS_URL``) under a private key
prefix, and private ``redis-server`` processes that a test may kill and restart.

Tests never restart the shared Redis; they keep to their own prefix and delete
their keys when they end.  Every process started here is stopped by its pid.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import redis

DEFAULT_URL = "redis://127.0.0.1:6379/0"


def shared_url() -> str:
    return os.environ.get("TEST_REDIS_URL", DEFAULT_URL)


def unique_prefix() -> str:
    return f"ts-test-{uuid.uuid4().hex[:12]}"


def delete_prefix(url: str, prefix: str) -> int:
    """Delete every key under ``prefix:``; returns how many went."""
    client = redis.Redis.from_url(url, socket_timeout=5)
    try:
        keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
        if keys:
            client.delete(*keys)
        return len(keys)
    finally:
        client.close()


def answers(url: str, timeout: float = 0.5) -> bool:
    client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
    try:
        return bool(client.ping())
    except (redis.RedisError, OSError):
        return False
    finally:
        client.close()


@contextlib.contextmanager
def private_prefix(url: str | None = None) -> Iterator[str]:
    """A prefix no other test uses; its keys are deleted on exit."""
    prefix = unique_prefix()
    try:
        yield prefix
    finally:
        delete_prefix(url or shared_url(), prefix)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PrivateRedis:
    """A ``redis-server`` of a test's own, without persistence: killing it loses everything."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> PrivateRedis:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with (self.data_dir / f"redis-{self.port}.log").open("ab") as out:
            self.process = subprocess.Popen(
                [
                    binary,
                    "--port",
                    str(self.port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--daemonize",
                    "no",
                    "--dir",
                    str(self.data_dir),
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.process.returncode}")
            if answers(self.url, 0.2):
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"redis-server did not answer on port {self.port}")

    def stop(self) -> None:
        """Kill the process by its pid (SIGKILL: nothing is saved)."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait(5)


@contextlib.contextmanager
def private_redis(data_dir: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(data_dir).start()
    try:
        yield server
    finally:
        server.stop()
