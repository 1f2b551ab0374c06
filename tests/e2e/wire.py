"""Low-level helpers for the hostile-client tests (limits, security, fuzzing, shutdown).

``tests/server.py`` speaks the protocol like a well-behaved client; these helpers
misbehave on purpose: a raw socket that completes the WebSocket handshake and
then never reads or answers pings, frames built by hand, handshakes whose
refusal status and JSON body are read back, and the audit log read as an admin.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import os
import socket
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from tests.server import ServerProcess, object_id, token

ADMIN = object_id(0x99)


@dataclass
class Refusal:
    status: int
    headers: dict[str, str]
    body: Any


def handshake(
    server: ServerProcess, query: dict[str, str] | str, headers: dict[str, str] | None = None, *, timeout: float = 5
) -> Refusal:
    """Send an upgrade request and read the answer (101, or a refusal with its JSON body)."""
    path = "/ws?" + (query if isinstance(query, str) else urlencode(query))
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=timeout)
    try:
        conn.putrequest("GET", path, skip_accept_encoding=True)
        sent = {
            "Upgrade": "websocket",
            "Connection": "Upgrade",
            "Sec-WebSocket-Version": "13",
            "Sec-WebSocket-Key": base64.b64encode(os.urandom(16)).decode(),
            **(headers or {}),
        }
        for name, value in sent.items():
            conn.putheader(name, value)
        conn.endheaders()
        response = conn.getresponse()
        got = {k.lower(): v for k, v in response.getheaders()}
        if response.status == 101:
            return Refusal(101, got, None)
        raw = response.read()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode(errors="replace")
        return Refusal(response.status, got, body)
    finally:
        conn.close()


class RawSocket:
    """A WebSocket client on a bare socket: it reads only when told to and never
    answers a ping by itself."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._buffer = b""

    @classmethod
    def connect(cls, server: ServerProcess, bearer: str, *, rcvbuf: int | None = 131072, query: str = "") -> RawSocket:
        sock = socket.socket()
        if rcvbuf is not None:
            # A fixed receive buffer turns off autotuning.  Not smaller than the
            # loopback MSS (64 KiB), or window updates stall the connection.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        sock.settimeout(10)
        sock.connect(("127.0.0.1", server.port))
        key = base64.b64encode(os.urandom(16)).decode()
        sock.sendall(
            (
                f"GET /ws?token={bearer}{query} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
                "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        raw = cls(sock)
        head, _ = raw.read_response()
        if " 101 " not in head.split("\r\n", 1)[0]:
            sock.close()
            raise ConnectionError(head)
        return raw

    def read_response(self) -> tuple[str, bytes]:
        """The next HTTP response on the socket: its head (status line and headers) and its
        body (``Content-Length`` bytes, none without it)."""
        head = self._read_until(b"\r\n\r\n").decode("latin-1")
        if "\r\ntransfer-encoding:" in head.lower():
            raise ConnectionError("a chunked body is not read here")
        lengths = [
            line.split(":", 1)[1] for line in head.split("\r\n")[1:] if line.lower().startswith("content-length:")
        ]
        length = int(lengths[0]) if lengths else 0
        while len(self._buffer) < length:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed before the end of the body")
            self._buffer += chunk
        body, self._buffer = self._buffer[:length], self._buffer[length:]
        return head, body

    def _read_until(self, marker: bytes) -> bytes:
        while marker not in self._buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed during the handshake")
            self._buffer += chunk
        head, self._buffer = self._buffer.split(marker, 1)
        return head

    def send_frame(self, opcode: int, payload: bytes, *, fin: bool = True, declared: int | None = None) -> None:
        """A masked client frame; ``declared`` lies about the length in the header."""
        length = len(payload) if declared is None else declared
        first = (0x80 if fin else 0) | opcode
        if length < 126:
            header = struct.pack("!BB", first, 0x80 | length)
        elif length <= 0xFFFF:
            header = struct.pack("!BBH", first, 0x80 | 126, length)
        else:
            header = struct.pack("!BBQ", first, 0x80 | 127, length)
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(header + mask + masked)

    def send_json(self, event: str, data: Any, ref: str | None = None) -> None:
        frame: dict[str, Any] = {"event": event, "data": data}
        if ref is not None:
            frame["ref"] = ref
        self.send_frame(0x1, json.dumps(frame).encode())

    def frames(self, timeout: float, *, until_close: bool = True) -> tuple[list[tuple[int, bytes]], bool]:
        """Read for up to ``timeout`` seconds, or until a close frame (``until_close``)
        or the end of the connection: the frames [(opcode, payload)] and whether the
        server ended the TCP connection."""
        deadline = time.monotonic() + timeout
        frames: list[tuple[int, bytes]] = []
        ended = False
        while not (until_close and any(op == 0x8 for op, _ in frames)):
            left = deadline - time.monotonic()
            if left <= 0:
                break
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(1 << 20)
            except TimeoutError:
                break
            except ConnectionResetError:
                ended = True
                break
            if not chunk:
                ended = True
                break
            self._buffer += chunk
            frames.extend(self._parse())
        return frames, ended

    def _parse(self) -> list[tuple[int, bytes]]:
        out: list[tuple[int, bytes]] = []
        buffer = self._buffer
        while len(buffer) >= 2:
            opcode, length = buffer[0] & 0x0F, buffer[1] & 0x7F
            at = 2
            if length == 126:
                if len(buffer) < 4:
                    break
                length, at = struct.unpack("!H", buffer[2:4])[0], 4
            elif length == 127:
                if len(buffer) < 10:
                    break
                length, at = struct.unpack("!Q", buffer[2:10])[0], 10
            if len(buffer) < at + length:
                break
            out.append((opcode, buffer[at : at + length]))
            buffer = buffer[at + length :]
        self._buffer = buffer
        return out

    @staticmethod
    def close_code(frames: list[tuple[int, bytes]]) -> int | None:
        for opcode, payload in frames:
            if opcode == 0x8 and len(payload) >= 2:
                return int(struct.unpack("!H", payload[:2])[0])
        return None

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


def json_frames(frames: list[tuple[int, bytes]]) -> list[dict[str, Any]]:
    return [json.loads(payload) for opcode, payload in frames if opcode == 0x1]


def json_until(raw: RawSocket, wanted: Callable[[dict[str, Any]], bool], timeout: float) -> list[dict[str, Any]]:
    """The JSON frames ``raw`` reads until one is ``wanted`` (failing after ``timeout`` seconds)."""
    deadline = time.monotonic() + timeout
    seen: list[dict[str, Any]] = []
    while not any(wanted(frame) for frame in seen):
        assert time.monotonic() < deadline, f"nothing wanted within {timeout}s: {seen}"
        seen += json_frames(raw.frames(0.1)[0])
    return seen


def create_trip(server: ServerProcess, owner: str, collaborators: list[str] | None = None, title: str = "t") -> str:
    status, body = server.request(
        "POST", "/api/trips", body={"title": title, "collaborators": collaborators or []}, bearer=token(owner)
    )
    assert status == 201, body
    return str(body["tripId"])


def audit(server: ServerProcess, **query: str) -> list[dict[str, Any]]:
    """Every log record matching ``query`` (the admin audit API), oldest first."""
    records: list[dict[str, Any]] = []
    after = 0
    while True:
        status, body = server.request(
            "GET",
            "/api/audit/events?" + urlencode({**query, "after": str(after), "limit": "1000"}),
            bearer=token(ADMIN, role="admin"),
        )
        assert status == 200, body
        records.extend(body["events"])
        if body["next"] is None:
            return records
        after = body["next"]


def stream(server: ServerProcess, trip_id: str, user: str) -> list[dict[str, Any]]:
    """A trip's whole stream (``GET /api/trips/{id}/events``)."""
    events: list[dict[str, Any]] = []
    after = 0
    while True:
        status, body = server.request(
            "GET", f"/api/trips/{trip_id}/events?after={after}&limit=1000", bearer=token(user)
        )
        assert status == 200, body
        events.extend(body["events"])
        if body["next"] is None:
            return events
        after = body["next"]


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def alive(server: ServerProcess) -> bool:
    assert server.proc is not None
    if server.proc.poll() is not None:
        return False
    status, _ = server.request("GET", "/healthz")
    return status == 200
