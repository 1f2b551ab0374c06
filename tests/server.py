"""Real server processes for end-to-end tests, and a small WebSocket client.

Every process started here is stopped by its pid when its test ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import websockets

ROOT = Path(__file__).resolve().parent.parent
SECRET = "test-secret-not-for-production-0123456789"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def object_id(n: int) -> str:
    return f"{n:024x}"


def token(user: str, *, role: str = "user", name: str | None = None, ttl: float = 3600, **claims: Any) -> str:
    body: dict[str, Any] = {"sub": user, "role": role, "exp": int(time.time() + ttl), **claims}
    if name is not None:
        body["name"] = name
    return str(jwt.encode(body, SECRET, algorithm="HS256"))


class ServerProcess:
    def __init__(self, store_url: str, *, args: list[str] | None = None, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.store_url = store_url
        self.args = args or []
        self.env = env or {}
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path: Path | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_base(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def start(self, log_dir: Path, *, wait: bool = True) -> ServerProcess:
        env = {**os.environ, "JWT_SECRET": SECRET, **self.env}
        self.log_path = log_dir / f"server-{self.port}.log"
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "app.py"), "--port", str(self.port), "--store", self.store_url, *self.args],
            cwd=str(log_dir),
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}: {self.read_log()}")
            try:
                with urllib.request.urlopen(f"{self.base}/healthz", timeout=1) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"server not ready: {self.read_log()}")

    def read_log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path and self.log_path.exists() else ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        return self.proc.returncode

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    def request(
        self, method: str, path: str, *, body: Any = None, bearer: str | None = None, raw: bytes | None = None
    ) -> tuple[int, Any]:
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        req = urllib.request.Request(f"{self.base}{path}", data=data, method=method)
        if bearer is not None:
            req.add_header("Authorization", f"Bearer {bearer}")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=10) as response:
                text = response.read()
                status = response.status
        except urllib.error.HTTPError as err:
            text = err.read()
            status = err.code
        try:
            return status, json.loads(text) if text else None
        except ValueError:
            return status, text.decode(errors="replace")


@contextlib.contextmanager
def running(store_url: str, log_dir: Path, **kwargs: Any) -> Iterator[ServerProcess]:
    server = ServerProcess(store_url, **kwargs).start(log_dir)
    try:
        yield server
    finally:
        server.stop()


class Client:
    """A WebSocket client that keeps every frame it receives, in order."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.frames: list[dict[str, Any]] = []
        self._cursor = 0

    @classmethod
    async def connect(cls, server: ServerProcess, bearer: str, query: str = "", **kwargs: Any) -> Client:
        ws = await websockets.connect(f"{server.ws_base}/ws?token={bearer}{query}", max_size=None, **kwargs)
        client = cls(ws)
        connected = await client.next_frame()
        assert connected["event"] == "connected", connected
        return client

    async def send(self, event: str, data: Any, ref: str | None = None) -> None:
        frame: dict[str, Any] = {"event": event, "data": data}
        if ref is not None:
            frame["ref"] = ref
        await self.ws.send(json.dumps(frame))

    async def send_raw(self, text: str | bytes) -> None:
        await self.ws.send(text)

    async def next_frame(self, timeout: float = 5.0) -> dict[str, Any]:
        if self._cursor < len(self.frames):
            self._cursor += 1
            return self.frames[self._cursor - 1]
        raw = await asyncio.wait_for(self.ws.recv(), timeout)
        frame = json.loads(raw)
        self.frames.append(frame)
        self._cursor += 1
        return frame

    async def expect(self, event: str, timeout: float = 5.0) -> dict[str, Any]:
        """The next frame named ``event``, skipping others (they stay recorded)."""
        deadline = time.monotonic() + timeout
        while True:
            frame = await self.next_frame(max(0.01, deadline - time.monotonic()))
            if frame["event"] == event:
                return frame

    async def request(self, event: str, data: Any, ref: str, reply: str, timeout: float = 5.0) -> dict[str, Any]:
        """Send with a ref and return the reply (or error) that echoes it."""
        await self.send(event, data, ref)
        deadline = time.monotonic() + timeout
        while True:
            frame = await self.next_frame(max(0.01, deadline - time.monotonic()))
            if frame.get("ref") == ref and frame["event"] in (reply, "error"):
                return frame

    async def silent_for(self, seconds: float) -> list[dict[str, Any]]:
        """Frames that arrive within ``seconds`` (an empty list proves silence)."""
        got = []
        deadline = time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return got
            try:
                got.append(await self.next_frame(left))
            except (TimeoutError, websockets.ConnectionClosed):
                return got

    async def close(self) -> None:
        await self.ws.close()
