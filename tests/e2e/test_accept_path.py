"""The WebSocket accept path (``handlers.upgrade``) on a real node: every refused handshake
counted once in ``/metrics``, the header refusals kept out of the security log, a refusal
after admission giving its seat back, and an upgrade on a connection that served REST first.
"""

from __future__ import annotations

import asyncio
import base64
import os
import shutil
import socket
import subprocess
import time
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.wire import ADMIN, RawSocket, audit, handshake, json_until
from tests.server import ServerProcess, object_id, token

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(60)]

OWNER = object_id(1)
REFUSALS = "travelsense_ws_handshake_refusals_total"


def refusals(server: ServerProcess) -> dict[str, float]:
    """``travelsense_ws_handshake_refusals_total`` by status."""
    status, text = server.request("GET", "/metrics", bearer=token(ADMIN, role="admin"))
    assert status == 200, text
    return {
        sample.labels["status"]: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == REFUSALS
    }


def exchange(server: ServerProcess, request: bytes) -> tuple[int, bytes]:
    """Send raw request bytes; the answer's status and everything the server sent until it
    closed the connection (refusals close it)."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return int(answer.split(b" ", 2)[1]), answer


def upgrade_request(
    server: ServerProcess, *lines: str, version: str | None = "13", bearer: str | None = None, http: str = "HTTP/1.1"
) -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    head = [
        f"GET /ws?token={bearer or token(OWNER)} {http}",
        f"Host: 127.0.0.1:{server.port}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        *([f"Sec-WebSocket-Version: {version}"] if version is not None else []),
        *lines,
    ]
    return ("\r\n".join(head) + "\r\n\r\n").encode()


async def test_every_refused_handshake_is_counted_once_and_only_admissions_refusals_are_security_events(
    start: Any,
) -> None:
    server = start()
    before = refusals(server)
    # admitted (a valid token), then refused for their WebSocket headers
    assert handshake(server, {"token": token(OWNER)}, {"Upgrade": "h2c"}).status == 400
    assert exchange(server, upgrade_request(server, "Content-Length: 5") + b"hello")[0] == 400
    assert handshake(server, {"token": token(OWNER)}, {"Sec-WebSocket-Version": "8"}).status == 426
    status, answer = exchange(server, upgrade_request(server, version=None))
    assert status == 426 and b"\r\nSec-WebSocket-Version: 13\r\n" in answer
    # not over HTTP/1.1: refused by the application before admission (its token would be a
    # 401, counted and recorded in the security log)
    status, answer = exchange(server, upgrade_request(server, bearer="garbage", http="HTTP/1.0"))
    assert status == 400 and b'"VALIDATION_ERROR"' in answer
    # refused by admission (recorded in the security log too)
    assert handshake(server, {"token": "garbage"}).status == 401
    after = refusals(server)
    moved = {status: after.get(status, 0.0) - before.get(status, 0.0) for status in after}
    assert {status: n for status, n in moved.items() if n} == {"400": 3, "426": 2, "401": 1}

    deadline = time.monotonic() + 5
    while not (records := audit(server, type="ws_handshake")):
        assert time.monotonic() < deadline, "the 401 was not recorded"
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.3)  # a header refusal's record, were there one, would be in by now
    records = audit(server, type="ws_handshake")
    assert [r["error"]["code"] for r in records] == ["UNAUTHORIZED"]


def test_a_handshake_refused_after_admission_gives_its_seat_back(start: Any) -> None:
    server = start("--max-connections-per-user", "1")
    for _ in range(3):  # admitted (its seat counted), then refused for its version
        assert handshake(server, {"token": token(OWNER)}, {"Sec-WebSocket-Version": "8"}).status == 426
    assert handshake(server, {"token": token(OWNER)}).status == 101


def test_an_upgrade_on_a_connection_that_served_a_rest_request_first_is_upgraded(start: Any) -> None:
    """A proxy that pools its connections to the node (nginx with ``keepalive``) sends an
    upgrade on a connection that served REST requests."""
    server = start()
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    raw = RawSocket(sock)
    try:
        sock.sendall(f"GET /livez HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n\r\n".encode())
        head, body = raw.read_response()
        assert head.startswith("HTTP/1.1 200 ") and body, head

        sock.sendall(upgrade_request(server))
        head, _ = raw.read_response()
        assert head.startswith("HTTP/1.1 101 "), head
        assert json_until(raw, lambda frame: frame["event"] == "connected", 5)[0]["event"] == "connected"
        raw.send_json("join_trip_room", {"tripId": "0" * 24}, "j")  # read and answered
        assert json_until(raw, lambda frame: frame.get("ref") == "j", 5)
    finally:
        raw.close()


def listen_backlog(port: int) -> int:
    """The backlog of the socket listening on ``port``, as the kernel reports it (``ss``: Send-Q)."""
    out = subprocess.run(["ss", "-Hltn", f"sport = :{port}"], capture_output=True, text=True, check=True).stdout
    [line] = out.strip().splitlines()
    return int(line.split()[2])


@pytest.mark.skipif(shutil.which("ss") is None, reason="needs iproute2's ss to read a socket's backlog")
def test_the_node_listens_with_the_configured_backlog_not_tornados_128(start: Any) -> None:
    """A reconnect storm queues in the kernel: with Tornado's 128 the accept queue overflowed
    and clients waited for SYN retries (``bench/RESULTS.md``, "The listen backlog")."""
    if somaxconn() <= 128:
        pytest.skip("net.core.somaxconn caps every backlog at Tornado's 128 or less: 4,096 cannot be told apart")
    assert listen_backlog(start().port) == min(4096, somaxconn())
    assert listen_backlog(start("--listen-backlog", "77").port) == 77


def somaxconn() -> int:
    with open("/proc/sys/net/core/somaxconn") as limit:
        return int(limit.read())
