"""Erasing a person (#19) against a real server, on each store: a person chats, writes
into a trip, connects from an address and is listed to invite by name; after ``POST /api/realtime/erasures/{id}``
nothing of theirs is found in the store's bytes (SQLite files with the WAL, every
MongoDB collection through the driver), in Redis, in exports or in any REST answer,
while the log still verifies, replays equal and the other person's data reads as
before."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import redis
from pymongo import MongoClient

from tests.e2e.test_multi_node import (  # the stores of the multi-node suite
    mongo_base,  # noqa: F401 (a fixture store_url asks for)
    store_url,  # noqa: F401 (a fixture)
)
from tests.server import ROOT, Client, ServerProcess, object_id, token

ADA, GRACE, ADMIN = object_id(0xE1A5E), object_id(0x6ACE), object_id(0xAD)
ADA_IP, GRACE_IP = "203.0.113.77", "198.51.100.9"
ADA_SECRETS = ["Adelaide Victimsdottir", "AdaChatSecret", "AdaTripTitle", "AdaActivitySecret", "AdaNoteSecret", ADA_IP]
ADA_AGENT = "AdaAgent/9.9"
GRACE_CHAT = "GraceChatVisible"


def stored_bytes(store_url: str, tmp_path: Path) -> bytes:  # noqa: F811
    """Everything the store holds: the SQLite files (log, WAL, keys), or every MongoDB collection."""
    if store_url.startswith("sqlite"):
        return b"".join(p.read_bytes() for p in sorted(tmp_path.iterdir()) if p.name.startswith("events"))
    base, database = store_url.rsplit("/", 1)
    client: MongoClient[dict[str, Any]] = MongoClient(base)
    try:
        db = client[database]
        return b"".join(
            orjson.dumps(list(db[name].find()), default=str) + name.encode() for name in db.list_collection_names()
        )
    finally:
        client.close()


def redis_bytes(redis_url: str, prefix: str) -> bytes:
    client = redis.Redis.from_url(redis_url)
    try:
        found = []
        for key in client.scan_iter(f"{prefix}*"):
            kind = client.type(key)
            if kind == b"stream":
                found.append(repr(client.xrange(key)).encode())
            elif kind == b"hash":
                found.append(repr(client.hgetall(key)).encode())
            elif kind == b"string":
                found.append(client.get(key) or b"")
            elif kind == b"zset":
                found.append(repr(client.zrange(key, 0, -1)).encode())
            elif kind == b"set":
                found.append(repr(client.smembers(key)).encode())
            elif kind == b"list":
                found.append(repr(client.lrange(key, 0, -1)).encode())
        return b"".join(found)
    finally:
        client.close()


def analyst(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "app.py"), *args], capture_output=True, text=True, timeout=120, check=False
    )


def rest_answers(server: ServerProcess, trip_id: str) -> bytes:
    """Every REST answer that shows the trip, its chat, the log or the connections."""
    admin, grace = token(ADMIN, role="admin"), token(GRACE, name="Grace")
    answers = []
    for path, bearer in [
        (f"/api/trips/{trip_id}", grace),
        (f"/api/trips/{trip_id}/messages", grace),
        (f"/api/trips/{trip_id}/events", grace),
        ("/api/notifications", grace),
        ("/api/audit/events?limit=1000", admin),
        (f"/api/audit/events?userId={ADA}&limit=1000", admin),
        ("/api/realtime/connections", admin),
        ("/api/people", grace),
    ]:
        status, body = server.request("GET", path, bearer=bearer)
        assert status == 200, (path, body)
        answers.append(orjson.dumps(body))
    return b"\n".join(answers)


async def test_an_erased_person_is_gone_from_every_store_answer_and_export_and_the_audit_holds(
    store_url: str,  # noqa: F811 (the fixture)
    redis_url: str,
    prefix: str,
    tmp_path: Path,
) -> None:
    args = ["--trust-proxy", "--redis", redis_url, "--redis-prefix", prefix, "--shutdown-grace", "1"]
    server = ServerProcess(store_url, args=args).start(tmp_path)
    try:
        ada_token = token(ADA, name=ADA_SECRETS[0])
        status, trip = server.request(
            "POST", "/api/trips", body={"title": "AdaTripTitle", "collaborators": [GRACE]}, bearer=ada_token
        )
        assert status == 201, trip
        trip_id = trip["tripId"]
        ada = await Client.connect(
            server, ada_token, additional_headers={"X-Forwarded-For": ADA_IP, "User-Agent": ADA_AGENT}
        )
        grace = await Client.connect(
            server, token(GRACE, name="Grace"), additional_headers={"X-Forwarded-For": GRACE_IP}
        )
        for client, name in ((ada, "ada"), (grace, "grace")):
            await client.request("join_trip_room", {"tripId": trip_id}, f"join-{name}", "trip_room_joined")
        await ada.request("chat_message", {"tripId": trip_id, "message": "AdaChatSecret"}, "c1", "chat_message")
        day = {"date": "2026-12-24"}
        added = await ada.request(
            "trip_update", {"tripId": trip_id, "updateType": "day_added", "data": {"day": day}}, "u1", "trip_updated"
        )
        activity = {"title": "AdaActivitySecret", "notes": "AdaNoteSecret", "startTime": "09:00", "endTime": "10:00"}
        change = {"dayId": added["data"]["data"]["day"]["dayId"], "activity": activity}
        done = await ada.request(
            "trip_update", {"tripId": trip_id, "updateType": "activity_added", "data": change}, "u2", "trip_updated"
        )
        assert done["event"] == "trip_updated", done
        await grace.request("chat_message", {"tripId": trip_id, "message": GRACE_CHAT}, "c2", "chat_message")
        status, people = server.request("GET", "/api/people", bearer=ada_token)  # as the page does: Ada is listed
        assert status == 200 and {"userId": ADA, "name": ADA_SECRETS[0]} in people["people"], people
        live = redis_bytes(redis_url, prefix)  # while everyone is connected and listed by name
        for secret in [*ADA_SECRETS, ADA_AGENT, GRACE_CHAT, GRACE_IP]:
            assert secret.encode() not in live, secret
        before = rest_answers(server, trip_id)
        assert b"AdaChatSecret" in before and b"AdaActivitySecret" in before and ADA_IP.encode() in before

        status, erased = server.request("POST", f"/api/realtime/erasures/{ADA}", bearer=token(ADMIN, role="admin"))
        assert status == 200, erased
        assert erased["userId"] == ADA and erased["keysDestroyed"] >= 1
        await ada.close()
        await grace.close()

        after = rest_answers(server, trip_id)
        for secret in [*ADA_SECRETS, ADA_AGENT]:
            assert secret.encode() not in after, secret
        assert GRACE_CHAT.encode() in after and b"[erased]" in after
        status, people = server.request("GET", "/api/people", bearer=token(GRACE, name="Grace"))
        assert [p["userId"] for p in people["people"]] == [GRACE]  # Ada forgotten, not listed as "[erased]"
        status, shown = server.request("GET", f"/api/trips/{trip_id}", bearer=token(GRACE, name="Grace"))
        assert shown["title"] == "[erased]"
        (day_shown,) = shown["days"]  # the structure stays: the day, its date, its activity
        assert day_shown["date"] == "2026-12-24" and day_shown["activities"][0]["title"] == "[erased]"
        assert redis_bytes(redis_url, prefix)  # the bus was used
        for secret in [*ADA_SECRETS, ADA_AGENT, GRACE_CHAT]:
            assert secret.encode() not in redis_bytes(redis_url, prefix), secret
    finally:
        server.stop()

    stored = stored_bytes(store_url, tmp_path)
    for secret in [*ADA_SECRETS, ADA_AGENT, GRACE_IP]:
        assert secret.encode() not in stored, secret
    # the log keeps Grace's text sealed; MongoDB's read models mirror it opened, for other services
    assert (GRACE_CHAT.encode() in stored) == store_url.startswith("mongodb")
    verified = analyst("verify", "--store", store_url)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    replayed = analyst("replay", "--store", store_url, "--progress", "off")
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
    exported = analyst("export", "--store", store_url, "--progress", "off")
    assert exported.returncode == 0, exported.stderr
    for secret in [*ADA_SECRETS, ADA_AGENT]:
        assert secret not in exported.stdout, secret
    assert GRACE_CHAT in exported.stdout and GRACE_IP in exported.stdout
    assert '"person_erased"' in exported.stdout
