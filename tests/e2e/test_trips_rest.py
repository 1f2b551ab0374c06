"""Trips over REST (docs/openapi.yaml): status codes, rights, paging."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.conftest import People, make_trip
from tests.server import Client, ServerProcess, running


def test_creating_a_trip_returns_201_with_the_trip_state(shared_server: ServerProcess, people: People) -> None:
    status, trip = shared_server.request(
        "POST",
        "/api/trips",
        body={
            "title": "Porto",
            "collaborators": [people.id("bob")],
            "days": [{"date": "2026-12-04", "title": "Ribeira", "activities": [{"title": "Port tasting", "cost": 20}]}],
        },
        bearer=people.token("ada"),
    )
    assert status == 201
    assert trip["ownerId"] == people.id("ada") and trip["collaborators"] == [people.id("bob")]
    assert trip["version"] == 1 and trip["updatedAt"].endswith("Z") and len(trip["tripId"]) == 24
    [day] = trip["days"]
    assert day["title"] == "Ribeira" and day["activities"][0]["title"] == "Port tasting"
    assert trip["constraints"] == []


def test_only_an_admin_may_choose_the_owner(shared_server: ServerProcess, people: People) -> None:
    body = {"title": "Owned", "ownerId": people.id("bob")}
    status, error = shared_server.request("POST", "/api/trips", body=body, bearer=people.token("ada"))
    assert status == 403 and error["error"]["code"] == "FORBIDDEN"
    status, trip = shared_server.request("POST", "/api/trips", body=body, bearer=people.token("root", role="admin"))
    assert status == 201 and trip["ownerId"] == people.id("bob")


def test_invalid_bodies_are_400_with_field_details(shared_server: ServerProcess, people: People) -> None:
    for body, field in [
        ({}, "title"),
        ({"title": ""}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"title": "t", "collaborators": ["bob"]}, "collaborators.0"),
        ({"title": "t", "days": [{"date": "tomorrow"}]}, "days.0.date"),
        ({"title": "t", "extra": 1}, "extra"),
    ]:
        status, error = shared_server.request("POST", "/api/trips", body=body, bearer=people.token("ada"))
        assert status == 400, body
        assert field in error["error"]["details"], (body, error)
    status, error = shared_server.request("POST", "/api/trips", raw=b"{nope", bearer=people.token("ada"))
    assert status == 400 and error["error"]["code"] == "BAD_REQUEST"


def test_without_a_valid_token_rest_answers_401(shared_server: ServerProcess) -> None:
    for bearer in (None, "garbage"):
        status, error = shared_server.request("GET", f"/api/trips/{'a' * 24}", bearer=bearer)
        assert status == 401 and error["error"]["code"] == "UNAUTHORIZED"


def test_reading_a_trip_needs_access(shared_server: ServerProcess, people: People) -> None:
    trip = make_trip(shared_server, people, "ada", "bob")
    path = f"/api/trips/{trip['tripId']}"
    assert shared_server.request("GET", path, bearer=people.token("ada"))[0] == 200
    assert shared_server.request("GET", path, bearer=people.token("bob"))[0] == 200
    assert shared_server.request("GET", path, bearer=people.token("root", role="admin"))[0] == 200
    assert shared_server.request("GET", path, bearer=people.token("eve"))[0] == 403
    assert shared_server.request("GET", f"/api/trips/{'0' * 24}", bearer=people.token("ada"))[0] == 404
    status, error = shared_server.request("GET", "/api/trips/not-an-id", bearer=people.token("ada"))
    assert status == 400 and "tripId" in error["error"]["details"]


async def test_collaborators_are_added_and_removed_by_the_owner_with_broadcasts(
    shared_server: ServerProcess, people: People
) -> None:
    trip = make_trip(shared_server, people, "ada", "bob")
    tid = trip["tripId"]
    ada = await Client.connect(shared_server, people.token("ada"))
    bob = await Client.connect(shared_server, people.token("bob"))
    for who, ref in ((ada, "j1"), (bob, "j2")):
        await who.request("join_trip_room", {"tripId": tid}, ref, "trip_room_joined")
        await who.expect("trip_updated")

    status, _ = shared_server.request(
        "POST", f"/api/trips/{tid}/collaborators", body={"userId": people.id("cyd")}, bearer=people.token("bob")
    )
    assert status == 403
    status, state = shared_server.request(
        "POST", f"/api/trips/{tid}/collaborators", body={"userId": people.id("cyd")}, bearer=people.token("ada")
    )
    assert status == 200 and state["collaborators"] == [people.id("bob"), people.id("cyd")]
    added = await bob.expect("trip_updated")
    assert added["data"]["updateType"] == "collaborator_added" and added["data"]["data"] == {"userId": people.id("cyd")}
    assert added["data"]["seq"] == 2

    status, state = shared_server.request(
        "DELETE", f"/api/trips/{tid}/collaborators/{people.id('bob')}", bearer=people.token("ada")
    )
    assert status == 200 and state["collaborators"] == [people.id("cyd")]
    removed = await bob.expect("trip_updated")
    assert removed["data"]["updateType"] == "collaborator_removed"
    left = await bob.expect("trip_room_left")
    assert left["data"] == {"tripId": tid, "reason": "access_revoked"}
    await ada.request("chat_message", {"tripId": tid, "message": "bob cannot see this"}, "c1", "chat_message")
    assert [f for f in await bob.silent_for(0.5) if f["event"] == "chat_message"] == []
    again = await bob.request("join_trip_room", {"tripId": tid}, "j3", "trip_room_joined")
    assert again["data"]["code"] == "FORBIDDEN"
    status, _ = shared_server.request(
        "DELETE", f"/api/trips/{tid}/collaborators/{people.id('bob')}", bearer=people.token("ada")
    )
    assert status == 404
    status, _ = shared_server.request("DELETE", f"/api/trips/{tid}/collaborators/bob", bearer=people.token("ada"))
    assert status == 400
    await ada.close()
    await bob.close()


async def test_chat_history_pages_newest_last_with_before(shared_server: ServerProcess, people: People) -> None:
    trip = make_trip(shared_server, people, "ada")
    tid = trip["tripId"]
    ada = await Client.connect(shared_server, people.token("ada"))
    await ada.request("join_trip_room", {"tripId": tid}, "j", "trip_room_joined")
    for i in range(5):
        await ada.request("chat_message", {"tripId": tid, "message": f"m{i}"}, f"c{i}", "chat_message")
    await ada.close()
    path = f"/api/trips/{tid}/messages"
    status, page = shared_server.request("GET", f"{path}?limit=2", bearer=people.token("ada"))
    assert status == 200 and [m["message"] for m in page["messages"]] == ["m3", "m4"]
    oldest_seen = page["messages"][0]["messageId"]
    _, older = shared_server.request("GET", f"{path}?limit=2&before={oldest_seen}", bearer=people.token("ada"))
    assert [m["message"] for m in older["messages"]] == ["m1", "m2"]
    _, default = shared_server.request("GET", path, bearer=people.token("ada"))
    assert len(default["messages"]) == 5
    for query in ("limit=201", "limit=0", "limit=x", "before=nope"):
        assert shared_server.request("GET", f"{path}?{query}", bearer=people.token("ada"))[0] == 400, query
    assert shared_server.request("GET", path, bearer=people.token("eve"))[0] == 403


def test_the_trip_stream_pages_by_seq(shared_server: ServerProcess, people: People) -> None:
    trip = make_trip(shared_server, people, "ada", "bob")
    tid = trip["tripId"]
    shared_server.request(
        "POST", f"/api/trips/{tid}/collaborators", body={"userId": people.id("cyd")}, bearer=people.token("ada")
    )
    path = f"/api/trips/{tid}/events"
    status, first = shared_server.request("GET", f"{path}?limit=1", bearer=people.token("bob"))
    assert status == 200 and first["next"] == 1
    [created] = first["events"]
    assert created["seq"] == 1 and created["type"] == "trip_created" and created["userId"] == people.id("ada")
    _, rest = shared_server.request("GET", f"{path}?after={first['next']}", bearer=people.token("bob"))
    assert [e["seq"] for e in rest["events"]] == [2] and rest["next"] is None
    assert rest["events"][0]["data"] == {"updateType": "collaborator_added", "data": {"userId": people.id("cyd")}}
    assert shared_server.request("GET", f"{path}?limit=1001", bearer=people.token("bob"))[0] == 400
    assert shared_server.request("GET", f"{path}?after=-1", bearer=people.token("bob"))[0] == 400


async def test_more_than_1000_missed_events_get_a_snapshot_instead(tmp_path: Path, people: People) -> None:
    with running(
        f"sqlite:///{tmp_path}/e.db", tmp_path, args=["--rate-burst", "5000", "--rate-per-second", "5000"]
    ) as srv:
        trip = make_trip(srv, people, "ada", "bob")
        tid = trip["tripId"]
        ada = await Client.connect(srv, people.token("ada"))
        await ada.request("join_trip_room", {"tripId": tid}, "j", "trip_room_joined")
        for i in range(1001):
            await ada.send("chat_message", {"tripId": tid, "message": f"m{i}"})
        while True:
            frame = await ada.expect("chat_message")
            if frame["data"]["seq"] == 1002:
                break
        bob = await Client.connect(srv, people.token("bob"))
        joined = await bob.request("join_trip_room", {"tripId": tid, "lastSeq": 1}, "j", "trip_room_joined")
        assert joined["data"]["recovered"] is False and joined["data"]["seq"] == 1002
        snapshot = await bob.next_frame()
        assert snapshot["data"]["updateType"] == "snapshot" and snapshot["data"]["version"] == 1002
        exactly = await Client.connect(srv, people.token("bob"))
        joined = await exactly.request("join_trip_room", {"tripId": tid, "lastSeq": 2}, "j", "trip_room_joined")
        assert joined["data"]["recovered"] is True
        assert (await exactly.next_frame())["data"]["seq"] == 3
        for c in (ada, bob, exactly):
            await c.close()
