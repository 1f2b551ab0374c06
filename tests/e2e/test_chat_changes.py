"""Editing and deleting chat messages over WebSocket and REST, on two nodes sharing a store
(SQLite and the MongoDB adapter against nx-27017) and Redis.

What they prove: only the author edits, the author, the owner or an admin deletes; the
room on both nodes is told in ``seq`` order with the messages around it; history,
recovery by ``lastSeq`` and the stream show the current text or a tombstone, never a
deleted text; the MongoDB ``chat_messages`` read model follows.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from pymongo import MongoClient

from tests.e2e.test_multi_node import (  # the stores and nodes of the multi-node suite
    ADA,
    ADMIN,
    BOB,
    CAT,
    bearer,
    joined,
    make_trip,
    mongo_base,  # noqa: F401 (a fixture store_url asks for)
    nodes,
    store_url,  # noqa: F401 (a fixture)
    until_event,
)
from tests.server import Client, ServerProcess

pytestmark = pytest.mark.e2e


async def chat(client: Client, trip_id: str, text: str, ref: str) -> dict[str, Any]:
    reply = await client.request("chat_message", {"tripId": trip_id, "message": text}, ref, "chat_message")
    assert reply["event"] == "chat_message", reply
    return dict(reply["data"])


def history(server: ServerProcess, trip_id: str, user: str) -> list[dict[str, Any]]:
    status, page = server.request("GET", f"/api/trips/{trip_id}/messages", bearer=bearer(user))
    assert status == 200, page
    return list(page["messages"])


def mongo_messages(url: str, trip_id: str) -> dict[str, dict[str, Any]]:
    """The ``chat_messages`` read model of the trip, once the background writes have landed."""
    with MongoClient(url, serverSelectionTimeoutMS=5000) as client:
        collection = client.get_default_database()["chat_messages"]
        return {doc["_id"]: doc for doc in collection.find({"tripId": trip_id})}


async def eventually(check: Any, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.05)


async def test_an_edit_and_a_delete_reach_both_nodes_in_order_and_every_history_shows_them(
    store_url: str,  # noqa: F811
    redis_url: str,
    tmp_path: Path,
) -> None:
    with nodes(store_url, redis_url, tmp_path, "node-a", "node-b") as (a, b):
        trip_id = make_trip(a, ADA, BOB, CAT)
        ada, head = await joined(a, ADA, trip_id)
        bob, _ = await joined(b, BOB, trip_id)

        first = await chat(ada, trip_id, "meet at 9", "c1")
        secret = await chat(ada, trip_id, "the door code is 4711", "c2")
        edited = await ada.request(
            "edit_message",
            {"tripId": trip_id, "messageId": first["messageId"], "message": "meet at 10"},
            "e1",
            "chat_message_edited",
        )
        after = await chat(ada, trip_id, "see you", "c3")
        gone = await ada.request(
            "delete_message", {"tripId": trip_id, "messageId": secret["messageId"]}, "d1", "chat_message_deleted"
        )
        assert edited["event"] == "chat_message_edited", edited
        assert edited["data"]["message"] == "meet at 10" and edited["data"]["edited"] is True
        assert edited["data"]["editedAt"] and edited["data"]["seq"] == head + 3
        assert gone["event"] == "chat_message_deleted", gone
        assert gone["data"]["deletedBy"] == ADA and "message" not in gone["data"] and gone["data"]["seq"] == head + 5

        # node B's member gets the five in one seq order, the edit between the messages around it
        await until_event(bob, "chat_message_deleted", 15.0)
        order = [
            (f["event"], f["data"]["seq"])
            for f in bob.frames
            if "seq" in f["data"] and f["event"] != "trip_room_joined"
        ]
        assert order == [
            ("chat_message", head + 1),
            ("chat_message", head + 2),
            ("chat_message_edited", head + 3),
            ("chat_message", head + 4),
            ("chat_message_deleted", head + 5),
        ]

        for server, user in ((a, ADA), (b, BOB)):
            messages = history(server, trip_id, user)
            assert [m["messageId"] for m in messages] == [first["messageId"], secret["messageId"], after["messageId"]]
            assert messages[0]["message"] == "meet at 10" and messages[0]["edited"] is True
            assert messages[1]["deleted"] is True and messages[1]["deletedBy"] == ADA and "message" not in messages[1]
            status, events = server.request("GET", f"/api/trips/{trip_id}/events", bearer=bearer(user))
            assert status == 200 and "4711" not in str(events)

        # recovery by lastSeq on the other node: the deleted text is never sent
        cat = await Client.connect(b, bearer(CAT))
        reply = await cat.request("join_trip_room", {"tripId": trip_id, "lastSeq": head}, "j", "trip_room_joined")
        assert reply["data"]["recovered"] is True
        await until_event(cat, "chat_message_deleted", 10.0)
        assert "4711" not in str(cat.frames)
        recovered = [f["data"] for f in cat.frames if f["event"] == "chat_message"]
        assert recovered[0]["message"] == "meet at 10" and recovered[1]["deleted"] is True

        if store_url.startswith("mongodb"):

            def settled() -> dict[str, dict[str, Any]] | None:
                docs = mongo_messages(store_url, trip_id)
                done = (
                    len(docs) == 3
                    and docs[secret["messageId"]].get("deleted")
                    and docs[first["messageId"]].get("edited")
                )
                return docs if done else None

            docs = await eventually(settled)
            assert docs, [sorted(d.items()) for d in mongo_messages(store_url, trip_id).values()]
            assert docs[first["messageId"]]["message"] == "meet at 10"
            assert "message" not in docs[secret["messageId"]] and "4711" not in str(docs)
        for client in (ada, bob, cat):
            await client.close()


async def test_edit_and_delete_permissions_and_rest_routes(
    store_url: str,  # noqa: F811
    redis_url: str,
    tmp_path: Path,
) -> None:
    with nodes(store_url, redis_url, tmp_path, "node-a") as (a,):
        trip_id = make_trip(a, ADA, BOB, CAT)
        bob, _ = await joined(a, BOB, trip_id)
        cat, _ = await joined(a, CAT, trip_id)
        mine = await chat(bob, trip_id, "bob's plan", "c1")
        path = f"/api/trips/{trip_id}/messages/{mine['messageId']}"

        refused = await cat.request(
            "edit_message",
            {"tripId": trip_id, "messageId": mine["messageId"], "message": "hijack"},
            "e1",
            "chat_message_edited",
        )
        assert refused["event"] == "error" and refused["data"]["code"] == "FORBIDDEN"
        status, body = a.request("PATCH", path, body={"message": "hijack"}, bearer=bearer(ADA))  # even the owner
        assert status == 403 and body["error"]["code"] == "FORBIDDEN"
        status, body = a.request("DELETE", path, bearer=bearer(CAT))
        assert status == 403, body
        for bad in ("", " ", "x" * 1001):
            status, body = a.request("PATCH", path, body={"message": bad}, bearer=bearer(BOB))
            assert status == 400 and body["error"]["code"] == "VALIDATION_ERROR", body
        unknown = f"/api/trips/{trip_id}/messages/{'e' * 24}"
        status, body = a.request("PATCH", unknown, body={"message": "hi"}, bearer=bearer(BOB))
        assert status == 404 and body["error"]["code"] == "NOT_FOUND"

        status, body = a.request("PATCH", path, body={"message": " bob's new plan "}, bearer=bearer(BOB))
        assert status == 200 and body["message"] == "bob's new plan" and body["edited"] is True, body
        told = await cat.expect("chat_message_edited")
        assert told["data"] == body

        status, body = a.request("DELETE", path, bearer=bearer(ADMIN))
        assert status == 200 and body["deleted"] is True and body["deletedBy"] == ADMIN, body
        assert (await cat.expect("chat_message_deleted"))["data"] == body
        status, body = a.request("PATCH", path, body={"message": "back"}, bearer=bearer(BOB))
        assert status == 404, body  # a deleted message stays deleted
        status, listed = a.request("GET", "/api/notifications", bearer=bearer(ADA))  # ADA was not in the room
        assert status == 200, listed
        told_ada = [n for n in listed["notifications"] if n.get("messageId") == mine["messageId"]]
        # the deleted text left the notification too: emptied, or masked once its key is destroyed
        assert len(told_ada) == 1 and told_ada[0]["preview"] in ("", "[erased]")

        log = a.request("GET", f"/api/trips/{trip_id}/events", bearer=bearer(BOB))[1]["events"]
        assert [e["type"] for e in log[-2:]] == ["chat_message_edited", "chat_message_deleted"]
        for client in (bob, cat):
            await client.close()


async def test_reactions_reach_both_nodes_and_every_history_carries_the_summary(
    store_url: str,  # noqa: F811
    redis_url: str,
    tmp_path: Path,
) -> None:
    with nodes(store_url, redis_url, tmp_path, "node-a", "node-b") as (a, b):
        trip_id = make_trip(a, ADA, BOB, CAT)
        ada, head = await joined(a, ADA, trip_id)
        bob, _ = await joined(b, BOB, trip_id)
        message = await chat(ada, trip_id, "dinner at 8?", "c1")
        target = {"tripId": trip_id, "messageId": message["messageId"]}

        liked = await bob.request("add_reaction", {**target, "emoji": "👍"}, "r1", "chat_reactions")
        assert liked["event"] == "chat_reactions", liked
        assert liked["data"]["reactions"] == [{"emoji": "👍", "count": 1, "userIds": [BOB]}]
        assert liked["data"]["seq"] == head + 2 and liked["data"]["userId"] == BOB and liked["data"]["added"] is True
        assert (await ada.expect("chat_reactions"))["data"] == liked["data"]
        again = await bob.request("add_reaction", {**target, "emoji": "👍"}, "r2", "chat_reactions")
        assert again["data"]["reactions"] == liked["data"]["reactions"] and "seq" not in again["data"]  # no change

        path = f"/api/trips/{trip_id}/messages/{message['messageId']}/reactions/{quote('🎉')}"
        status, body = b.request("PUT", path, bearer=bearer(ADA))
        assert status == 200, body
        summary = [{"emoji": "👍", "count": 1, "userIds": [BOB]}, {"emoji": "🎉", "count": 1, "userIds": [ADA]}]
        assert body == {"messageId": message["messageId"], "tripId": trip_id, "reactions": summary}
        assert (await bob.expect("chat_reactions"))["data"]["reactions"] == summary
        status, body = a.request(
            "PUT", f"/api/trips/{trip_id}/messages/{message['messageId']}/reactions/ok", bearer=bearer(ADA)
        )
        assert status == 400 and body["error"]["code"] == "VALIDATION_ERROR", body
        bad = await bob.request("add_reaction", {**target, "emoji": "👍👍"}, "r3", "chat_reactions")
        assert bad["event"] == "error" and bad["data"]["code"] == "VALIDATION_ERROR"

        removed = await bob.request("remove_reaction", {**target, "emoji": "👍"}, "r4", "chat_reactions")
        assert removed["data"]["reactions"] == [{"emoji": "🎉", "count": 1, "userIds": [ADA]}]
        for server, user in ((a, ADA), (b, BOB)):
            assert history(server, trip_id, user)[0]["reactions"] == removed["data"]["reactions"]

        cat = await Client.connect(a, bearer(CAT))
        await cat.request("join_trip_room", {"tripId": trip_id, "lastSeq": head}, "j", "trip_room_joined")
        await until_event(cat, "chat_reactions", 10.0, seq=head + 4)
        recovered = next(f["data"] for f in cat.frames if f["event"] == "chat_message")
        assert recovered["reactions"] == removed["data"]["reactions"]  # recovery shows the message as it is now

        if store_url.startswith("mongodb"):

            def settled() -> dict[str, Any] | None:
                doc = mongo_messages(store_url, trip_id).get(message["messageId"])
                return doc if doc is not None and doc.get("reactions") == removed["data"]["reactions"] else None

            assert await eventually(settled), mongo_messages(store_url, trip_id)
        for client in (ada, bob, cat):
            await client.close()


def unread(server: ServerProcess, trip_id: str, user: str) -> dict[str, Any]:
    status, body = server.request("GET", f"/api/trips/{trip_id}/chat/read", bearer=bearer(user))
    assert status == 200, body
    return dict(body)


async def test_read_state_is_the_same_on_every_device_and_node_and_never_moves_back(
    store_url: str,  # noqa: F811
    redis_url: str,
    tmp_path: Path,
) -> None:
    with nodes(store_url, redis_url, tmp_path, "node-a", "node-b") as (a, b):
        trip_id = make_trip(a, ADA, BOB, CAT)
        bob, head = await joined(a, BOB, trip_id)
        laptop, _ = await joined(a, ADA, trip_id)
        phone = await Client.connect(b, bearer(ADA))  # another device of Ada's, not in the room
        sent = [await chat(bob, trip_id, f"news {n}", f"c{n}") for n in range(3)]
        mine = await chat(laptop, trip_id, "thanks", "mine")
        assert unread(a, trip_id, ADA) == unread(b, trip_id, ADA) == {"tripId": trip_id, "readSeq": 0, "unread": 3}

        reply = await laptop.request("mark_chat_read", {"tripId": trip_id, "seq": sent[1]["seq"]}, "r1", "chat_read")
        assert reply["event"] == "chat_read", reply
        assert reply["data"] == {"tripId": trip_id, "userId": ADA, "seq": sent[1]["seq"]}
        told = await phone.expect("chat_read", timeout=10)
        assert told["data"] == reply["data"] and "ref" not in told
        for server in (a, b):
            assert unread(server, trip_id, ADA) == {"tripId": trip_id, "readSeq": head + 2, "unread": 1}

        older = await phone.request("mark_chat_read", {"tripId": trip_id, "seq": head}, "r2", "chat_read")
        assert older["data"]["seq"] == head + 2  # a mark never moves back
        ahead = await phone.request("mark_chat_read", {"tripId": trip_id, "seq": mine["seq"] + 5}, "r3", "chat_read")
        assert ahead["event"] == "error" and ahead["data"]["code"] == "VALIDATION_ERROR"

        status, body = b.request(
            "PUT", f"/api/trips/{trip_id}/chat/read", body={"seq": mine["seq"]}, bearer=bearer(ADA)
        )
        assert status == 200 and body == {"tripId": trip_id, "readSeq": mine["seq"], "unread": 0}, body
        await until_event(laptop, "chat_read", 10.0, seq=mine["seq"])  # told of the REST mark too
        status, body = a.request("PUT", f"/api/trips/{trip_id}/chat/read", body={"seq": 1}, bearer=bearer(ADMIN))
        assert status == 200 and body["unread"] == 4  # an admin has a mark of their own
        stranger = "0" * 23 + "f"
        status, body = a.request("GET", f"/api/trips/{trip_id}/chat/read", bearer=bearer(stranger))
        assert status == 403, body
        status, body = a.request("PUT", f"/api/trips/{trip_id}/chat/read", body={"seq": -1}, bearer=bearer(ADA))
        assert status == 400, body
        assert unread(a, trip_id, BOB)["unread"] == 1  # Bob's own messages are not unread to him

        later = [await chat(bob, trip_id, f"later {n}", f"l{n}") for n in range(2)]
        gone = await bob.request(
            "delete_message", {"tripId": trip_id, "messageId": later[0]["messageId"]}, "d1", "chat_message_deleted"
        )
        assert gone["event"] == "chat_message_deleted", gone
        for server in (a, b):  # a message deleted since it was posted is not there to read
            settled = await eventually(lambda server=server: unread(server, trip_id, ADA)["unread"] == 1)
            assert settled, unread(server, trip_id, ADA)
        last = await chat(bob, trip_id, "last", "l2")
        mark = {"seq": last["seq"]}  # on the node with nobody in the room: a seq it has not seen yet
        status, body = b.request("PUT", f"/api/trips/{trip_id}/chat/read", body=mark, bearer=bearer(ADA))
        assert status == 200 and body == {"tripId": trip_id, "readSeq": last["seq"], "unread": 0}, body

        for client in (bob, laptop, phone):
            await client.close()
        again, _ = await joined(b, ADA, trip_id)  # after a reconnect, elsewhere: the same
        assert unread(b, trip_id, ADA) == {"tripId": trip_id, "readSeq": last["seq"], "unread": 0}
        await again.close()


async def test_a_mention_notifies_the_member_in_the_room_and_stores_one_for_the_offline(
    store_url: str,  # noqa: F811
    redis_url: str,
    tmp_path: Path,
) -> None:
    with nodes(store_url, redis_url, tmp_path, "node-a", "node-b") as (a, b):
        trip_id = make_trip(a, ADA, BOB, CAT)
        ada, _ = await joined(a, ADA, trip_id)
        bob, _ = await joined(b, BOB, trip_id)  # in the room, on the other node; CAT is offline
        stranger = "0" * 23 + "f"
        sent = await ada.request(
            "chat_message",
            {"tripId": trip_id, "message": "@Bob @Cat bring the tickets", "mentions": [BOB, CAT, stranger]},
            "m1",
            "chat_message",
        )
        assert sent["data"]["mentions"] == [BOB, CAT]  # a non-member is not mentioned
        told = await until_event(bob, "notification", 10.0, kind="mention")
        assert told["data"]["messageId"] == sent["data"]["messageId"] and told["data"]["fromUserId"] == ADA
        assert told["data"]["preview"] == "@Bob @Cat bring the tickets"
        status, listed = b.request("GET", "/api/notifications", bearer=bearer(CAT))
        assert status == 200, listed
        kinds = [(n["kind"], n["messageId"]) for n in listed["notifications"]]
        assert kinds == [("mention", sent["data"]["messageId"])]  # one notification, stored while offline
        plain = await ada.request("chat_message", {"tripId": trip_id, "message": "no names"}, "m2", "chat_message")
        assert "mentions" not in plain["data"]
        assert not [f for f in await bob.silent_for(0.5) if f["event"] == "notification"]  # in the room: no plain one
        assert history(a, trip_id, ADA)[0]["mentions"] == [BOB, CAT]
        for client in (ada, bob):
            await client.close()
