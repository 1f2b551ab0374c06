"""Trip updates and chat across users in one room, over real sockets."""

from __future__ import annotations

import asyncio
import json

from tests.e2e.conftest import People, close_all, in_room, make_trip
from tests.server import Client, ServerProcess


async def test_a_trip_update_reaches_everyone_and_only_the_sender_sees_its_ref(
    shared_server: ServerProcess, people: People
) -> None:
    trip = make_trip(shared_server, people, "ada", "bob", "cyd")
    ada, bob, cyd = await in_room(shared_server, people, trip, "ada", "bob", "cyd")
    mine = await ada.request(
        "trip_update",
        {"tripId": trip["tripId"], "updateType": "day_added", "data": {"day": {"date": "2026-12-04"}}},
        "u1",
        "trip_updated",
    )
    data = mine["data"]
    assert data["updateType"] == "day_added" and data["version"] == data["seq"] == 2
    assert data["userId"] == people.id("ada") and len(data["data"]["day"]["dayId"]) == 24
    for other in (bob, cyd):
        seen = await other.expect("trip_updated")
        assert "ref" not in seen and seen["data"] == data
    status, state = shared_server.request("GET", f"/api/trips/{trip['tripId']}", bearer=people.token("cyd"))
    assert status == 200 and state["version"] == 2 and state["days"][0]["dayId"] == data["data"]["day"]["dayId"]
    await close_all(ada, bob, cyd)


async def test_concurrent_updates_and_chat_get_one_gap_free_seq_order_for_everyone(
    shared_server: ServerProcess, people: People
) -> None:
    trip = make_trip(shared_server, people, "ada", "bob", "cyd")
    ada, bob, cyd = await in_room(shared_server, people, trip, "ada", "bob", "cyd")
    tid = trip["tripId"]
    sends = []
    for i in range(10):
        sends.append(ada.send("chat_message", {"tripId": tid, "message": f"a{i}"}))
        sends.append(
            bob.send(
                "trip_update",
                {"tripId": tid, "updateType": "constraint_added", "data": {"constraint": {"type": "note", "value": i}}},
            )
        )
    await asyncio.gather(*sends)
    orders = []
    for client in (ada, bob, cyd):
        seqs = []
        while len(seqs) < 20:
            frame = await client.next_frame()
            if frame["event"] in ("chat_message", "trip_updated"):
                seqs.append(frame["data"]["seq"])
        orders.append(seqs)
    assert orders[0] == orders[1] == orders[2] == list(range(2, 22))
    await close_all(ada, bob, cyd)


async def test_a_stale_base_version_on_the_same_field_is_a_conflict_and_other_fields_merge(
    shared_server: ServerProcess, people: People
) -> None:
    trip = make_trip(
        shared_server, people, "ada", "bob", days=[{"date": "2026-12-04", "activities": [{"title": "Tram"}]}]
    )
    tid, day = trip["tripId"], trip["days"][0]
    act = day["activities"][0]["activityId"]
    ada, bob = await in_room(shared_server, people, trip, "ada", "bob")
    change = {
        "tripId": tid,
        "updateType": "activity_updated",
        "baseVersion": 1,
        "data": {"dayId": day["dayId"], "activityId": act, "changes": {"title": "Tram 28"}},
    }
    first = await ada.request("trip_update", change, "u1", "trip_updated")
    assert first["event"] == "trip_updated"
    clash = await bob.request(
        "trip_update", {**change, "data": {**change["data"], "changes": {"title": "Tram 12"}}}, "u2", "trip_updated"
    )
    assert clash["event"] == "error" and clash["data"]["code"] == "CONFLICT"
    assert clash["data"]["details"] == {
        "currentVersion": 2,
        "conflictsWith": ["activity_updated"],
        "itemId": act,
        "fields": {"title": {"theirValue": "Tram 28", "by": people.id("ada"), "version": 2, "currentValue": "Tram 28"}},
    }
    merged = await bob.request(
        "trip_update", {**change, "data": {**change["data"], "changes": {"notes": "n"}}}, "u2b", "trip_updated"
    )
    assert merged["event"] == "trip_updated" and merged["data"]["version"] == 3  # another field: both apply
    elsewhere = await bob.request(
        "trip_update",
        {"tripId": tid, "updateType": "day_added", "baseVersion": 1, "data": {"day": {"date": "2026-12-05"}}},
        "u3",
        "trip_updated",
    )
    assert elsewhere["event"] == "trip_updated" and elsewhere["data"]["version"] == 4
    await close_all(ada, bob)


async def test_an_update_naming_an_item_the_trip_lacks_is_a_validation_error(
    shared_server: ServerProcess, people: People
) -> None:
    trip = make_trip(shared_server, people, "ada")
    [ada] = await in_room(shared_server, people, trip, "ada")
    reply = await ada.request(
        "trip_update",
        {"tripId": trip["tripId"], "updateType": "day_removed", "data": {"dayId": "9" * 24}},
        "u1",
        "trip_updated",
    )
    assert reply["data"]["code"] == "VALIDATION_ERROR" and "dayId" in reply["data"]["details"]
    nested = await ada.request(
        "trip_update",
        {
            "tripId": trip["tripId"],
            "updateType": "activity_added",
            "data": {"dayId": "9" * 24, "activity": {"title": ""}},
        },
        "u2",
        "trip_updated",
    )
    assert "activity.title" in nested["data"]["details"]
    await ada.close()


async def test_chat_reaches_the_room_and_notifies_collaborators_outside_it(
    shared_server: ServerProcess, people: People
) -> None:
    trip = make_trip(shared_server, people, "ada", "bob", "cyd", "dan")
    ada, bob = await in_room(shared_server, people, trip, "ada", "bob")
    cyd = await Client.connect(shared_server, people.token("cyd"))  # connected, not in the room; dan is offline
    sent = await ada.request(
        "chat_message",
        {"tripId": trip["tripId"], "message": "  Dinner at 8?  ", "type": "suggestion"},
        "c1",
        "chat_message",
    )
    message = sent["data"]
    assert message["message"] == "Dinner at 8?" and message["type"] == "suggestion" and message["name"] == "Ada"
    assert message["seq"] == 2 and message["userId"] == people.id("ada")
    assert (await bob.expect("chat_message"))["data"] == message
    note = await cyd.expect("notification")
    assert note["data"]["kind"] == "chat_message" and note["data"]["messageId"] == message["messageId"]
    assert note["data"]["fromUserId"] == people.id("ada") and note["data"]["preview"] == "Dinner at 8?"
    assert len(note["data"]["notificationId"]) == 24
    assert [f for f in await bob.silent_for(0.3) if f["event"] == "notification"] == []

    status, listed = shared_server.request("GET", "/api/notifications", bearer=people.token("dan"))
    assert status == 200 and [n["messageId"] for n in listed["notifications"]] == [message["messageId"]]
    stored = listed["notifications"][0]
    status, marked = shared_server.request(
        "POST", f"/api/notifications/{stored['notificationId']}/read", bearer=people.token("dan")
    )
    assert status == 200 and marked["read"] is True
    _, unread = shared_server.request("GET", "/api/notifications?unread=true", bearer=people.token("dan"))
    assert unread["notifications"] == []
    status, _ = shared_server.request(
        "POST", f"/api/notifications/{stored['notificationId']}/read", bearer=people.token("ada")
    )
    assert status == 404  # not ada's
    await close_all(ada, bob, cyd)


async def test_a_repeated_ref_answers_the_original_and_changes_nothing(
    shared_server: ServerProcess, people: People
) -> None:
    trip = make_trip(shared_server, people, "ada", "bob")
    ada, bob = await in_room(shared_server, people, trip, "ada", "bob")
    first = await ada.request("chat_message", {"tripId": trip["tripId"], "message": "once"}, "same", "chat_message")
    await bob.expect("chat_message")
    ada_again = await Client.connect(shared_server, people.token("ada"))  # say, after a reconnect
    await ada_again.request("join_trip_room", {"tripId": trip["tripId"]}, "j", "trip_room_joined")
    again = await ada_again.request(
        "chat_message", {"tripId": trip["tripId"], "message": "once"}, "same", "chat_message"
    )
    assert again["data"] == first["data"]
    update = {"tripId": trip["tripId"], "updateType": "day_added", "data": {"day": {"date": "2026-12-04"}}}
    u1 = await ada.request("trip_update", update, "upd", "trip_updated")
    u2 = await ada.request("trip_update", update, "upd", "trip_updated")
    assert u1["data"] == u2["data"]
    _, messages = shared_server.request("GET", f"/api/trips/{trip['tripId']}/messages", bearer=people.token("bob"))
    assert [m["message"] for m in messages["messages"]] == ["once"]
    _, state = shared_server.request("GET", f"/api/trips/{trip['tripId']}", bearer=people.token("bob"))
    assert len(state["days"]) == 1
    bob_saw = [f for f in await bob.silent_for(0.5) if f["event"] in ("chat_message", "trip_updated")]
    assert len(bob_saw) == 1  # the update once; the repeated chat and update were not broadcast again
    await close_all(ada, bob, ada_again)


async def test_rejoining_with_last_seq_recovers_every_missed_event_in_order(
    shared_server: ServerProcess, people: People
) -> None:
    trip = make_trip(shared_server, people, "ada", "bob")
    ada, bob = await in_room(shared_server, people, trip, "ada", "bob")
    await bob.request("chat_message", {"tripId": trip["tripId"], "message": "seen"}, "c0", "chat_message")
    await bob.close()
    for i in range(5):
        await ada.request("chat_message", {"tripId": trip["tripId"], "message": f"missed {i}"}, f"c{i}", "chat_message")
    await ada.request(
        "trip_update",
        {"tripId": trip["tripId"], "updateType": "day_added", "data": {"day": {"date": "2026-12-04"}}},
        "u",
        "trip_updated",
    )
    back = await Client.connect(shared_server, people.token("bob"))
    joined = await back.request("join_trip_room", {"tripId": trip["tripId"], "lastSeq": 2}, "j", "trip_room_joined")
    assert joined["data"]["recovered"] is True and joined["data"]["seq"] == 8
    missed = [await back.next_frame() for _ in range(6)]
    assert [f["data"]["seq"] for f in missed] == [3, 4, 5, 6, 7, 8]
    assert [f["event"] for f in missed] == ["chat_message"] * 5 + ["trip_updated"]
    await ada.request("chat_message", {"tripId": trip["tripId"], "message": "live"}, "c9", "chat_message")
    assert (await back.expect("chat_message"))["data"]["seq"] == 9
    await close_all(ada, back)


async def test_bad_frames_get_structured_errors_and_leave_everyone_connected(
    shared_server: ServerProcess, people: People
) -> None:
    trip = make_trip(shared_server, people, "ada", "bob")
    ada, bob = await in_room(shared_server, people, trip, "ada", "bob")
    cases: list[tuple[str, str, str | None]] = [
        ("not json", "BAD_REQUEST", None),
        ("[1, 2]", "BAD_REQUEST", None),
        ('{"data": {}}', "BAD_REQUEST", None),
        ('{"event": 5, "data": {}}', "BAD_REQUEST", None),
        ('{"event": "chat_message", "data": []}', "BAD_REQUEST", "chat_message"),
        ('{"event": "chat_message", "data": {}, "ref": ""}', "BAD_REQUEST", "chat_message"),
        ('{"event": "chat_message", "data": {}, "ref": 7}', "BAD_REQUEST", "chat_message"),
        ('{"event": "fly_to_moon", "data": {}}', "UNKNOWN_EVENT", "fly_to_moon"),
        (
            json.dumps({"event": "chat_message", "data": {"tripId": trip["tripId"], "message": "x", "$where": 1}}),
            "VALIDATION_ERROR",
            "chat_message",
        ),
    ]
    for raw, code, event in cases:
        await ada.send_raw(raw)
        error = await ada.expect("error")
        assert error["data"]["code"] == code, raw
        assert error["data"]["event"] == event, raw
    await ada.send_raw(b"\xff\xfe binary garbage")
    assert (await ada.expect("error"))["data"]["code"] == "BAD_REQUEST"
    await ada.send("chat_message", {"tripId": trip["tripId"], "message": "x" * 70_000}, "big")
    big = await ada.expect("error")  # the frame is not read, so its ref cannot be echoed
    assert big["data"]["code"] == "PAYLOAD_TOO_LARGE"
    ok = await ada.request("chat_message", {"tripId": trip["tripId"], "message": "still here"}, "ok", "chat_message")
    assert ok["event"] == "chat_message"
    assert (await bob.expect("chat_message"))["data"]["message"] == "still here"
    assert ada.ws.close_code is None and bob.ws.close_code is None
    await close_all(ada, bob)
