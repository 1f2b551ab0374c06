"""Signing in without pasted tokens: the dev secret kept across restarts, the dev
person picker, people listed by name, and single-use WebSocket tickets."""

from __future__ import annotations

import base64
import datetime as dt
import stat
import time
from pathlib import Path

import pytest
import redis
import websockets

from app import resume_secret
from config import Settings
from eventlog.memory_tickets import MemorySpentTickets
from service.auth import Identity
from service.signin import TICKET_SECONDS, RealtimeTickets
from tests.redis_server import PrivateRedis
from tests.server import SECRET, Client, ServerProcess, object_id, token

ADA = "650000000000000000000001"


def dev_server(directory: Path) -> ServerProcess:
    # no JWT_SECRET: the --dev node signs with the secret it keeps beside its store
    return ServerProcess(f"sqlite:///{directory}/events.db", args=["--dev"], env={"JWT_SECRET": ""})


def test_a_dev_restart_signs_nobody_out(tmp_path: Path) -> None:
    first = dev_server(tmp_path).start(tmp_path)
    try:
        status, people = first.request("GET", "/api/dev/sign-in")
        assert status == 200 and {"userId": ADA, "name": "Ada"} in people["people"]
        status, signed = first.request("POST", "/api/dev/sign-in", body={"userId": ADA})
        assert status == 200 and signed["name"] == "Ada", signed
    finally:
        assert first.stop() == 0
    secret = tmp_path / "dev-secret"
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600

    second = dev_server(tmp_path)
    second.port = first.port
    second.start(tmp_path)
    try:
        status, body = second.request("GET", "/api/people", bearer=signed["token"])
        assert status == 200, body
        assert [p["name"] for p in body["people"]] == ["Ada", "Admin", "Grace", "Katherine", "Linus"]
    finally:
        second.stop()


def test_dev_sign_in_is_not_served_without_dev_and_refuses_strangers(shared_server: ServerProcess) -> None:
    status, body = shared_server.request("POST", "/api/dev/sign-in", body={"userId": ADA})
    assert status == 404 and body["error"]["code"] == "NOT_FOUND"
    status, _ = shared_server.request("GET", "/api/people")
    assert status == 401


def test_dev_sign_in_takes_only_a_demo_person(tmp_path: Path) -> None:
    server = dev_server(tmp_path).start(tmp_path)
    try:
        status, body = server.request("POST", "/api/dev/sign-in", body={"userId": object_id(7)})
        assert status == 400 and body["error"]["details"] == {"userId": ["must be a demo person"]}
        status, body = server.request("POST", "/api/dev/sign-in", body={"userId": ADA, "role": "admin"})
        assert status == 400 and "role" in body["error"]["details"]
    finally:
        server.stop()


async def test_a_ticket_opens_the_socket_once_and_names_its_buyer(shared_server: ServerProcess) -> None:
    user = object_id(0x71C)
    bearer = token(user, name="Tomás")
    status, issued = shared_server.request("POST", "/api/realtime/tickets", bearer=bearer)
    assert status == 201 and issued["expiresIn"] == 30, issued
    ws = await websockets.connect(f"{shared_server.ws_base}/ws?ticket={issued['ticket']}")
    client = Client(ws)
    connected = await client.next_frame()
    assert connected["event"] == "connected" and connected["data"]["userId"] == user
    await client.close()

    with pytest.raises(websockets.InvalidStatus) as refused:
        await websockets.connect(f"{shared_server.ws_base}/ws?ticket={issued['ticket']}")
    assert refused.value.response.status_code == 401

    status, listed = shared_server.request("GET", "/api/people", bearer=token(object_id(0x71D)))
    assert status == 200 and {"userId": user, "name": "Tomás"} in listed["people"]


# tickets on several nodes ----------------------------------------------------------


class _Then:
    """A clock stopped ``ago`` seconds in the past: a ticket issued by it has expired now."""

    def __init__(self, ago: float) -> None:
        self._at = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=ago)

    def now(self) -> dt.datetime:
        return self._at

    def monotonic(self) -> float:
        return 0.0


async def _refused(url: str) -> int:
    with pytest.raises(websockets.InvalidStatus) as refused:
        await websockets.connect(url)
    return int(refused.value.response.status_code)


async def test_a_ticket_bought_on_one_node_opens_the_socket_on_another_once(
    two_nodes: tuple[ServerProcess, ServerProcess],
) -> None:
    node_a, node_b = two_nodes
    user = object_id(0x71E)
    name = "Inês Quintela-" + "x" * 86  # as long as a display name may be
    status, issued = node_a.request("POST", "/api/realtime/tickets", bearer=token(user, name=name))
    assert status == 201, issued
    payload = base64.urlsafe_b64decode(issued["ticket"].split(".")[0] + "==")
    assert b"Quintela" not in payload and "Quintela".encode("unicode_escape") not in payload  # a URL: sealed
    status, trip = node_a.request("POST", "/api/trips", body={"title": "Porto"}, bearer=token(user, name=name))
    assert status == 201

    client = Client(await websockets.connect(f"{node_b.ws_base}/ws?ticket={issued['ticket']}"))
    connected = await client.next_frame()
    assert connected["event"] == "connected" and connected["data"]["userId"] == user
    joined = await client.request("join_trip_room", {"tripId": trip["tripId"]}, "j", "trip_room_joined")
    assert [m["name"] for m in joined["data"]["members"]] == [name]  # the ticket's identity, name included
    await client.close()

    # spent on node B: refused on B and on A, the node that issued it
    assert await _refused(f"{node_b.ws_base}/ws?ticket={issued['ticket']}") == 401
    assert await _refused(f"{node_a.ws_base}/ws?ticket={issued['ticket']}") == 401


async def test_a_forged_or_expired_ticket_opens_no_socket_on_any_node(
    two_nodes: tuple[ServerProcess, ServerProcess],
) -> None:
    node_a, node_b = two_nodes
    user = object_id(0x71F)
    status, issued = node_a.request("POST", "/api/realtime/tickets", bearer=token(user, name="Ines"))
    assert status == 201, issued
    payload, signature = issued["ticket"].split(".")
    # the payload re-signed with a guessed key, or the buyer's ticket claiming another user
    other = token(object_id(0xBAD))
    forged = [f"{payload}.{signature[:-2]}AA", f"{payload}A.{signature}", other, "x" * 5000]
    for ticket in forged:
        assert await _refused(f"{node_b.ws_base}/ws?ticket={ticket}") == 401, ticket

    # signed with the nodes' shared key (one issued now opens the socket), but 31 s ago: expired
    secret = resume_secret(Settings(jwt_secret=SECRET))
    ines = Identity(user, "user", "Ines", int(time.time()) + 3600)
    fresh = RealtimeTickets(secret, MemorySpentTickets(), _Then(0)).issue(ines)
    stale = RealtimeTickets(secret, MemorySpentTickets(), _Then(TICKET_SECONDS + 1)).issue(ines)
    assert await _refused(f"{node_b.ws_base}/ws?ticket={stale}") == 401
    client = Client(await websockets.connect(f"{node_b.ws_base}/ws?ticket={fresh}"))
    assert (await client.next_frame())["event"] == "connected"
    await client.close()

    # the genuine one still works after all that, once
    client = Client(await websockets.connect(f"{node_b.ws_base}/ws?ticket={issued['ticket']}"))
    assert (await client.next_frame())["event"] == "connected"
    await client.close()


def test_the_people_directory_is_shared_by_the_nodes_kept_across_restarts_and_forgets_the_erased(
    two_nodes: tuple[ServerProcess, ServerProcess], tmp_path: Path, redis_url: str, prefix: str
) -> None:
    node_a, node_b = two_nodes
    ines, hugo = object_id(0x720), object_id(0x721)
    for user, name in ((ines, "Inês Quintela"), (hugo, "Hugo")):
        status, _ = node_a.request("GET", "/api/people", bearer=token(user, name=name))
        assert status == 200
    status, listed = node_b.request("GET", "/api/people", bearer=token(object_id(0x722)))  # no name: not listed
    assert status == 200 and listed["people"] == [
        {"userId": hugo, "name": "Hugo"},
        {"userId": ines, "name": "Inês Quintela"},
    ]

    node_b.stop()  # a restart: what node A saw is still listed by B
    node_b.start(tmp_path)
    status, listed = node_b.request("GET", "/api/people", bearer=token(object_id(0x722)))
    assert status == 200 and {"userId": ines, "name": "Inês Quintela"} in listed["people"]

    kept = redis.Redis.from_url(redis_url)
    try:
        names = kept.hgetall(f"{prefix}:{{people}}:names")
        assert ines.encode() in names and b"Quintela" not in b"".join(names.values())  # kept sealed
        admin = token(object_id(0xAD), role="admin")
        status, erased = node_a.request("POST", f"/api/realtime/erasures/{ines}", bearer=admin)
        assert status == 200, erased
        assert ines.encode() not in kept.hgetall(f"{prefix}:{{people}}:names")  # forgotten, not only masked
    finally:
        kept.close()
    for node in (node_a, node_b):
        status, listed = node.request("GET", "/api/people", bearer=token(object_id(0x722)))
        assert status == 200 and listed["people"] == [{"userId": hugo, "name": "Hugo"}], listed


async def test_with_the_shared_redis_down_a_ticket_is_refused_as_unavailable_not_let_in_twice(
    tmp_path: Path,
) -> None:
    redis = PrivateRedis(tmp_path / "redis").start()
    node = ServerProcess(f"sqlite:///{tmp_path}/events.db", args=["--redis", redis.url, "--redis-prefix", "ts-test"])
    try:
        node.start(tmp_path)
        status, issued = node.request("POST", "/api/realtime/tickets", bearer=token(object_id(0x723), name="Ana"))
        assert status == 201, issued
        redis.stop()  # whether the ticket was used cannot be known now
        with pytest.raises(websockets.InvalidStatus) as refused:
            await websockets.connect(f"{node.ws_base}/ws?ticket={issued['ticket']}")
        assert refused.value.response.status_code == 503
        assert b"UNAVAILABLE" in refused.value.response.body
        status, _ = node.request("POST", "/api/realtime/tickets", bearer=token(object_id(0x723), name="Ana"))
        assert status == 201  # issuing needs no Redis (the people directory notes the sign-in at best effort)
    finally:
        node.stop()
        redis.stop()
