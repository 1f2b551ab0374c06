"""Identity changes take effect at once, and a ``ref`` is one command only for one user,
trip and event (issue: no identity may outlive its token)."""

from __future__ import annotations

from typing import Any

from tests.e2e.wire import audit, create_trip
from tests.server import Client, object_id, token

OWNER, ADMIN = object_id(1), object_id(9)


async def test_a_refreshed_token_with_a_lower_role_leaves_the_rooms_it_may_no_longer_be_in(start: Any) -> None:
    server = start()
    trip_id = create_trip(server, OWNER)
    admin = await Client.connect(server, token(ADMIN, role="admin", name="Root"))
    joined = await admin.request("join_trip_room", {"tripId": trip_id}, "j", "trip_room_joined")
    assert joined["event"] == "trip_room_joined"  # an admin may sit in any trip's room

    demoted = await admin.request("refresh_token", {"token": token(ADMIN, role="user")}, "r", "token_refreshed")
    assert demoted["event"] == "token_refreshed"
    left = await admin.expect("trip_room_left")
    assert left["data"] == {"tripId": trip_id, "reason": "access_revoked"}
    refused = await admin.request("chat_message", {"tripId": trip_id, "message": "still here?"}, "c", "chat_message")
    assert refused["event"] == "error" and refused["data"]["code"] == "NOT_IN_ROOM"
    again = await admin.request("join_trip_room", {"tripId": trip_id}, "j2", "trip_room_joined")
    assert again["event"] == "error" and again["data"]["code"] == "FORBIDDEN"
    # the records after the refresh carry the identity of the refreshed token
    roles = [r.get("meta", {}).get("role") for r in audit(server, userId=ADMIN, type="chat_message")]
    assert roles == ["user"]
    await admin.close()


async def test_a_ref_reused_on_another_trip_is_a_new_command(start: Any) -> None:
    server = start()
    first, second = create_trip(server, OWNER, title="one"), create_trip(server, OWNER, title="two")
    owner = await Client.connect(server, token(OWNER))
    for trip_id in (first, second):
        await owner.request("join_trip_room", {"tripId": trip_id}, f"join-{trip_id}", "trip_room_joined")
    a = await owner.request("chat_message", {"tripId": first, "message": "hello one"}, "same", "chat_message")
    b = await owner.request("chat_message", {"tripId": second, "message": "hello two"}, "same", "chat_message")
    assert a["data"]["tripId"] == first and b["data"]["tripId"] == second
    assert a["data"]["messageId"] != b["data"]["messageId"]  # applied, not answered with the first
    repeat = await owner.request("chat_message", {"tripId": second, "message": "hello two"}, "same", "chat_message")
    assert repeat["data"]["messageId"] == b["data"]["messageId"]  # the same trip and event: the original
    await owner.close()
