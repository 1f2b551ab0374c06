"""Session resume against real server processes (docs/asyncapi.yaml, ``resume``):
on the same node, on another node, after ``kill -9`` of the first node (nothing
missed, nothing twice), after the window, with a bad token, after losing access."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_multi_node import (
    ADA,
    BOB,
    bearer,
    joined,
    make_trip,
    nodes,
    send_updates,
    seqs,
    until_seq,
)
from tests.server import Client, ServerProcess

pytestmark = pytest.mark.e2e


def connected_frame(client: Client) -> dict[str, Any]:
    [frame] = [f for f in client.frames if f["event"] == "connected"]
    data: dict[str, Any] = frame["data"]
    return data


def drop(client: Client) -> None:
    """The network goes: the TCP connection is cut, no close frame."""
    client.ws.transport.abort()


async def resume(server: ServerProcess, user: str, token: str, last_seqs: dict[str, int]) -> Client:
    wanted = ",".join(f"{trip}:{seq}" for trip, seq in last_seqs.items())
    return await Client.connect(server, bearer(user), f"&resume={token}&lastSeq={wanted}")


async def settle(server: ServerProcess, session_id: str, status: str) -> None:
    """Until the session's record shows ``status`` (its fold is written in the background)."""
    admin = bearer("0" * 22 + "ad")
    deadline = time.monotonic() + 10
    while True:
        code, body = server.request("GET", "/api/realtime/sessions?limit=1000", bearer=admin)
        assert code == 200, body
        if any(s["sessionId"] == session_id and s["status"] == status for s in body["sessions"]):
            return
        assert time.monotonic() < deadline, f"session {session_id} never {status}"
        await asyncio.sleep(0.05)


async def missed_then_live(
    resumed: Client, sender: Client, trip_id: str, seen: list[int], final: int
) -> tuple[list[int], dict[str, Any]]:
    """After a resume: every seq after ``seen`` up to ``final``, then one live message; the seqs resumed got."""
    await until_seq(resumed, final)
    live = await sender.request("chat_message", {"tripId": trip_id, "message": "live"}, "live", "chat_message")
    await until_seq(resumed, int(live["data"]["seq"]))
    got = seqs(resumed)
    return got, live


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/events.db"


async def test_a_dropped_client_resumes_on_the_same_node_with_its_rooms_and_what_it_missed(
    server: ServerProcess,
) -> None:
    trip_id = make_trip(server, ADA, BOB)
    ada, head = await joined(server, ADA, trip_id)
    bob, _ = await joined(server, BOB, trip_id)
    first = connected_frame(ada)
    assert first["resumed"] is False and first["resumeToken"]
    drop(ada)
    await settle(server, first["sessionId"], "disconnected")
    await send_updates(bob, trip_id, "bob", 5, chat_every=2)

    back = await resume(server, ADA, first["resumeToken"], {trip_id: head})

    again = connected_frame(back)
    assert (again["resumed"], again["sessionId"], again["rooms"]) == (True, first["sessionId"], [trip_id])
    got, _ = await missed_then_live(back, bob, trip_id, [], head + 5)
    assert got == list(range(head + 1, head + 7))  # the 5 missed, then the live one: nothing twice
    assert not [f for f in back.frames if f["event"] == "error"]
    await bob.close()
    await back.close()


async def test_a_bad_token_or_one_past_the_window_gets_a_fresh_session(start: Any) -> None:
    server = start("--resume-window", "1")
    trip_id = make_trip(server, ADA)
    ada, head = await joined(server, ADA, trip_id)
    first = connected_frame(ada)
    drop(ada)
    await settle(server, first["sessionId"], "disconnected")

    forged = await resume(server, ADA, first["sessionId"] + ".AAAA", {trip_id: head})
    other_user = await Client.connect(server, bearer(BOB), f"&resume={first['resumeToken']}")
    garbled = await Client.connect(server, bearer(ADA), f"&resume=%C3%A9.%ED%A0%80&lastSeq=%C2%B2,{trip_id}:%C2%B2,x:1")
    for client in (forged, other_user, garbled):
        fresh = connected_frame(client)
        assert fresh["resumed"] is False and fresh["sessionId"] != first["sessionId"]
        await client.close()
    await asyncio.sleep(1.5)  # past the 1 s window
    late = await resume(server, ADA, first["resumeToken"], {trip_id: head})
    fresh = connected_frame(late)
    assert fresh["resumed"] is False and fresh["sessionId"] != first["sessionId"]
    assert not [f for f in await late.silent_for(0.3) if f["event"] == "trip_room_joined"]
    await late.close()


async def test_a_room_whose_access_was_lost_meanwhile_is_not_given_back(server: ServerProcess) -> None:
    trip_id = make_trip(server, ADA, BOB)
    bob, head = await joined(server, BOB, trip_id)
    first = connected_frame(bob)
    drop(bob)
    await settle(server, first["sessionId"], "disconnected")
    status, body = server.request("DELETE", f"/api/trips/{trip_id}/collaborators/{BOB}", bearer=bearer(ADA))
    assert status in (200, 204), body

    back = await resume(server, BOB, first["resumeToken"], {trip_id: head})

    again = connected_frame(back)
    assert (again["resumed"], again["sessionId"], again["rooms"]) == (True, first["sessionId"], [])
    left = await back.expect("trip_room_left")
    assert left["data"] == {"tripId": trip_id, "reason": "access_revoked"}
    reply = await back.request("chat_message", {"tripId": trip_id, "message": "still here?"}, "c", "chat_message")
    assert reply["event"] == "error" and reply["data"]["code"] == "NOT_IN_ROOM"
    await back.close()


async def test_a_session_resumes_on_another_node(store_url: str, redis_url: str, tmp_path: Path) -> None:
    with nodes(store_url, redis_url, tmp_path, "node-a", "node-b") as (a, b):
        trip_id = make_trip(a, ADA, BOB)
        ada, head = await joined(a, ADA, trip_id)
        bob, _ = await joined(b, BOB, trip_id)
        first = connected_frame(ada)
        drop(ada)
        await settle(b, first["sessionId"], "disconnected")
        await send_updates(bob, trip_id, "bob", 4, chat_every=2)

        back = await resume(b, ADA, first["resumeToken"], {trip_id: head})

        again = connected_frame(back)
        assert (again["resumed"], again["sessionId"]) == (True, first["sessionId"])
        got, _ = await missed_then_live(back, bob, trip_id, [], head + 4)
        assert got == list(range(head + 1, head + 6))
        await bob.close()
        await back.close()


async def test_a_session_resumes_elsewhere_after_its_node_is_killed_and_misses_nothing(
    store_url: str, redis_url: str, tmp_path: Path
) -> None:
    with nodes(store_url, redis_url, tmp_path, "node-a", "node-b") as (a, b):
        trip_id = make_trip(a, ADA, BOB)
        ada, head = await joined(a, ADA, trip_id)
        bob, _ = await joined(b, BOB, trip_id)
        first = connected_frame(ada)
        # 24 commands: within a connection's burst allowance (--rate-burst 30) however fast they go
        traffic = asyncio.ensure_future(send_updates(bob, trip_id, "bob", 24, chat_every=3))
        await until_seq(ada, head + 5)
        a.kill()  # SIGKILL under traffic: node a never records the disconnect
        seen = seqs(ada)
        # node a is dead once its presence key expires: until then a resume gets a fresh session
        deadline = time.monotonic() + 20
        while True:
            back = await resume(b, ADA, first["resumeToken"], {trip_id: seen[-1]})
            if connected_frame(back)["resumed"]:
                break
            await back.close()
            assert time.monotonic() < deadline, "never resumed"
            await asyncio.sleep(0.5)
        await traffic
        final = head + 24
        got, live = await missed_then_live(back, bob, trip_id, seen, final)
        assert seen + got == list(range(head + 1, int(live["data"]["seq"]) + 1))  # nothing missed, nothing twice
        assert connected_frame(back)["sessionId"] == first["sessionId"]
        await bob.close()
        await back.close()
