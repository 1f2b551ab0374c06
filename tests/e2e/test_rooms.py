"""Rooms over a real WebSocket: join, leave, members, presence, typing, errors."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from typing import Any

import pytest
import websockets

from tests.e2e.conftest import People, close_all, in_room, make_trip
from tests.server import Client, ServerProcess, token

ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


async def test_the_first_frame_is_connected_with_user_session_and_iso_timestamp(
    shared_server: ServerProcess, people: People
) -> None:
    client = await Client.connect(shared_server, people.token("ada"))
    data = client.frames[0]["data"]
    assert data["userId"] == people.id("ada")
    assert data["sessionId"] and ISO_Z.match(data["timestamp"])
    await client.close()


@pytest.mark.parametrize("query", ["", "?token=", "?token=not-a-jwt"])
def test_a_handshake_without_a_valid_token_is_refused_with_401_and_a_json_error(
    shared_server: ServerProcess, query: str
) -> None:
    status, body = shared_server.request("GET", f"/ws{query}")
    assert status == 401
    assert body["error"]["code"] and body["error"]["message"]


async def test_joining_sends_members_the_snapshot_and_tells_the_others(
    shared_server: ServerProcess, people: People
) -> None:
    trip = make_trip(shared_server, people, "ada", "bob")
    ada = await Client.connect(shared_server, people.token("ada"))
    bob = await Client.connect(shared_server, people.token("bob"))
    joined = await ada.request("join_trip_room", {"tripId": trip["tripId"]}, "j1", "trip_room_joined")
    [member] = joined["data"]["members"]
    assert ISO_Z.match(member.pop("lastSeen"))  # when it joined
    assert joined["data"] == {
        "tripId": trip["tripId"],
        "members": [{"userId": people.id("ada"), "name": "Ada", "status": "online"}],
        "seq": 1,
        "recovered": False,
    }
    snapshot = await ada.next_frame()
    assert snapshot["event"] == "trip_updated"
    assert snapshot["data"]["updateType"] == "snapshot" and snapshot["data"]["version"] == 1
    assert snapshot["data"]["trip"]["tripId"] == trip["tripId"]

    joined_bob = await bob.request("join_trip_room", {"tripId": trip["tripId"]}, "j2", "trip_room_joined")
    assert {m["userId"] for m in joined_bob["data"]["members"]} == {people.id("ada"), people.id("bob")}
    told = await ada.expect("user_joined")
    assert told["data"]["userId"] == people.id("bob") and ISO_Z.match(told["data"]["timestamp"])
    assert [f for f in await bob.silent_for(0.3) if f["event"] == "user_joined"] == []  # not told of itself

    again = await bob.request("join_trip_room", {"tripId": trip["tripId"]}, "j3", "trip_room_joined")
    assert again["event"] == "trip_room_joined"  # joining twice is not an error
    assert [f for f in await ada.silent_for(0.3) if f["event"] == "user_joined"] == []
    await close_all(ada, bob)


async def test_a_large_rooms_member_list_is_capped_with_the_joiner_in_it_and_counted(
    start: Callable[..., ServerProcess], people: People
) -> None:
    server = start("--member-list-max", "2")
    trip = make_trip(server, people, "ada", "bob", "cyd", "dan")
    clients = await in_room(server, people, trip, "ada", "bob", "cyd")
    dan = await Client.connect(server, people.token("dan"))
    joined = await dan.request("join_trip_room", {"tripId": trip["tripId"]}, "j", "trip_room_joined")
    listed = [m["userId"] for m in joined["data"]["members"]]
    assert listed == [people.id("ada"), people.id("bob"), people.id("dan")]  # the first two, and the joiner
    assert joined["data"]["memberCount"] == 4
    await close_all(*clients, dan)


async def test_join_refusals_are_ordered_format_then_existence_then_access(
    shared_server: ServerProcess, people: People
) -> None:
    trip = make_trip(shared_server, people, "ada")
    eve = await Client.connect(shared_server, people.token("eve"))
    bad = await eve.request("join_trip_room", {"tripId": "nope"}, "r1", "trip_room_joined")
    assert bad["data"]["code"] == "VALIDATION_ERROR" and "tripId" in bad["data"]["details"]
    assert bad["data"]["event"] == "join_trip_room"
    missing = await eve.request("join_trip_room", {"tripId": "0" * 24}, "r2", "trip_room_joined")
    assert missing["data"]["code"] == "TRIP_NOT_FOUND"
    forbidden = await eve.request("join_trip_room", {"tripId": trip["tripId"]}, "r3", "trip_room_joined")
    assert forbidden["data"]["code"] == "FORBIDDEN"
    await eve.close()


async def test_an_admin_may_join_any_trip(shared_server: ServerProcess, people: People) -> None:
    trip = make_trip(shared_server, people, "ada")
    admin = await Client.connect(shared_server, people.token("root", role="admin"))
    joined = await admin.request("join_trip_room", {"tripId": trip["tripId"]}, "a1", "trip_room_joined")
    assert joined["event"] == "trip_room_joined"
    await admin.close()


async def test_room_events_need_the_sender_in_the_room_before_anything_else(
    shared_server: ServerProcess, people: People
) -> None:
    trip = make_trip(shared_server, people, "ada")
    ada = await Client.connect(shared_server, people.token("ada"))
    tid = trip["tripId"]
    for event, data in [
        ("leave_trip_room", {"tripId": tid}),
        ("chat_message", {"tripId": tid, "message": ""}),  # invalid too, but not in the room comes first
        ("trip_update", {"tripId": tid, "updateType": "nonsense", "data": {}}),
        ("typing", {"tripId": tid, "isTyping": "yes"}),
        ("presence_update", {"tripId": tid, "status": "asleep"}),
    ]:
        reply = await ada.request(event, data, f"n-{event}", "never")
        assert reply["data"]["code"] == "NOT_IN_ROOM", (event, reply)
        assert reply["data"]["event"] == event
    await ada.close()


async def test_leaving_confirms_and_tells_the_others(shared_server: ServerProcess, people: People) -> None:
    trip = make_trip(shared_server, people, "ada", "bob")
    ada, bob = await in_room(shared_server, people, trip, "ada", "bob")
    left = await bob.request("leave_trip_room", {"tripId": trip["tripId"]}, "l1", "trip_room_left")
    assert left["data"] == {"tripId": trip["tripId"]}
    told = await ada.expect("user_left")
    assert told["data"]["userId"] == people.id("bob") and told["data"]["tripId"] == trip["tripId"]
    again = await bob.request("leave_trip_room", {"tripId": trip["tripId"]}, "l2", "trip_room_left")
    assert again["data"]["code"] == "NOT_IN_ROOM"
    await close_all(ada, bob)


async def test_closing_the_socket_leaves_every_room(shared_server: ServerProcess, people: People) -> None:
    trip = make_trip(shared_server, people, "ada", "bob")
    ada, bob = await in_room(shared_server, people, trip, "ada", "bob")
    await bob.close()
    assert (await ada.expect("user_left"))["data"]["userId"] == people.id("bob")
    await ada.close()


async def test_typing_reaches_the_others_only_and_clears_itself(shared_server: ServerProcess, people: People) -> None:
    trip = make_trip(shared_server, people, "ada", "bob")
    ada, bob = await in_room(shared_server, people, trip, "ada", "bob")
    await bob.send("typing", {"tripId": trip["tripId"], "isTyping": True})
    typing = await ada.expect("user_typing")
    assert typing["data"] == {"tripId": trip["tripId"], "userId": people.id("bob"), "isTyping": True}
    cleared = await ada.expect("user_typing", timeout=3)  # the shared server clears after 0.5 s
    assert cleared["data"]["isTyping"] is False
    assert [f for f in await bob.silent_for(0.2) if f["event"] == "user_typing"] == []
    await close_all(ada, bob)


async def test_a_chat_message_clears_its_senders_typing_at_once(shared_server: ServerProcess, people: People) -> None:
    trip = make_trip(shared_server, people, "ada", "bob")
    ada, bob = await in_room(shared_server, people, trip, "ada", "bob")
    await bob.send("typing", {"tripId": trip["tripId"], "isTyping": True})
    await ada.expect("user_typing")
    await bob.send("chat_message", {"tripId": trip["tripId"], "message": "done"})
    frames = [await ada.next_frame(), await ada.next_frame()]
    assert {f["event"] for f in frames} == {"chat_message", "user_typing"}
    assert next(f for f in frames if f["event"] == "user_typing")["data"]["isTyping"] is False
    await close_all(ada, bob)


async def test_presence_updates_reach_everyone_in_the_room(shared_server: ServerProcess, people: People) -> None:
    trip = make_trip(shared_server, people, "ada", "bob")
    ada, bob = await in_room(shared_server, people, trip, "ada", "bob")
    mine = await bob.request(
        "presence_update", {"tripId": trip["tripId"], "status": "away"}, "p1", "user_presence_updated"
    )
    assert mine["data"] == {"tripId": trip["tripId"], "userId": people.id("bob"), "status": "away"}
    assert (await ada.expect("user_presence_updated"))["data"]["status"] == "away"
    carol = await Client.connect(shared_server, people.token("ada"))
    joined = await carol.request("join_trip_room", {"tripId": trip["tripId"]}, "j3", "trip_room_joined")
    statuses = {m["userId"]: m["status"] for m in joined["data"]["members"]}
    assert statuses[people.id("bob")] == "away"
    for c in (ada, bob, carol):
        await c.close()


async def test_a_hidden_connection_is_never_shown_to_others(shared_server: ServerProcess, people: People) -> None:
    trip = make_trip(shared_server, people, "ada", "bob")
    ada = await Client.connect(shared_server, people.token("ada"))
    await ada.request("join_trip_room", {"tripId": trip["tripId"]}, "j1", "trip_room_joined")
    ghost = await Client.connect(shared_server, people.token("bob"), "&presence=hidden")
    joined = await ghost.request("join_trip_room", {"tripId": trip["tripId"]}, "j2", "trip_room_joined")
    assert people.id("bob") not in {m["userId"] for m in joined["data"]["members"]}
    await ghost.send("typing", {"tripId": trip["tripId"], "isTyping": True})
    await ghost.request("presence_update", {"tripId": trip["tripId"], "status": "busy"}, "p1", "user_presence_updated")
    await ghost.close()
    shown = [f["event"] for f in await ada.silent_for(0.5) if f["event"].startswith("user_")]
    assert shown == []
    await ada.close()


async def test_refresh_token_moves_the_expiry_and_refuses_other_users(
    shared_server: ServerProcess, people: People
) -> None:
    ada = await Client.connect(shared_server, people.token("ada", ttl=120))
    fresh = await ada.request("refresh_token", {"token": people.token("ada", ttl=7200)}, "t1", "token_refreshed")
    assert ISO_Z.match(fresh["data"]["expiresAt"])
    other = await ada.request("refresh_token", {"token": people.token("bob")}, "t2", "token_refreshed")
    assert other["data"]["code"] == "INVALID_TOKEN"
    broken = await ada.request("refresh_token", {"token": "x.y.z"}, "t3", "token_refreshed")
    assert broken["data"]["code"] == "INVALID_TOKEN"
    await ada.close()


async def test_an_expiring_token_is_announced_then_closes_with_4001(
    shared_server: ServerProcess, people: People
) -> None:
    ada = await Client.connect(shared_server, token(people.id("ada"), ttl=2))
    warning = await ada.expect("token_expiring", timeout=3)  # less than 30 s left: at once
    assert ISO_Z.match(warning["data"]["expiresAt"])
    with pytest.raises(websockets.ConnectionClosed):
        await ada.next_frame(timeout=5)
    assert ada.ws.close_code == 4001


async def test_a_refreshed_token_keeps_the_connection_open(shared_server: ServerProcess, people: People) -> None:
    ada = await Client.connect(shared_server, token(people.id("ada"), ttl=2))
    await ada.request("refresh_token", {"token": people.token("ada", ttl=3600)}, "t1", "token_refreshed")
    await ada.silent_for(2.5)
    assert ada.ws.close_code is None
    await ada.close()


async def summed_up(client: Client, joined: set[str], left: set[str]) -> list[dict[str, Any]]:
    """The ``presence_summary`` frames the client gets until they have named ``joined`` and ``left``."""
    summaries: list[dict[str, Any]] = []
    seen_joined: set[str] = set()
    seen_left: set[str] = set()
    while not (joined <= seen_joined and left <= seen_left):
        summary = (await client.expect("presence_summary"))["data"]
        summaries.append(summary)
        seen_joined |= {entry["userId"] for entry in summary["joined"]}
        seen_left |= {entry["userId"] for entry in summary["left"]}
    return summaries


async def test_a_large_room_is_told_who_joined_and_left_in_summaries_and_a_small_one_one_by_one(
    start: Callable[..., ServerProcess], people: People
) -> None:
    server = start("--presence-summary-from", "3", "--presence-summary-interval", "0.2")
    trip = make_trip(server, people, "ada", "bob", "cat", "dan")
    ada, bob = await in_room(server, people, trip, "ada", "bob")
    assert (await ada.expect("user_joined"))["data"]["userId"] == people.id("bob")  # two members: one by one

    [cat] = await in_room(server, people, trip, "cat")  # three: summed up

    for client in (ada, bob, cat):  # the joiner too (a summary goes to every member)
        [summary] = await summed_up(client, {people.id("cat")}, set())
        assert summary["joinedCount"] == 1 and summary["leftCount"] == 0 and summary["left"] == []
        [entry] = summary["joined"]
        assert entry["userId"] == people.id("cat") and entry["name"] == "Cat" and ISO_Z.match(entry["timestamp"])
    [dan] = await in_room(server, people, trip, "dan")
    await cat.close()
    summaries = await summed_up(ada, {people.id("dan")}, {people.id("cat")})
    assert [entry for s in summaries for entry in s["left"] if entry["userId"] == people.id("cat")]
    told = [(f["event"], f["data"]["userId"]) for f in ada.frames if f["event"] in ("user_joined", "user_left")]
    assert told == [("user_joined", people.id("bob"))]  # before the room was large
    await close_all(ada, bob, dan)


async def test_a_large_rooms_summaries_list_every_change_even_beyond_the_list_cap(
    start: Callable[..., ServerProcess], people: People
) -> None:
    server = start("--presence-summary-from", "2", "--presence-summary-interval", "0.5", "--member-list-max", "1")
    trip = make_trip(server, people, "ada", "bob", "cat", "dan")
    ada, *others = await in_room(server, people, trip, "ada", "bob", "cat", "dan")
    await asyncio.gather(*(client.close() for client in others))  # they leave at once: one interval's changes

    gone = {people.id(name) for name in ("bob", "cat", "dan")}
    summaries = await summed_up(ada, set(), gone)  # the lists alone name them all, one frame after another
    assert all(len(s["left"]) <= 1 and len(s["joined"]) <= 1 for s in summaries)
    await ada.close()
