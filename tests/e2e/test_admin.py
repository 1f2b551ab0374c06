"""Admin REST against a real server (docs/openapi.yaml):
connections, broadcast, disconnect and notify, every status code they answer,
and the record each admin action leaves in the log."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import People, make_trip
from tests.server import SECRET, Client, ServerProcess, object_id, token

ADMIN_ENDPOINTS = [
    ("GET", "/api/realtime/connections", None),
    ("POST", "/api/realtime/broadcast", {"message": "hello"}),
    ("POST", f"/api/realtime/disconnect/{object_id(0xD15C)}", None),
    ("POST", "/api/realtime/notify", {"userId": object_id(0xB00C), "kind": "booking_update", "title": "Booked"}),
]


def admin_token(people: People) -> str:
    return people.token("root", role="admin")


def audit(server: ServerProcess, bearer: str, **params: Any) -> list[dict[str, Any]]:
    query = "&".join(f"{key}={value}" for key, value in params.items())
    status, page = server.request("GET", f"/api/audit/events?{query}", bearer=bearer)
    assert status == 200, page
    records: list[dict[str, Any]] = page["events"]
    return records


def connections_of(server: ServerProcess, bearer: str, user_id: str) -> list[dict[str, Any]]:
    status, body = server.request("GET", "/api/realtime/connections", bearer=bearer)
    assert status == 200, body
    assert body["total"] == len(body["connections"])
    return [c for c in body["connections"] if c["userId"] == user_id]


async def wait_until(check: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


# 401 / 403 ----------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_ENDPOINTS)
@pytest.mark.parametrize(
    "bearer",
    [
        None,
        "not-a-jwt",
        token(object_id(0xAD), role="admin", ttl=-60),  # expired
        token(object_id(0xAD), role="admin").rsplit(".", 1)[0] + ".forged-signature",
        token("not-an-object-id", role="admin"),
    ],
    ids=["missing", "garbage", "expired", "bad-signature", "sub-not-objectid"],
)
def test_admin_endpoints_answer_401_without_a_valid_token(
    shared_server: ServerProcess, method: str, path: str, body: Any, bearer: str | None
) -> None:
    status, error = shared_server.request(method, path, body=body, bearer=bearer)
    assert status == 401
    assert error["error"]["code"] == "UNAUTHORIZED" and error["error"]["message"]
    assert SECRET not in str(error)


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_ENDPOINTS)
def test_admin_endpoints_answer_403_to_a_user(
    shared_server: ServerProcess, people: People, method: str, path: str, body: Any
) -> None:
    status, error = shared_server.request(method, path, body=body, bearer=people.token("mallory"))
    assert status == 403 and error["error"]["code"] == "FORBIDDEN"
    [record] = audit(shared_server, admin_token(people), userId=people.id("mallory"))
    assert record["outcome"] == "refused" and record["error"]["code"] == "FORBIDDEN"
    assert record["source"] == "rest" and record["meta"]["ip"] == "127.0.0.1"


# connections ------------------------------------------------------------------------


async def test_connections_lists_every_live_connection_with_its_details(
    shared_server: ServerProcess, people: People
) -> None:
    trip = make_trip(shared_server, people, "ada")
    ada = await Client.connect(shared_server, people.token("ada"), user_agent_header="TravelSense-iOS/2.4.1")
    ada2 = await Client.connect(shared_server, people.token("ada"), "&presence=hidden")
    await ada.request("join_trip_room", {"tripId": trip["tripId"]}, "j", "trip_room_joined")
    root = admin_token(people)

    listed = {c["sessionId"]: c for c in connections_of(shared_server, root, people.id("ada"))}
    first, second = ada.frames[0]["data"], ada2.frames[0]["data"]
    assert set(listed) == {first["sessionId"], second["sessionId"]}
    entry = listed[first["sessionId"]]
    assert entry["rooms"] == [trip["tripId"]] and listed[second["sessionId"]]["rooms"] == []
    assert entry["connectionTime"] == first["timestamp"] and entry["lastActivity"] >= entry["connectionTime"]
    assert entry["ip"] == "127.0.0.1" and entry["userAgent"] == "TravelSense-iOS/2.4.1"
    assert entry["status"] == "connected" and entry["node"]

    [record] = audit(shared_server, root, userId=people.id("root"), type="admin_list_connections")
    assert record["outcome"] == "accepted" and record["events"][0]["type"] == "connections_listed"
    await ada.close()
    await ada2.close()
    await wait_until(lambda: connections_of(shared_server, root, people.id("ada")) == [])


# broadcast ----------------------------------------------------------------------------


async def test_broadcast_reaches_every_connection_including_those_in_no_room(server: ServerProcess) -> None:
    people = People()
    trip = make_trip(server, people, "ada", "bob")
    ada = await Client.connect(server, people.token("ada"))
    bob = await Client.connect(server, people.token("bob"), "&presence=hidden")
    carol = await Client.connect(server, people.token("carol"))  # in no room at all
    await ada.request("join_trip_room", {"tripId": trip["tripId"]}, "j1", "trip_room_joined")
    await bob.request("join_trip_room", {"tripId": trip["tripId"]}, "j2", "trip_room_joined")
    root = admin_token(people)

    status, sent = server.request(
        "POST",
        "/api/realtime/broadcast",
        body={"message": "Maintenance at 23:00 UTC", "type": "maintenance"},
        bearer=root,
    )
    assert status == 200 and sent["delivered"] == 3 and len(sent["broadcastId"]) == 24
    frames = [await client.expect("broadcast") for client in (ada, bob, carol)]
    assert all(frame == frames[0] for frame in frames)
    data = frames[0]["data"]
    assert data["broadcastId"] == sent["broadcastId"] and data["message"] == "Maintenance at 23:00 UTC"
    assert data["type"] == "maintenance" and data["timestamp"].endswith("Z")
    assert set(data) == {"broadcastId", "message", "type", "timestamp", "from", "expiresAt"}
    assert data["from"]["userId"] == people.id("root")  # the admin who sent it

    status, sent = server.request("POST", "/api/realtime/broadcast", body={"message": "Hi all"}, bearer=root)
    assert status == 200
    assert (await carol.expect("broadcast"))["data"]["type"] == "announcement"  # the default type

    [first, second] = audit(server, root, type="admin_broadcast")
    assert first["userId"] == people.id("root") and first["outcome"] == "accepted"
    assert first["payload"] == {"message": "Maintenance at 23:00 UTC", "type": "maintenance"}
    assert first["events"][0]["data"] == {"broadcastId": data["broadcastId"], "type": "maintenance", "delivered": 3}
    assert second["payload"]["type"] == "announcement" and first["at"] <= second["at"]
    for client in (ada, bob, carol):
        await client.close()


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({}, {"message"}),
        ({"message": ""}, {"message"}),
        ({"message": "  \n "}, {"message"}),
        ({"message": "x" * 1001}, {"message"}),
        ({"message": "hi", "type": "urgent"}, {"type"}),
        ({"message": "hi", "type": 3}, {"type"}),
        ({"message": 42}, {"message"}),
        ({"message": "hi", "colour": "red"}, {"colour"}),
        ({"message": "bell \u0007"}, {"message"}),
        ({"message": "hi", "$where": "1"}, {"$where"}),
    ],
)
def test_broadcast_answers_400_with_field_details(
    shared_server: ServerProcess, people: People, body: dict[str, Any], fields: set[str]
) -> None:
    status, error = shared_server.request("POST", "/api/realtime/broadcast", body=body, bearer=admin_token(people))
    assert status == 400, error
    assert error["error"]["code"] == "VALIDATION_ERROR"
    assert fields <= set(error["error"]["details"]) and all(error["error"]["details"][f] for f in fields)


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b'"text"'])
def test_a_body_that_is_not_a_json_object_is_400_with_details(
    shared_server: ServerProcess, people: People, raw: bytes
) -> None:
    status, error = shared_server.request("POST", "/api/realtime/broadcast", raw=raw, bearer=admin_token(people))
    assert status == 400 and error["error"]["code"] == "BAD_REQUEST" and error["error"]["details"]["body"]


def test_a_message_of_exactly_1000_characters_is_accepted(shared_server: ServerProcess, people: People) -> None:
    status, sent = shared_server.request(
        "POST", "/api/realtime/broadcast", body={"message": "é" * 1000, "type": "alert"}, bearer=admin_token(people)
    )
    assert status == 200 and sent["delivered"] >= 0


# disconnect ---------------------------------------------------------------------------


async def test_disconnect_closes_every_socket_of_the_user_with_4003_and_cleans_up(
    shared_server: ServerProcess, people: People
) -> None:
    trip = make_trip(shared_server, people, "ada", "eve")
    root = admin_token(people)
    eve1 = await Client.connect(shared_server, people.token("eve"))
    eve2 = await Client.connect(shared_server, people.token("eve"))
    ada = await Client.connect(shared_server, people.token("ada"))
    for client, ref in ((eve1, "e1"), (eve2, "e2"), (ada, "a1")):
        await client.request("join_trip_room", {"tripId": trip["tripId"]}, ref, "trip_room_joined")

    status, body = shared_server.request("POST", f"/api/realtime/disconnect/{people.id('eve')}", bearer=root)
    assert status == 200 and body == {"disconnected": 2}
    for client in (eve1, eve2):
        await asyncio.wait_for(client.ws.wait_closed(), 5)
        assert client.ws.close_code == 4003 and client.ws.close_reason
    left = await ada.expect("user_left")
    assert left["data"]["userId"] == people.id("eve") and left["data"]["tripId"] == trip["tripId"]

    # session data is gone: not listed, not a room member, and a second disconnect finds nobody
    await wait_until(lambda: connections_of(shared_server, root, people.id("eve")) == [])
    ada_again = await Client.connect(shared_server, people.token("ada"))
    joined = await ada_again.request("join_trip_room", {"tripId": trip["tripId"]}, "j", "trip_room_joined")
    assert people.id("eve") not in {m["userId"] for m in joined["data"]["members"]}
    status, error = shared_server.request("POST", f"/api/realtime/disconnect/{people.id('eve')}", bearer=root)
    assert status == 404 and error["error"]["code"] == "NOT_FOUND"

    [done, refused] = audit(shared_server, root, type="admin_disconnect", userId=people.id("root"))
    assert done["outcome"] == "accepted" and done["payload"] == {"userId": people.id("eve")}
    assert done["events"][0]["data"] == {"userId": people.id("eve"), "connections": 2, "code": 4003}
    assert refused["outcome"] == "refused" and refused["error"]["code"] == "NOT_FOUND"
    await wait_until(lambda: len(audit(shared_server, root, type="disconnect", userId=people.id("eve"))) == 2)
    closes = audit(shared_server, root, type="disconnect", userId=people.id("eve"))
    assert [r["events"][0]["data"]["code"] for r in closes] == [4003, 4003]
    # the user may connect again afterwards
    again = await Client.connect(shared_server, people.token("eve"))
    for client in (again, ada, ada_again):
        await client.close()


@pytest.mark.parametrize("user_id", ["xyz", "65000000000000000000000", "65000000000000000000000g", "6" * 25])
def test_disconnect_answers_400_for_a_user_id_that_is_not_an_object_id(
    shared_server: ServerProcess, people: People, user_id: str
) -> None:
    status, error = shared_server.request("POST", f"/api/realtime/disconnect/{user_id}", bearer=admin_token(people))
    assert status == 400 and error["error"]["details"]["userId"]


def test_disconnect_answers_404_for_a_user_connected_nowhere(shared_server: ServerProcess, people: People) -> None:
    status, error = shared_server.request(
        "POST", f"/api/realtime/disconnect/{people.id('ghost')}", bearer=admin_token(people)
    )
    assert status == 404 and error == {"error": {"code": "NOT_FOUND", "message": error["error"]["message"]}}


# notify ---------------------------------------------------------------------------------


async def test_notify_pushes_a_booking_update_live_and_the_user_lists_and_reads_it(
    shared_server: ServerProcess, people: People
) -> None:
    root = admin_token(people)
    ada = await Client.connect(shared_server, people.token("ada"))
    ada_phone = await Client.connect(shared_server, people.token("ada"))
    body = {
        "userId": people.id("ada"),
        "kind": "booking_update",
        "title": "Hotel booking confirmed",
        "body": "Casa do Alfama, 14-17 July",
        "data": {"bookingId": "BK-1", "status": "confirmed"},
    }
    status, sent = shared_server.request("POST", "/api/realtime/notify", body=body, bearer=root)
    assert status == 200 and sent["delivered"] == 2
    for client in (ada, ada_phone):
        frame = await client.expect("notification")
        assert frame["data"]["notificationId"] == sent["notificationId"]
        assert {k: frame["data"][k] for k in ("kind", "title", "body", "data")} == {
            k: body[k] for k in ("kind", "title", "body", "data")
        }
        assert "userId" not in frame["data"]

    status, listed = shared_server.request("GET", "/api/notifications?unread=true", bearer=people.token("ada"))
    assert status == 200
    [item] = [n for n in listed["notifications"] if n["notificationId"] == sent["notificationId"]]
    assert item["kind"] == "booking_update" and item["read"] is False and item["createdAt"].endswith("Z")
    status, read = shared_server.request(
        "POST", f"/api/notifications/{sent['notificationId']}/read", bearer=people.token("ada")
    )
    assert status == 200 and read["read"] is True
    status, listed = shared_server.request("GET", "/api/notifications?unread=true", bearer=people.token("ada"))
    assert sent["notificationId"] not in {n["notificationId"] for n in listed["notifications"]}
    # nobody else sees it
    status, other = shared_server.request("GET", "/api/notifications", bearer=people.token("bob"))
    assert status == 200 and other["notifications"] == []

    [record] = audit(shared_server, root, type="notify", userId=people.id("root"))
    assert record["outcome"] == "accepted" and record["events"][0]["data"]["notificationId"] == sent["notificationId"]
    await ada.close()
    await ada_phone.close()


async def test_a_notification_for_an_offline_user_is_stored_for_later(
    shared_server: ServerProcess, people: People
) -> None:
    body = {"userId": people.id("dora"), "kind": "booking_update", "title": "Flight delayed"}
    status, sent = shared_server.request("POST", "/api/realtime/notify", body=body, bearer=admin_token(people))
    assert status == 200 and sent["delivered"] == 0
    dora = await Client.connect(shared_server, people.token("dora"))
    assert [f for f in await dora.silent_for(0.3) if f["event"] == "notification"] == []
    status, listed = shared_server.request("GET", "/api/notifications", bearer=people.token("dora"))
    assert [n["notificationId"] for n in listed["notifications"]] == [sent["notificationId"]]
    await dora.close()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "booking_update", "title": "t"}, "userId"),
        ({"userId": "nope", "kind": "booking_update", "title": "t"}, "userId"),
        ({"userId": object_id(7), "title": "t"}, "kind"),
        ({"userId": object_id(7), "kind": "", "title": "t"}, "kind"),
        ({"userId": object_id(7), "kind": "k" * 51, "title": "t"}, "kind"),
        ({"userId": object_id(7), "kind": "booking_update"}, "title"),
        ({"userId": object_id(7), "kind": "booking_update", "title": "t", "body": "b" * 2001}, "body"),
        ({"userId": object_id(7), "kind": "booking_update", "title": "t", "data": [1]}, "data"),
        ({"userId": object_id(7), "kind": "booking_update", "title": "t", "data": {"a.b": 1}}, "data.a.b"),
        ({"userId": object_id(7), "kind": "booking_update", "title": "t", "extra": 1}, "extra"),
    ],
)
def test_notify_answers_400_with_field_details(
    shared_server: ServerProcess, people: People, body: dict[str, Any], field: str
) -> None:
    status, error = shared_server.request("POST", "/api/realtime/notify", body=body, bearer=admin_token(people))
    assert status == 400, error
    assert error["error"]["details"][field]


# 500 ------------------------------------------------------------------------------------


async def test_an_internal_failure_is_a_bare_500_json_error(server: ServerProcess, tmp_path: Path) -> None:
    """A fault in the log itself (a trigger another process put in the store) must
    surface as the contract's error shape, saying nothing about its cause."""
    people = People()
    root = admin_token(people)
    user = await Client.connect(server, people.token("ada"))
    fault = "injected fault at /srv/secret/events.db"
    with sqlite3.connect(str(tmp_path / "events.db")) as db:
        db.execute(
            "CREATE TRIGGER injected_fault BEFORE INSERT ON log WHEN NEW.command IN "
            "('admin_broadcast', 'admin_disconnect', 'notify', 'admin_list_connections', 'admin_audit_query') "
            f"BEGIN SELECT RAISE(ABORT, '{fault}'); END"
        )
    calls = [
        ("GET", "/api/realtime/connections", None),
        ("POST", "/api/realtime/broadcast", {"message": "hello"}),
        ("POST", f"/api/realtime/disconnect/{people.id('ada')}", None),
        ("POST", "/api/realtime/notify", {"userId": people.id("ada"), "kind": "booking_update", "title": "t"}),
        ("GET", "/api/audit/events", None),
    ]
    for method, path, body in calls:
        status, error = server.request(method, path, body=body, bearer=root)
        assert status == 500, (path, error)
        assert error == {"error": {"code": "INTERNAL", "message": "internal error"}}
    assert [f for f in await user.silent_for(0.3) if f["event"] in ("broadcast", "notification")] == []
    assert user.ws.close_code is None  # nothing was done

    with sqlite3.connect(str(tmp_path / "events.db")) as db:
        db.execute("DROP TRIGGER injected_fault")
    status, sent = server.request("POST", "/api/realtime/broadcast", body={"message": "hello"}, bearer=root)
    assert status == 200 and sent["delivered"] == 1
    assert "injected fault" in server.read_log()  # logged for operators, never answered
    await user.close()
