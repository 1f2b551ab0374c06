"""Invite links (``POST /api/trips/{tripId}/invites``, ``POST /api/invites/accept``,
``DELETE /api/trips/{tripId}/invites``): the owner makes one; anyone signed in who opens it
becomes a collaborator through the trip stream, on any node; a forged, expired or revoked
invite, one made before a collaborator's removal (for anyone), and a trip too large to grow
are refused; the log records each invite made and accepted, never the invite itself."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import orjson

from tests.e2e.conftest import People, close_all, in_room, make_trip
from tests.server import ServerProcess, object_id, token


def invite(server: ServerProcess, people: People, trip: dict[str, Any], by: str) -> tuple[int, Any]:
    return server.request("POST", f"/api/trips/{trip['tripId']}/invites", bearer=people.token(by))


def accept(server: ServerProcess, people: People, who: str, invite: str) -> tuple[int, Any]:
    return server.request("POST", "/api/invites/accept", body={"invite": invite}, bearer=people.token(who))


async def test_an_invite_link_makes_whoever_opens_it_a_collaborator_through_the_trip_stream(
    shared_server: ServerProcess, people: People
) -> None:
    trip = make_trip(shared_server, people, "olga", "piet")
    status, made = invite(shared_server, people, trip, "olga")
    assert status == 201, made
    assert made["tripId"] == trip["tripId"] and made["expiresAt"].endswith("Z")
    (piet,) = await in_room(shared_server, people, trip, "piet")
    status, _ = shared_server.request("GET", f"/api/trips/{trip['tripId']}", bearer=people.token("quinn"))
    assert status == 403  # not yet

    status, joined = accept(shared_server, people, "quinn", made["invite"])
    assert status == 200, joined
    assert people.id("quinn") in joined["collaborators"]
    heard = await piet.expect("trip_updated")
    assert heard["data"]["updateType"] == "collaborator_added", heard
    status, _ = shared_server.request("GET", f"/api/trips/{trip['tripId']}", bearer=people.token("quinn"))
    assert status == 200

    status, again = accept(shared_server, people, "quinn", made["invite"])  # a member already: nothing changes
    assert status == 200 and again["version"] == joined["version"]
    status, also = accept(shared_server, people, "rosa", made["invite"])  # the link works for several people
    assert status == 200 and people.id("rosa") in also["collaborators"]
    await close_all(piet)

    admin = token(object_id(0xAD), role="admin")
    status, audit = shared_server.request("GET", f"/api/audit/events?tripId={trip['tripId']}&limit=100", bearer=admin)
    assert status == 200, audit
    commands = [record["command"] for record in audit["events"]]
    assert "create_invite" in commands and commands.count("accept_invite") == 3
    (created,) = [record for record in audit["events"] if record["command"] == "create_invite"]
    invite_id = created["events"][0]["data"]["inviteId"]  # each invite made has an id, which each use names
    uses = [record for record in audit["events"] if record["command"] == "accept_invite"]
    assert invite_id and all(record["payload"]["inviteId"] == invite_id for record in uses), uses
    assert made["invite"].encode() not in orjson.dumps(audit)  # the log never holds the invite itself


def test_only_the_trip_s_owner_makes_an_invite(shared_server: ServerProcess, people: People) -> None:
    trip = make_trip(shared_server, people, "olga", "piet")
    status, body = invite(shared_server, people, trip, "piet")  # a collaborator may not add people
    assert status == 403 and body["error"]["code"] == "FORBIDDEN"
    status, body = invite(shared_server, people, trip, "stranger")
    assert status == 403
    status, body = shared_server.request("POST", f"/api/trips/{object_id(0xDEAD)}/invites", bearer=people.token("olga"))
    assert status == 404 and body["error"]["code"] == "TRIP_NOT_FOUND"
    status, _ = shared_server.request("POST", f"/api/trips/{trip['tripId']}/invites")
    assert status == 401
    # an admin makes none: an admin's authority signed into a link would outlive their role
    status, body = shared_server.request(
        "POST", f"/api/trips/{trip['tripId']}/invites", bearer=token(object_id(0xAD), role="admin")
    )
    assert status == 403 and body["error"]["code"] == "FORBIDDEN", body


def test_a_removed_collaborator_cannot_rejoin_with_a_link_made_before_the_removal(
    shared_server: ServerProcess, people: People
) -> None:
    trip = make_trip(shared_server, people, "olga", "piet")
    status, made = invite(shared_server, people, trip, "olga")
    assert status == 201
    status, _ = accept(shared_server, people, "quinn", made["invite"])
    assert status == 200
    status, body = shared_server.request(
        "DELETE", f"/api/trips/{trip['tripId']}/collaborators/{people.id('quinn')}", bearer=people.token("olga")
    )
    assert status == 200, body
    status, body = accept(shared_server, people, "quinn", made["invite"])
    assert status == 403 and body["error"]["code"] == "FORBIDDEN", body
    status, _ = shared_server.request("GET", f"/api/trips/{trip['tripId']}", bearer=people.token("quinn"))
    assert status == 403  # still out
    status, again = invite(shared_server, people, trip, "olga")  # the owner may invite them again, knowingly
    assert status == 201
    status, joined = accept(shared_server, people, "quinn", again["invite"])
    assert status == 200 and people.id("quinn") in joined["collaborators"]


async def test_the_owner_revokes_every_invite_made_so_far(shared_server: ServerProcess, people: People) -> None:
    trip = make_trip(shared_server, people, "olga", "piet")
    status, made = invite(shared_server, people, trip, "olga")
    assert status == 201
    revoke = f"/api/trips/{trip['tripId']}/invites"
    status, body = shared_server.request("DELETE", revoke, bearer=people.token("piet"))
    assert status == 403 and body["error"]["code"] == "FORBIDDEN"  # a collaborator may not
    (piet,) = await in_room(shared_server, people, trip, "piet")
    status, revoked = shared_server.request("DELETE", revoke, bearer=people.token("olga"))
    assert status == 200 and revoked["version"] == trip["version"] + 1, revoked
    heard = await piet.expect("trip_updated")
    assert heard["data"]["updateType"] == "invites_revoked" and heard["data"]["data"] == {}, heard
    await close_all(piet)
    status, body = accept(shared_server, people, "rosa", made["invite"])
    assert status == 403 and "revoked" in body["error"]["message"], body
    status, fresh = invite(shared_server, people, trip, "olga")
    assert status == 201
    status, joined = accept(shared_server, people, "rosa", fresh["invite"])
    assert status == 200 and people.id("rosa") in joined["collaborators"]


def test_a_forged_invite_is_refused(shared_server: ServerProcess, people: People) -> None:
    trip = make_trip(shared_server, people, "olga")
    status, made = invite(shared_server, people, trip, "olga")
    assert status == 201
    payload, signature = made["invite"].split(".")
    other = make_trip(shared_server, people, "sam")
    status, theirs = invite(shared_server, people, other, "sam")
    assert status == 201
    # another trip's payload under this one's signature; a changed signature; no invite at all
    for forged in [f"{theirs['invite'].split('.')[0]}.{signature}", f"{payload}.{signature[:-2]}AA", "nonsense"]:
        status, body = accept(shared_server, people, "quinn", forged)
        assert status == 403 and body["error"]["code"] == "FORBIDDEN", (forged, body)
    status, body = shared_server.request(
        "POST", "/api/invites/accept", body={"invite": 7}, bearer=people.token("quinn")
    )
    assert status == 400 and body["error"]["code"] == "VALIDATION_ERROR"


def test_an_expired_invite_and_a_trip_too_large_to_grow_are_refused(
    start: Callable[..., ServerProcess], people: People
) -> None:
    server = start("--invite-hours", "0.0003", "--max-trip-bytes", "2048")  # about a second
    trip = make_trip(server, people, "olga")
    status, made = invite(server, people, trip, "olga")
    assert status == 201
    time.sleep(1.5)  # past its expiry
    status, body = accept(server, people, "quinn", made["invite"])
    assert status == 403 and "expired" in body["error"]["message"], body

    full = None
    for count in range(60, 100):  # the most collaborators a trip of 2 KiB can be created with: it is full
        members = [people.id(f"member{n}") for n in range(count)]
        status, created = server.request(
            "POST", "/api/trips", body={"title": "Full", "collaborators": members}, bearer=people.token("olga")
        )
        if status != 201:
            assert created["error"]["code"] == "VALIDATION_ERROR", created
            break
        full = created
    assert full is not None
    status, made = invite(server, people, full, "olga")
    assert status == 201
    status, body = accept(server, people, "quinn", made["invite"])
    assert status == 400 and body["error"]["code"] == "VALIDATION_ERROR", body


def test_an_invite_made_on_one_node_works_on_another(
    two_nodes: tuple[ServerProcess, ServerProcess], people: People
) -> None:
    node_a, node_b = two_nodes
    trip = make_trip(node_a, people, "olga")
    status, made = invite(node_a, people, trip, "olga")
    assert status == 201
    status, joined = accept(node_b, people, "quinn", made["invite"])
    assert status == 200 and people.id("quinn") in joined["collaborators"], joined
