"""Session resume against real server processes (docs/asyncapi.yaml, ``resume``):
on the same node, on another node, after ``kill -9`` of the first node (nothing
missed, nothing twice), after the window, with a bad token, after losing access;
taking a session over from a half-open socket, and two resumes of one token at once."""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path
from typing import Any

import pytest
import websockets

from tests.e2e.test_multi_node import (
    ADA,
    BOB,
    CAT,
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


async def closed_with(client: Client, timeout: float = 10.0) -> int | None:
    """The close code the server ends the connection with (None: still open after ``timeout``)."""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            with contextlib.suppress(TimeoutError):
                await client.next_frame(max(0.01, deadline - time.monotonic()))
    except websockets.ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd is not None else None
    return None


def presence_of(client: Client, user: str) -> list[dict[str, Any]]:
    return [f for f in client.frames if f["event"] in ("user_left", "user_joined") and f["data"]["userId"] == user]


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
        # at once, while node a's presence key still says it is alive: the token proves the session is ada's
        back = await resume(b, ADA, first["resumeToken"], {trip_id: seen[-1]})
        assert connected_frame(back)["resumed"] is True
        await traffic
        final = head + 24
        got, live = await missed_then_live(back, bob, trip_id, seen, final)
        assert seen + got == list(range(head + 1, int(live["data"]["seq"]) + 1))  # nothing missed, nothing twice
        assert connected_frame(back)["sessionId"] == first["sessionId"]
        await bob.close()
        await back.close()


async def test_a_resume_takes_over_a_half_open_session_at_once_without_a_leave_being_seen(
    store_url: str, redis_url: str, tmp_path: Path
) -> None:
    grace = ("--presence-grace", "2")  # the old node's place for the session ends soon: it must stay quiet
    with nodes(store_url, redis_url, tmp_path, "node-a", "node-b", args=grace) as (a, b):
        trip_id = make_trip(a, ADA, BOB, CAT)
        ada, head = await joined(a, ADA, trip_id)
        bob, _ = await joined(b, BOB, trip_id)
        cat, _ = await joined(a, CAT, trip_id)
        first = connected_frame(ada)
        # ada's network is gone but node a has not noticed: to it, her socket is as open as ever

        back = await resume(b, ADA, first["resumeToken"], {trip_id: head})

        again = connected_frame(back)
        assert (again["resumed"], again["sessionId"], again["rooms"]) == (True, first["sessionId"], [trip_id])
        assert await closed_with(ada) == 4010  # node a closed the stale socket
        await bob.silent_for(3.0)  # past the old node's grace: room for a wrong user_left (none may come)
        live = await bob.request("chat_message", {"tripId": trip_id, "message": "still here?"}, "c", "chat_message")
        for client in (back, cat):
            await until_seq(client, int(live["data"]["seq"]))
        assert seqs(back) == [int(live["data"]["seq"])]  # it held everything before: nothing twice
        assert presence_of(bob, ADA) == [] and presence_of(cat, ADA) == []
        for client in (bob, cat, back):
            await client.close()


async def test_a_resume_on_the_same_node_takes_over_the_sessions_open_socket(server: ServerProcess) -> None:
    trip_id = make_trip(server, ADA, BOB)
    ada, head = await joined(server, ADA, trip_id)
    bob, _ = await joined(server, BOB, trip_id)
    first = connected_frame(ada)

    back = await resume(server, ADA, first["resumeToken"], {trip_id: head})

    again = connected_frame(back)
    assert (again["resumed"], again["sessionId"], again["rooms"]) == (True, first["sessionId"], [trip_id])
    assert await closed_with(ada) == 4010
    live = await bob.request("chat_message", {"tripId": trip_id, "message": "still here?"}, "c", "chat_message")
    await until_seq(back, int(live["data"]["seq"]))
    await bob.silent_for(0.5)
    assert presence_of(bob, ADA) == []
    status, listed = server.request("GET", "/api/realtime/connections", bearer=bearer("0" * 22 + "ad"))
    assert status == 200 and [c["sessionId"] for c in listed["connections"] if c["userId"] == ADA] == [
        first["sessionId"]
    ]
    members = (await bob.request("join_trip_room", {"tripId": trip_id}, "again", "trip_room_joined"))["data"]
    assert ADA in {m["userId"] for m in members["members"]}
    await bob.close()
    await back.close()


async def test_two_resumes_of_one_token_at_once_leave_exactly_one_holder(
    store_url: str, redis_url: str, tmp_path: Path
) -> None:
    grace = ("--presence-grace", "2")  # the old node's place for the session ends soon: it must stay quiet
    with nodes(store_url, redis_url, tmp_path, "node-a", "node-b", args=grace) as (a, b):
        trip_id = make_trip(a, ADA, BOB)
        ada, head = await joined(a, ADA, trip_id)
        bob, _ = await joined(b, BOB, trip_id)
        token = connected_frame(ada)["resumeToken"]

        resumes = await asyncio.gather(*(resume(node, ADA, token, {trip_id: head}) for node in (a, b, a, b)))

        assert all(connected_frame(r)["resumed"] for r in resumes)
        codes = await asyncio.gather(*(closed_with(r, timeout=3.0) for r in [ada, *resumes]))
        assert sorted(codes, key=str) == [4010, 4010, 4010, 4010, None], codes
        [holder] = [r for r, code in zip(resumes, codes[1:], strict=True) if code is None]
        live = await bob.request("chat_message", {"tripId": trip_id, "message": "who holds it?"}, "c", "chat_message")
        await until_seq(holder, int(live["data"]["seq"]))
        await bob.silent_for(3.0)  # past the losers' graces: room for a wrong user_left (none may come)
        assert presence_of(bob, ADA) == []
        await bob.close()
        await holder.close()
