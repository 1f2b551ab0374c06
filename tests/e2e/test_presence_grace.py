"""Presence without flapping, against real server processes: a dropped connection
(no close frame) is shown gone only after the grace period without a resume, on
the node it dropped from or another; the members of a node that died get the same
grace, from its death being noticed; a close is announced at once; members carry
``lastSeen``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_multi_node import ADA, BOB, CAT, DAN, bearer, joined, make_trip, nodes, until_event
from tests.e2e.test_resume import connected_frame, drop, resume, settle
from tests.server import Client

pytestmark = pytest.mark.e2e


def told(client: Client, event: str, user: str) -> list[dict[str, Any]]:
    return [f for f in client.frames if f["event"] == event and f["data"].get("userId") == user]


async def test_a_drop_resumed_within_the_grace_shows_nobody_anything(start: Any) -> None:
    server = start("--presence-grace", "60")
    trip_id = make_trip(server, ADA, BOB, CAT)
    ada, head = await joined(server, ADA, trip_id)
    bob, _ = await joined(server, BOB, trip_id)
    first = connected_frame(ada)
    drop(ada)
    await settle(server, first["sessionId"], "disconnected")
    cat, _ = await joined(server, CAT, trip_id)  # joins during ada's grace: ada is listed, with when she dropped
    [listed] = [m for m in cat.frames[1]["data"]["members"] if m["userId"] == ADA]
    assert listed["lastSeen"] >= first["timestamp"]

    back = await resume(server, ADA, first["resumeToken"], {trip_id: head})

    assert connected_frame(back)["resumed"] is True
    await back.expect("trip_room_joined")
    await bob.silent_for(0.5)
    assert told(bob, "user_left", ADA) == [] and told(bob, "user_joined", ADA) == []
    await back.close()  # a close frame: announced at once, whatever the grace
    left = await bob.expect("user_left")
    assert left["data"]["userId"] == ADA
    await bob.close()
    await cat.close()


async def test_a_drop_without_a_resume_is_shown_gone_when_the_grace_ends(start: Any) -> None:
    server = start("--presence-grace", "1")
    trip_id = make_trip(server, ADA, BOB)
    ada, _ = await joined(server, ADA, trip_id)
    bob, _ = await joined(server, BOB, trip_id)
    drop(ada)
    left = await bob.expect("user_left", timeout=15)
    assert left["data"]["userId"] == ADA
    await bob.close()


async def test_a_drop_resumed_on_another_node_within_the_grace_shows_nobody_anything(
    redis_url: str, tmp_path: Path
) -> None:
    with nodes(f"sqlite:///{tmp_path}/events.db", redis_url, tmp_path, "node-a", "node-b") as (a, b):
        trip_id = make_trip(a, ADA, BOB, CAT)
        ada, head = await joined(a, ADA, trip_id)
        bob, _ = await joined(b, BOB, trip_id)
        first = connected_frame(ada)
        drop(ada)
        await settle(b, first["sessionId"], "disconnected")

        back = await resume(b, ADA, first["resumeToken"], {trip_id: head})

        assert connected_frame(back)["resumed"] is True
        await bob.silent_for(12)  # past node a's grace (10 s): it must not announce a session b took over
        assert told(bob, "user_left", ADA) == [] and told(bob, "user_joined", ADA) == []
        status, listed = b.request("GET", "/api/realtime/connections", bearer=bearer("0" * 22 + "ad"))
        assert status == 200 and [c["node"] for c in listed["connections"] if c["userId"] == ADA] == ["node-b"]
        cat, _ = await joined(a, CAT, trip_id)
        assert ADA in {m["userId"] for m in cat.frames[1]["data"]["members"]}
        for client in (back, bob, cat):
            await client.close()


async def test_a_dead_nodes_members_get_the_grace_so_one_resumed_after_the_death_was_noticed_never_flaps(
    redis_url: str, tmp_path: Path
) -> None:
    admin = bearer("0" * 22 + "ad")
    grace = ("--presence-grace", "6")
    with nodes(f"sqlite:///{tmp_path}/events.db", redis_url, tmp_path, "node-a", "node-b", args=grace) as (a, b):
        trip_id = make_trip(a, ADA, BOB, CAT, DAN)
        ada, head = await joined(a, ADA, trip_id)
        _cat, _ = await joined(a, CAT, trip_id)
        bob, _ = await joined(b, BOB, trip_id)
        first = connected_frame(ada)
        a.kill()
        while True:  # until node a's death is noticed (its connections leave the shared directory)
            status, listed = b.request("GET", "/api/realtime/connections", bearer=admin)
            assert status == 200
            if all(c["node"] != "node-a" for c in listed["connections"]):
                break
            await bob.silent_for(0.2)

        back = await resume(b, ADA, first["resumeToken"], {trip_id: head})

        assert connected_frame(back)["resumed"] is True
        left = await until_event(bob, "user_left", 30, userId=CAT)  # cat did not resume: gone after the grace
        assert left["data"]["tripId"] == trip_id
        await bob.silent_for(1.0)  # whatever the same sweep announced after cat
        assert told(bob, "user_left", ADA) == [] and told(bob, "user_joined", ADA) == []
        joiner, _ = await joined(b, DAN, trip_id)
        assert {m["userId"] for m in joiner.frames[1]["data"]["members"]} >= {ADA, BOB}
        for client in (back, bob, joiner):
            await client.close()
