"""HTTP is bounded: bodies over the limit get 413 before they are read, commands are
rate limited per user and per address (429 with Retry-After), and connections that
send nothing, or stop half-way through a body, are closed."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable

import pytest

from tests.server import ServerProcess, object_id, token

pytestmark = pytest.mark.e2e

OWNER, OTHER = object_id(1), object_id(2)


def raw_exchange(server: ServerProcess, head: bytes, body: bytes = b"", timeout: float = 5.0) -> tuple[int, bytes]:
    """Send a request by hand; returns (status, everything the server sent back before closing or timing out)."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=timeout) as sock:
        sock.sendall(head + body)
        received = b""
        try:
            while b"\r\n\r\n" not in received or len(received) < received.index(b"\r\n\r\n") + 4 + _length(received):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                received += chunk
        except TimeoutError:
            pass
    status = int(received.split(b" ", 2)[1]) if received.startswith(b"HTTP/") else 0
    return status, received


def _length(received: bytes) -> int:
    for line in received.split(b"\r\n\r\n", 1)[0].split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 0


def post_head(path: str, length: int | None, bearer: str | None = None) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json"]
    lines.append(f"Content-Length: {length}" if length is not None else "Transfer-Encoding: chunked")
    if bearer:
        lines.append(f"Authorization: Bearer {bearer}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def closed_within(server: ServerProcess, seconds: float, send: bytes = b"") -> float | None:
    """Seconds until the server closes a connection that sent ``send`` and then nothing."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", server.port), timeout=seconds) as sock:
        sock.sendall(send)
        try:
            while sock.recv(65536):
                pass
        except TimeoutError:
            return None
    return time.monotonic() - started


def test_an_unauthenticated_90_mib_post_is_refused_with_413_before_its_body_is_read(
    start: Callable[..., ServerProcess],
) -> None:
    server = start()
    started = time.monotonic()
    status, received = raw_exchange(server, post_head("/api/trips", 90 * 1024 * 1024), b"{")
    assert status == 413, received
    assert time.monotonic() - started < 3  # answered without waiting for a body that never comes
    assert json.loads(received.split(b"\r\n\r\n", 1)[1])["error"]["code"] == "PAYLOAD_TOO_LARGE"


def test_a_chunked_body_is_refused_once_it_passes_the_limit(start: Callable[..., ServerProcess]) -> None:
    server = start("--max-body-bytes", "1000")
    chunk = b"x" * 600
    piece = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    status, received = raw_exchange(server, post_head("/api/trips", None, token(OWNER)), piece * 2 + b"0\r\n\r\n")
    assert status == 413, received


def test_a_body_within_the_limit_is_read_and_answered(start: Callable[..., ServerProcess]) -> None:
    server = start("--max-body-bytes", "2000")
    body = json.dumps({"title": "t" * 100}).encode()
    status, received = raw_exchange(server, post_head("/api/trips", len(body), token(OWNER)), body)
    assert status == 201, received
    big = json.dumps({"title": "t", "notes": "n" * 2000}).encode()
    assert raw_exchange(server, post_head("/api/trips", len(big), token(OWNER)), big)[0] == 413


def test_a_body_over_the_value_bound_is_refused_before_parsing_and_commas_in_text_are_not_values(
    start: Callable[..., ServerProcess],
) -> None:
    server = start("--max-document-nodes", "50")
    wide = json.dumps({"title": "t", "days": [{"date": "2026-01-01", "activities": [{"title": "a"}] * 30}]}).encode()
    status, received = raw_exchange(server, post_head("/api/trips", len(wide), token(OWNER)), wide)
    assert status == 400, received
    error = json.loads(received.split(b"\r\n\r\n", 1)[1])["error"]
    assert (error["code"], error["details"]) == ("VALIDATION_ERROR", {"data": ["more than 50 values in one document"]})
    commas = json.dumps({"title": ",[{" * 60}).encode()  # 180 of them, all in one string
    assert raw_exchange(server, post_head("/api/trips", len(commas), token(OWNER)), commas)[0] == 201


def test_commands_are_rate_limited_per_user_with_retry_after(start: Callable[..., ServerProcess]) -> None:
    server = start("--rest-burst", "3", "--rest-per-second", "0.01")
    bearer = token(OWNER)
    statuses = [server.request("POST", "/api/trips", body={"title": "t"}, bearer=bearer)[0] for _ in range(4)]
    assert statuses == [201, 201, 201, 429]
    body = json.dumps({"title": "t"}).encode()
    status, received = raw_exchange(server, post_head("/api/trips", len(body), bearer), body)
    assert status == 429 and b"Retry-After: " in received
    answer = json.loads(received.split(b"\r\n\r\n", 1)[1])
    assert answer["error"]["code"] == "RATE_LIMITED" and answer["error"]["details"]["retryAfterMs"] > 0
    assert server.request("POST", "/api/trips", body={"title": "t"}, bearer=token(OTHER))[0] == 201
    assert server.request("GET", "/api/trips/" + "a" * 24, bearer=bearer)[0] == 404  # queries are not commands


def test_commands_are_rate_limited_per_address_signed_in_or_not(start: Callable[..., ServerProcess]) -> None:
    server = start("--rest-ip-burst", "2", "--rest-ip-per-second", "0.01")
    assert server.request("POST", "/api/trips", body={"title": "t"}, bearer=token(OWNER))[0] == 201
    assert server.request("POST", "/api/trips", body={"title": "t"})[0] == 401
    assert server.request("POST", "/api/trips", body={"title": "t"}, bearer=token(OTHER))[0] == 429


def test_a_connection_that_sends_nothing_is_closed_after_the_header_timeout(
    start: Callable[..., ServerProcess],
) -> None:
    server = start("--header-timeout", "1")
    waited = closed_within(server, 6)
    assert waited is not None and waited < 5
    waited = closed_within(server, 6, b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # half a request
    assert waited is not None and waited < 5


def test_an_idle_keep_alive_connection_is_closed(start: Callable[..., ServerProcess]) -> None:
    server = start("--header-timeout", "1")
    waited = closed_within(server, 6, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    assert waited is not None and waited < 5


def test_a_body_that_stops_half_way_is_dropped_after_the_body_timeout(start: Callable[..., ServerProcess]) -> None:
    server = start("--body-timeout", "1")
    waited = closed_within(server, 6, post_head("/api/trips", 100, token(OWNER)) + b'{"title":')
    assert waited is not None and waited < 5
