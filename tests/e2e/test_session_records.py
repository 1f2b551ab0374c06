"""Session records against a real server (``GET /api/realtime/sessions``): a
session's fields while connected and after it closed, the filters and pages,
and a session whose node died recorded as lost."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from tests.e2e.conftest import People, in_room, make_trip
from tests.server import Client, ServerProcess


def sessions(server: ServerProcess, bearer: str, query: str = "") -> dict[str, Any]:
    status, body = server.request("GET", f"/api/realtime/sessions?{query}", bearer=bearer)
    assert status == 200, body
    return body


async def until(check: Callable[[], Any], timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.1)


async def test_a_session_is_recorded_while_connected_and_after_it_closed(server: ServerProcess, people: People) -> None:
    root = people.token("root", role="admin")
    trip = make_trip(server, people, "ada")
    [ada] = await in_room(server, people, trip, "ada")
    ada_id = people.id("ada")

    def listed(status: str) -> list[dict[str, Any]]:
        return sessions(server, root, f"userId={ada_id}&status={status}")["sessions"]

    [live] = await until(lambda: [s for s in listed("connected") if s["rooms"] == [trip["tripId"]]])
    assert live["userId"] == ada_id and live["ip"] == "127.0.0.1" and live["userAgent"]
    assert live["disconnectedAt"] is None and live["closeCode"] is None and live["node"]
    await ada.close()
    [ended] = await until(lambda: listed("disconnected"))
    assert ended["sessionId"] == live["sessionId"]
    assert ended["closeCode"] == 1000 and ended["disconnectedAt"] >= ended["connectionTime"]
    assert listed("connected") == []


async def test_sessions_come_in_pages_and_filtered(server: ServerProcess, people: People) -> None:
    root = people.token("root", role="admin")
    clients = [await Client.connect(server, people.token("bea")) for _ in range(5)]
    bea = people.id("bea")
    await until(lambda: len(sessions(server, root, f"userId={bea}")["sessions"]) == 5)
    seen: list[str] = []
    query = f"userId={bea}&limit=2"
    while True:
        page = sessions(server, root, query)
        seen += [s["sessionId"] for s in page["sessions"]]
        if page["next"] is None:
            break
        query = f"userId={bea}&limit=2&after={page['next']}"
    assert len(seen) == len(set(seen)) == 5
    assert sessions(server, root, f"userId={bea}&from=2999-01-01T00:00:00Z")["sessions"] == []
    status, body = server.request("GET", "/api/realtime/sessions?status=gone", bearer=root)
    assert status == 400 and body["error"]["code"] == "VALIDATION_ERROR"
    status, _ = server.request("GET", "/api/realtime/sessions", bearer=people.token("bea"))
    assert status == 403
    for client in clients:
        await client.close()
