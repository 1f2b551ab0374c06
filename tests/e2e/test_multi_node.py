"""Several server processes sharing one store and one Redis (README
"several nodes"): every test runs on a shared SQLite file and on the MongoDB
adapter against nx-27017.

What they prove: room traffic sent on one node reaches members on the others
in one ``seq`` order; concurrent updates from different nodes are gap-free and
every node projects the same trip; a node killed with SIGKILL loses nothing for
clients that reconnect elsewhere with ``lastSeq``, and its users are shown gone
once its death is noticed and the presence grace passed (20 s); a Redis restart
during traffic loses nothing acknowledged; admin actions reach sockets on
whichever node holds them.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from eventlog.mongo_store import MongoEventStore
from tests import mongo_server
from tests.redis_server import PrivateRedis, private_prefix, unique_prefix
from tests.server import Client, ServerProcess, object_id, token

pytestmark = pytest.mark.e2e

ADA, BOB, CAT, DAN = (object_id(0xA0 + n) for n in range(4))
ADMIN = object_id(0xAD)
NAMES = {ADA: "Ada", BOB: "Bob", CAT: "Cat", DAN: "Dan"}
STREAM_EVENTS = ("chat_message", "trip_updated")
# a dead node's users are shown gone once its death is noticed (its presence key expires: 8 s at
# most) and the presence grace (10 s by default) passed without a resume elsewhere (one 2 s sweep)
PRESENCE_DEADLINE = 8.0 + 10.0 + 2.0


def bearer(user: str) -> str:
    return token(user, name=NAMES.get(user), role="admin" if user == ADMIN else "user")


# stores ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mongo_base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with mongo_server.mongo_url(tmp_path_factory.mktemp("nx-27017")) as url:
        yield url


@pytest.fixture(params=["sqlite", "mongo"])
async def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/events.db"
        return
    base: str = request.getfixturevalue("mongo_base")
    database = mongo_server.unique_database()
    store = MongoEventStore(base, database=database, migrate=True)
    await store.open()  # the schema, once, before any node starts
    await store.close()
    try:
        yield f"{base.rstrip('/')}/{database}"
    finally:
        mongo_server.drop_database(base, database)


# nodes ----------------------------------------------------------------------------


@contextlib.contextmanager
def nodes(
    store_url: str,
    redis_url: str,
    log_dir: Path,
    *names: str,
    prefix: str | None = None,
    args: tuple[str, ...] = (),
) -> Iterator[list[ServerProcess]]:
    """Server processes sharing the store and Redis, started together, stopped by pid."""
    with contextlib.ExitStack() as stack:
        if prefix is None and redis_url.startswith("redis+cluster://"):
            prefix = unique_prefix()  # the suite's own cluster goes with its keys
        elif prefix is None:
            prefix = stack.enter_context(private_prefix(redis_url))
        servers = [
            ServerProcess(store_url, args=["--redis", redis_url, "--redis-prefix", prefix, "--node-id", name, *args])
            for name in names
        ]
        try:
            for server in servers:
                server.start(log_dir, wait=False)
            for server in servers:
                server.wait_ready()
            yield servers
        finally:
            for server in servers:
                server.stop()


def make_trip(server: ServerProcess, owner: str, *collaborators: str) -> str:
    status, trip = server.request(
        "POST", "/api/trips", body={"title": "Lisbon", "collaborators": list(collaborators)}, bearer=bearer(owner)
    )
    assert status == 201, trip
    return str(trip["tripId"])


async def joined(server: ServerProcess, user: str, trip_id: str, last_seq: int | None = None) -> tuple[Client, int]:
    client = await Client.connect(server, bearer(user))
    data: dict[str, Any] = {"tripId": trip_id}
    if last_seq is not None:
        data["lastSeq"] = last_seq
    reply = await client.request("join_trip_room", data, "join", "trip_room_joined")
    assert reply["event"] == "trip_room_joined", reply
    return client, int(reply["data"]["seq"])


def stream_frames(client: Client) -> list[dict[str, Any]]:
    return [f for f in client.frames if f["event"] in STREAM_EVENTS and "seq" in f["data"]]


def seqs(client: Client) -> list[int]:
    return [int(f["data"]["seq"]) for f in stream_frames(client)]


async def until_seq(client: Client, seq: int, timeout: float = 15.0) -> None:
    """Read frames until one carries ``seq`` (or a later one)."""
    deadline = time.monotonic() + timeout
    while not any(s >= seq for s in seqs(client)):
        await client.next_frame(max(0.01, deadline - time.monotonic()))


async def until_event(client: Client, event: str, timeout: float, **data: Any) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        for frame in client.frames:
            if frame["event"] == event and all(frame["data"].get(k) == v for k, v in data.items()):
                return frame
        await client.next_frame(max(0.01, deadline - time.monotonic()))


def update(n: int) -> dict[str, Any]:
    return {"updateType": "constraint_added", "data": {"constraint": {"type": "note", "value": n}}}


async def send_updates(client: Client, trip_id: str, tag: str, count: int, *, chat_every: int = 0) -> list[int]:
    """Send ``count`` commands one after the other; returns the seq each was acknowledged with."""
    acked = []
    for n in range(count):
        ref = f"{tag}-{n}"
        if chat_every and n % chat_every == 0:
            reply = await client.request(
                "chat_message", {"tripId": trip_id, "message": f"{tag} {n}"}, ref, "chat_message", timeout=30
            )
        else:
            reply = await client.request(
                "trip_update", {"tripId": trip_id, **update(n)}, ref, "trip_updated", timeout=30
            )
        assert reply["event"] != "error", reply
        acked.append(int(reply["data"]["seq"]))
    return acked


def contiguous(values: list[int], first: int, last: int) -> bool:
    return values == list(range(first, last + 1))


def same_stream_everywhere(*clients: Client) -> None:
    """Every client saw the same frame for each seq (the sender's ref aside)."""
    views = [{int(f["data"]["seq"]): (f["event"], f["data"]) for f in stream_frames(c)} for c in clients]
    common = set(views[0]).intersection(*views[1:])
    for seq in common:
        assert all(view[seq] == views[0][seq] for view in views), seq


# tests ----------------------------------------------------------------------------


async def test_room_traffic_reaches_every_node_in_one_seq_order_and_projections_agree(
    store_url: str, redis_url: str, tmp_path: Path
) -> None:
    with nodes(store_url, redis_url, tmp_path, "node-a", "node-b", "node-c") as servers:
        a, b, c = servers
        trip_id = make_trip(a, ADA, BOB, CAT)
        ada, head = await joined(a, ADA, trip_id)
        bob, _ = await joined(b, BOB, trip_id)
        cat, _ = await joined(c, CAT, trip_id)

        chat = await ada.request("chat_message", {"tripId": trip_id, "message": "hello from A"}, "c1", "chat_message")
        day = await ada.request(
            "trip_update",
            {"tripId": trip_id, "updateType": "day_added", "data": {"day": {"date": "2026-12-04"}}},
            "u1",
            "trip_updated",
        )
        assert (chat["data"]["seq"], day["data"]["seq"]) == (head + 1, head + 2)
        for client in (bob, cat):
            got_chat = await client.expect("chat_message")
            got_day = await client.expect("trip_updated")
            assert got_chat["data"] == chat["data"] and "ref" not in got_chat
            assert got_day["data"] == day["data"]

        # concurrent updates (and some chat) from users on three nodes
        per_user = 12
        acked = await asyncio.gather(
            send_updates(ada, trip_id, "ada", per_user, chat_every=4),
            send_updates(bob, trip_id, "bob", per_user, chat_every=5),
            send_updates(cat, trip_id, "cat", per_user),
        )
        final = head + 2 + 3 * per_user
        assert sorted(s for user in acked for s in user) == list(range(head + 3, final + 1))  # none lost, no gap
        for client in (ada, bob, cat):
            await until_seq(client, final)
            assert contiguous(seqs(client), head + 1, final)  # every seq once, in order, on every node
            assert not [f for f in client.frames if f["event"] == "error"]
        same_stream_everywhere(ada, bob, cat)

        states = []
        for server in servers:
            status, trip = server.request("GET", f"/api/trips/{trip_id}", bearer=bearer(ADA))
            assert status == 200, trip
            states.append(trip)
        assert states[0] == states[1] == states[2]
        assert states[0]["version"] == final and len(states[0]["constraints"]) == 3 * per_user - 3 - 3
        status, page = b.request("GET", f"/api/trips/{trip_id}/events?limit=1000", bearer=bearer(BOB))
        assert status == 200 and [e["seq"] for e in page["events"]] == list(range(1, final + 1))
        for client in (ada, bob, cat):
            await client.close()


async def test_presence_and_typing_span_nodes(store_url: str, redis_url: str, tmp_path: Path) -> None:
    with nodes(store_url, redis_url, tmp_path, "node-a", "node-b") as (a, b):
        trip_id = make_trip(a, ADA, BOB)
        ada, _ = await joined(a, ADA, trip_id)
        bob = await Client.connect(b, bearer(BOB))
        joined_bob = await bob.request("join_trip_room", {"tripId": trip_id}, "j", "trip_room_joined")
        assert {m["userId"] for m in joined_bob["data"]["members"]} == {ADA, BOB}
        told = await ada.expect("user_joined")
        assert told["data"]["userId"] == BOB and told["data"]["name"] == "Bob"

        await bob.send("typing", {"tripId": trip_id, "isTyping": True})
        typing = await ada.expect("user_typing")
        assert typing["data"] == {"tripId": trip_id, "userId": BOB, "isTyping": True}
        presence = await bob.request(
            "presence_update", {"tripId": trip_id, "status": "away"}, "p", "user_presence_updated"
        )
        assert presence["data"]["status"] == "away"
        assert (await ada.expect("user_presence_updated"))["data"] == {
            "tripId": trip_id,
            "userId": BOB,
            "status": "away",
        }
        late = await Client.connect(a, bearer(ADA))
        members = (await late.request("join_trip_room", {"tripId": trip_id}, "j", "trip_room_joined"))["data"]
        assert {m["userId"]: m["status"] for m in members["members"]} == {ADA: "online", BOB: "away"}

        await bob.request("leave_trip_room", {"tripId": trip_id}, "l", "trip_room_left")
        left = await ada.expect("user_left")
        assert left["data"]["userId"] == BOB
        for client in (ada, bob, late):
            await client.close()


async def test_admin_actions_reach_sockets_on_whichever_node_holds_them(
    store_url: str, redis_url: str, tmp_path: Path
) -> None:
    with nodes(store_url, redis_url, tmp_path, "node-a", "node-b") as (a, b):
        trip_id = make_trip(a, ADA, BOB)
        ada, _ = await joined(a, ADA, trip_id)
        bob, _ = await joined(b, BOB, trip_id)
        bob_again = await Client.connect(b, bearer(BOB))
        admin = bearer(ADMIN)

        status, listed = a.request("GET", "/api/realtime/connections", bearer=admin)
        assert status == 200 and listed["total"] == 3
        where = {(c["userId"], c["node"]) for c in listed["connections"]}
        assert where == {(ADA, "node-a"), (BOB, "node-b")}
        bob_rooms = sorted(c["rooms"] for c in listed["connections"] if c["userId"] == BOB)
        assert bob_rooms == [[], [trip_id]]

        status, sent = a.request("POST", "/api/realtime/broadcast", body={"message": "maintenance at 10"}, bearer=admin)
        assert status == 200 and sent["delivered"] == 3
        for client in (ada, bob, bob_again):
            assert (await client.expect("broadcast"))["data"]["message"] == "maintenance at 10"

        status, notified = a.request(
            "POST",
            "/api/realtime/notify",
            body={"userId": BOB, "kind": "booking_update", "title": "Hotel confirmed"},
            bearer=admin,
        )
        assert status == 200 and notified["delivered"] == 2
        for client in (bob, bob_again):
            note = await client.expect("notification")
            assert note["data"]["notificationId"] == notified["notificationId"]

        status, removed = a.request("DELETE", f"/api/trips/{trip_id}/collaborators/{BOB}", bearer=bearer(ADA))
        assert status == 200, removed
        revoked = await bob.expect("trip_room_left")
        assert revoked["data"] == {"tripId": trip_id, "reason": "access_revoked"}

        status, gone = a.request("POST", f"/api/realtime/disconnect/{BOB}", bearer=admin)
        assert status == 200 and gone == {"disconnected": 2}
        for client in (bob, bob_again):
            with pytest.raises(Exception):  # noqa: B017 - the socket closes
                while True:
                    await client.next_frame(5)
            assert client.ws.close_code == 4003

        async def bob_listed() -> int:
            return int(a.request("GET", "/api/realtime/connections", bearer=admin)[1]["total"])

        deadline = time.monotonic() + 5
        while await bob_listed() != 1:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        status, _ = b.request("POST", f"/api/realtime/disconnect/{BOB}", bearer=admin)
        assert status == 404  # not connected on any node
        await ada.close()


async def test_a_killed_node_loses_nothing_for_clients_that_reconnect_elsewhere(
    store_url: str, redis_url: str, tmp_path: Path
) -> None:
    with nodes(store_url, redis_url, tmp_path, "node-a", "node-b", "node-c") as servers:
        a, b, c = servers
        trip_id = make_trip(a, ADA, BOB, CAT, DAN)
        ada, head = await joined(a, ADA, trip_id)
        bob, _ = await joined(b, BOB, trip_id)
        cat, _ = await joined(c, CAT, trip_id)
        await joined(c, DAN, trip_id)  # never comes back: must be shown gone

        per_user = 20
        traffic = asyncio.gather(
            send_updates(ada, trip_id, "ada", per_user, chat_every=3),
            send_updates(bob, trip_id, "bob", per_user, chat_every=2),
        )
        await until_seq(cat, head + 8)
        c.kill()  # SIGKILL under traffic
        killed_at = time.monotonic()
        cat_seen = seqs(cat)
        cat_again, _ = await joined(a, CAT, trip_id, last_seq=cat_seen[-1])
        [reply] = [f for f in cat_again.frames if f["event"] == "trip_room_joined"]
        assert reply["data"]["recovered"] is True

        await traffic
        final = head + 2 * per_user
        for client in (ada, bob, cat_again):
            await until_seq(client, final)
        assert contiguous(cat_seen + seqs(cat_again), head + 1, final)  # nothing missed, nothing twice
        for client in (ada, bob):
            assert contiguous(seqs(client), head + 1, final)
            assert not [f for f in client.frames if f["event"] == "error"]
        same_stream_everywhere(ada, bob)

        # presence: dan (node c only) is shown gone in time; cat, back on node a, never left
        left = await until_event(ada, "user_left", PRESENCE_DEADLINE + 2, userId=DAN)
        assert time.monotonic() - killed_at < PRESENCE_DEADLINE, left
        admin = bearer(ADMIN)
        while True:
            status, listed = b.request("GET", "/api/realtime/connections", bearer=admin)
            assert status == 200
            if all(conn["node"] != "node-c" for conn in listed["connections"]):
                break
            assert time.monotonic() - killed_at < PRESENCE_DEADLINE
            await asyncio.sleep(0.2)
        status, page = a.request("GET", f"/api/trips/{trip_id}/events?limit=1000", bearer=bearer(ADA))
        assert [e["seq"] for e in page["events"]] == list(range(1, final + 1))
        assert not [f for f in ada.frames if f["event"] == "user_left" and f["data"]["userId"] == CAT]
        for client in (ada, bob, cat_again):
            await client.close()


async def test_a_redis_restart_during_traffic_loses_nothing_acknowledged(store_url: str, tmp_path: Path) -> None:
    redis = PrivateRedis(tmp_path / "redis").start()
    try:
        with nodes(store_url, redis.url, tmp_path, "node-a", "node-b", prefix="ts-test") as (a, b):
            trip_id = make_trip(a, ADA, BOB, CAT)
            ada, head = await joined(a, ADA, trip_id)
            bob, _ = await joined(b, BOB, trip_id)
            cat, _ = await joined(b, CAT, trip_id)  # only watches

            per_user = 15
            traffic = asyncio.gather(
                send_updates(ada, trip_id, "ada", per_user, chat_every=2),
                send_updates(bob, trip_id, "bob", per_user, chat_every=3),
            )
            await until_seq(cat, head + 6)
            redis.stop()  # SIGKILL, no persistence: streams, rosters and directory are gone
            await asyncio.sleep(1.5)
            redis.start()  # same port
            acked = await traffic  # every command was answered, with its seq
            final = head + 2 * per_user
            assert sorted(s for user in acked for s in user) == list(range(head + 1, final + 1))
            for client in (ada, bob, cat):
                await until_seq(client, final, timeout=20)
                assert contiguous(seqs(client), head + 1, final)
                assert not [f for f in client.frames if f["event"] == "error"]
            same_stream_everywhere(ada, bob, cat)

            # presence was rewritten into the new Redis by each node's heartbeat
            deadline = time.monotonic() + 8
            while True:
                late = await Client.connect(b, bearer(BOB))
                reply = await late.request("join_trip_room", {"tripId": trip_id}, "j", "trip_room_joined")
                await late.close()
                if {m["userId"] for m in reply["data"]["members"]} == {ADA, BOB, CAT}:
                    break
                assert time.monotonic() < deadline, reply
                await asyncio.sleep(0.5)
            for client in (ada, bob, cat):
                await client.close()
    finally:
        redis.stop()
