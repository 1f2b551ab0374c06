"""``PUT /api/trips/{tripId}/viewing``: the others in the room learn which item one has open."""

from __future__ import annotations

from tests.e2e.conftest import People, close_all, in_room, make_trip
from tests.server import ServerProcess


async def test_the_others_in_the_room_hear_which_item_one_has_open_and_when_it_closes(
    shared_server: ServerProcess, people: People
) -> None:
    trip = make_trip(shared_server, people, "ada", "bob")
    trip_id = trip["tripId"]
    ada, bob = await in_room(shared_server, people, trip, "ada", "bob")
    item = "6650c3e2a41f5b7d9e0c1a40"

    status, body = shared_server.request(
        "PUT", f"/api/trips/{trip_id}/viewing", body={"itemId": item}, bearer=people.token("ada")
    )
    assert status == 200 and body == {"itemId": item}
    seen = await bob.expect("user_viewing")
    assert seen["data"] == {"tripId": trip_id, "userId": people.id("ada"), "name": "Ada", "itemId": item}

    status, _ = shared_server.request(
        "PUT", f"/api/trips/{trip_id}/viewing", body={"itemId": None}, bearer=people.token("ada")
    )
    assert status == 200
    assert (await bob.expect("user_viewing"))["data"]["itemId"] is None
    assert [f for f in await ada.silent_for(0.3) if f["event"] == "user_viewing"] == []  # not told of oneself
    await close_all(ada, bob)


def test_viewing_needs_access_to_the_trip_and_an_item_id(shared_server: ServerProcess, people: People) -> None:
    trip = make_trip(shared_server, people, "ada")
    path = f"/api/trips/{trip['tripId']}/viewing"
    status, body = shared_server.request("PUT", path, body={"itemId": None}, bearer=people.token("eve"))
    assert status == 403 and body["error"]["code"] == "FORBIDDEN"
    status, body = shared_server.request("PUT", path, body={"itemId": "nope"}, bearer=people.token("ada"))
    assert status == 400 and "itemId" in body["error"]["details"]
    status, body = shared_server.request("PUT", path, body={}, bearer=people.token("ada"))
    assert status == 400 and "itemId" in body["error"]["details"]
