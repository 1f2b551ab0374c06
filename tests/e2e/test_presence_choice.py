"""A saved presence choice, against real servers: hiding takes the user out of
rosters, typing and member lists at once (on every node their connections are
on) and for their later sessions; showing brings them back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_multi_node import ADA, BOB, CAT, joined, make_trip, nodes
from tests.e2e.test_presence_grace import told
from tests.e2e.test_resume import connected_frame, settle
from tests.server import ServerProcess

pytestmark = pytest.mark.e2e


def members(frames: list[dict[str, Any]]) -> set[str]:
    [reply] = [f for f in frames if f["event"] == "trip_room_joined"]
    return {m["userId"] for m in reply["data"]["members"]}


async def test_a_hidden_choice_applies_at_once_and_to_later_sessions(server: ServerProcess) -> None:
    trip_id = make_trip(server, ADA, BOB, CAT)
    ada, _ = await joined(server, ADA, trip_id)
    bob, _ = await joined(server, BOB, trip_id)

    reply = await ada.request("presence_visibility", {"hidden": True}, "hide", "presence_visibility_set")

    assert reply["data"] == {"hidden": True}
    assert (await bob.expect("user_left"))["data"]["userId"] == ADA
    await ada.send("typing", {"tripId": trip_id, "isTyping": True})
    cat, _ = await joined(server, CAT, trip_id)
    assert members(cat.frames) == {BOB, CAT}
    first = connected_frame(ada)
    await ada.close()
    await settle(server, first["sessionId"], "disconnected")  # its records are folded in order: the choice too

    later, _ = await joined(server, ADA, trip_id)  # no presence=hidden: the saved choice hides it
    dan, _ = await joined(server, CAT, trip_id)
    assert members(dan.frames) == {BOB, CAT}
    await bob.silent_for(0.3)
    assert told(bob, "user_typing", ADA) == [] and told(bob, "user_joined", ADA) == []

    await later.request("presence_visibility", {"hidden": False}, "show", "presence_visibility_set")
    assert (await bob.expect("user_joined"))["data"]["userId"] == ADA
    for client in (later, bob, cat, dan):
        await client.close()


async def test_a_presence_choice_must_be_a_boolean(server: ServerProcess) -> None:
    ada, _ = await joined(server, ADA, make_trip(server, ADA))
    reply = await ada.request("presence_visibility", {"hidden": "yes"}, "bad", "presence_visibility_set")
    assert reply["event"] == "error" and reply["data"]["code"] == "VALIDATION_ERROR"
    await ada.close()


async def test_a_presence_choice_reaches_the_users_connections_on_every_node(redis_url: str, tmp_path: Path) -> None:
    with nodes(f"sqlite:///{tmp_path}/events.db", redis_url, tmp_path, "node-a", "node-b") as (a, b):
        trip_id = make_trip(a, ADA, BOB)
        ada_here, _ = await joined(a, ADA, trip_id)
        ada_there, _ = await joined(b, ADA, trip_id)  # another tab, on the other node
        bob, _ = await joined(b, BOB, trip_id)

        await ada_here.request("presence_visibility", {"hidden": True}, "hide", "presence_visibility_set")

        assert (await bob.expect("user_left"))["data"]["userId"] == ADA  # once both tabs are hidden
        await ada_there.send("typing", {"tripId": trip_id, "isTyping": True})
        await bob.silent_for(0.5)
        assert told(bob, "user_typing", ADA) == [] and len(told(bob, "user_left", ADA)) == 1
        for client in (ada_here, ada_there, bob):
            await client.close()


async def test_a_room_large_on_one_node_gets_summaries_there_of_the_joins_made_on_another(
    redis_url: str, tmp_path: Path
) -> None:
    store = f"sqlite:///{tmp_path}/events.db"
    flags = ("--presence-summary-from", "2", "--presence-summary-interval", "0.2")
    with nodes(store, redis_url, tmp_path, "node-a", "node-b", args=flags) as (a, b):
        trip_id = make_trip(a, ADA, BOB, CAT)
        ada, _ = await joined(a, ADA, trip_id)
        ada_tab, _ = await joined(a, ADA, trip_id)  # two members on node A: its summaries start
        bob, _ = await joined(b, BOB, trip_id)  # the only one on node B

        summary = (await ada.expect("presence_summary"))["data"]
        assert [entry["userId"] for entry in summary["joined"]] == [BOB] and summary["joinedCount"] == 1
        cat, _ = await joined(a, CAT, trip_id)  # made on node A: summed up there, told one by one on B
        assert (await bob.expect("user_joined"))["data"]["userId"] == CAT
        summary = (await ada.expect("presence_summary"))["data"]
        assert [entry["userId"] for entry in summary["joined"]] == [CAT]
        for client in (ada, ada_tab, bob, cat):
            await client.close()
