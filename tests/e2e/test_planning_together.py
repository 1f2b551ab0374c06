"""Planning together over real sockets and REST: what a change replaced, moves, undo and
redo per person, history pages, the trip as it was, restore."""

from __future__ import annotations

from typing import Any

from tests.e2e.conftest import People, close_all, in_room, make_trip
from tests.server import Client, ServerProcess


async def update(client: Client, tid: str, kind: str, data: dict[str, Any], ref: str, **more: Any) -> Any:
    return await client.request(
        "trip_update", {"tripId": tid, "updateType": kind, "data": data, **more}, ref, "trip_updated"
    )


async def test_undo_redo_moves_history_and_restore_over_the_wire(shared_server: ServerProcess, people: People) -> None:
    days = [
        {"date": "2026-12-04", "activities": [{"title": "Tram"}, {"title": "Cafe"}]},
        {"date": "2026-12-05"},
    ]
    trip = make_trip(shared_server, people, "ada", "bob", days=days)
    tid = trip["tripId"]
    day1, day2 = trip["days"][0]["dayId"], trip["days"][1]["dayId"]
    tram = trip["days"][0]["activities"][0]["activityId"]
    ada, bob = await in_room(shared_server, people, trip, "ada", "bob")

    renamed = await update(
        ada, tid, "activity_updated", {"dayId": day1, "activityId": tram, "changes": {"title": "Tram 28"}}, "a1"
    )
    assert renamed["data"]["version"] == 2
    await bob.expect("trip_updated")
    # bob overwrites without baseVersion: applied, and the broadcast says whose value it replaced
    over = await update(
        bob, tid, "activity_updated", {"dayId": day1, "activityId": tram, "changes": {"title": "Tram 15"}}, "b1"
    )
    seen_by_ada = await ada.expect("trip_updated")
    for frame in (over, seen_by_ada):
        assert frame["data"]["data"]["replaced"] == {
            "title": {"value": "Tram 28", "by": people.id("ada"), "version": 2}
        }

    # ada's undo would revert bob's title: refused; bob's undo is his own
    clash = await ada.request("undo", {"tripId": tid}, "a-undo", "trip_updated")
    assert clash["event"] == "error" and clash["data"]["code"] == "CONFLICT"
    undone = await bob.request("undo", {"tripId": tid}, "b-undo", "trip_updated")
    assert undone["data"]["updateType"] == "activity_updated" and undone["data"]["data"]["undoes"] == 3
    assert undone["data"]["data"]["changes"] == {"title": "Tram 28"}
    await ada.expect("trip_updated")
    redone = await bob.request("redo", {"tripId": tid}, "b-redo", "trip_updated")
    assert redone["data"]["data"]["changes"] == {"title": "Tram 15"} and redone["data"]["data"]["redoes"] == 4
    await ada.expect("trip_updated")

    moved = await update(ada, tid, "activity_moved", {"dayId": day1, "activityId": tram, "toDayId": day2}, "a2")
    assert moved["data"]["data"]["toDayId"] == day2 and moved["data"]["version"] == 6
    await bob.expect("trip_updated")
    status, state = shared_server.request("GET", f"/api/trips/{tid}", bearer=people.token("bob"))
    assert status == 200 and [a["title"] for a in state["days"][1]["activities"]] == ["Tram 15"]

    status, page = shared_server.request("GET", f"/api/trips/{tid}/history?limit=2", bearer=people.token("bob"))
    assert status == 200, page
    assert [c["version"] for c in page["changes"]] == [6, 5] and page["next"] == 5
    assert page["changes"][0]["updateType"] == "activity_moved" and page["changes"][0]["userId"] == people.id("ada")
    status, rest = shared_server.request(
        "GET", f"/api/trips/{tid}/history?before=5&limit=50", bearer=people.token("bob")
    )
    assert [c["version"] for c in rest["changes"]] == [4, 3, 2, 1] and rest["next"] is None

    status, then = shared_server.request("GET", f"/api/trips/{tid}?atVersion=2", bearer=people.token("bob"))
    assert status == 200 and then["version"] == 2
    assert then["days"][0]["activities"][0]["title"] == "Tram 28"
    at_two = next(c["at"] for c in rest["changes"] if c["version"] == 2)
    status, same = shared_server.request("GET", f"/api/trips/{tid}?at={at_two}", bearer=people.token("bob"))
    changes = [*page["changes"], *rest["changes"]]
    assert status == 200 and same["version"] == max(c["version"] for c in changes if c["at"] <= at_two)
    status, bad = shared_server.request("GET", f"/api/trips/{tid}?at=yesterday", bearer=people.token("bob"))
    assert status == 400 and "at" in bad["error"]["details"]

    status, restored = shared_server.request(
        "POST", f"/api/trips/{tid}/restore", body={"toVersion": 2}, bearer=people.token("bob")
    )
    assert status == 200, restored
    assert restored["version"] == 7 and restored["days"] == then["days"]
    for client in (ada, bob):
        frame = await client.expect("trip_updated")
        assert frame["data"]["updateType"] == "trip_restored" and frame["data"]["data"]["toVersion"] == 2

    # an update of an activity someone removed is a stale reference, naming who removed it
    await update(bob, tid, "activity_removed", {"dayId": day1, "activityId": tram}, "b2")
    await ada.expect("trip_updated")
    stale = await update(
        ada, tid, "activity_updated", {"dayId": day1, "activityId": tram, "changes": {"notes": "x"}}, "a3"
    )
    assert stale["data"]["code"] == "CONFLICT"
    assert stale["data"]["details"]["removed"] == {"itemId": tram, "by": people.id("bob"), "version": 8}
    await close_all(ada, bob)


async def test_a_person_offline_whose_title_is_overwritten_finds_a_notification_naming_the_change(
    shared_server: ServerProcess, people: People
) -> None:
    trip = make_trip(shared_server, people, "ada", "bob", days=[{"date": "2026-12-04", "activities": [{"title": "T"}]}])
    tid, day = trip["tripId"], trip["days"][0]["dayId"]
    tram = trip["days"][0]["activities"][0]["activityId"]

    def edit(changes: dict[str, Any]) -> dict[str, Any]:
        return {"dayId": day, "activityId": tram, "changes": changes}

    [bob] = await in_room(shared_server, people, trip, "bob")
    mine = await update(bob, tid, "activity_updated", edit({"title": "Tram 28", "notes": "front seats"}), "b1")
    assert mine["data"]["version"] == 2
    await bob.close()  # bob goes offline

    [ada] = await in_room(shared_server, people, trip, "ada")
    over = await update(ada, tid, "activity_updated", edit({"title": "Tram 15"}), "a1")
    assert over["data"]["version"] == 3

    bob = await Client.connect(shared_server, people.token("bob"))  # back, not in the room
    status, listed = shared_server.request("GET", "/api/notifications?unread=true", bearer=people.token("bob"))
    assert status == 200
    [note] = [n for n in listed["notifications"] if n["kind"] == "change_replaced" and n["tripId"] == tid]
    assert note["fromUserId"] == people.id("ada") and note["fromName"] == "Ada"
    assert note["updateType"] == "activity_updated" and note["version"] == 3
    assert note["changes"] == [{"itemId": tram, "field": "title", "from": "Tram 28", "to": "Tram 15", "yourVersion": 2}]
    assert len(note["notificationId"]) == 24 and note["read"] is False
    _, adas = shared_server.request("GET", "/api/notifications", bearer=people.token("ada"))
    # ada, offline as bob retitled her activity, was told of that; of her own change, never
    told = [
        (n["version"], n["fromUserId"], n["changes"][0]["from"])
        for n in adas["notifications"]
        if n.get("tripId") == tid
    ]
    assert told == [(2, people.id("bob"), "T")]

    # connected but outside the room: the notification is pushed to bob's connection
    await update(ada, tid, "activity_updated", edit({"notes": "back seats"}), "a2")
    pushed = await bob.expect("notification")
    assert pushed["data"]["kind"] == "change_replaced" and pushed["data"]["changes"] == [
        {"itemId": tram, "field": "notes", "from": "front seats", "to": "back seats", "yourVersion": 2}
    ]
    await close_all(ada, bob)
