"""What a serving node keeps does not grow with the log: the audit views are folded
for the admin's read-model request and not kept, and give the same answers as a
read side that folds and keeps everything."""

from __future__ import annotations

import pytest

from projections.read_side import ReadSide
from service.container import Services
from tests.integration.test_session_pipeline import FRIEND, OWNER, chat, trip_with_room

pytestmark = pytest.mark.integration


async def test_the_audit_views_of_a_read_model_request_are_not_kept_and_match_a_whole_fold(node: Services) -> None:
    for _ in range(3):
        trip_id, clients = await trip_with_room(node, OWNER, FRIEND)
        for n in range(4):
            await clients[OWNER].send("chat_message", chat(trip_id, f"m{n}"), f"c{n}")
        await clients[FRIEND].send("chat_message", chat(trip_id, ""), "refused")
        for client in clients.values():
            await client.settled()
    position, views = await node.read_side.whole_model()
    assert node.read_side.audit.position == 0 and not node.read_side.audit.streams  # nothing kept
    whole = await ReadSide.rebuild(node.store)
    assert (position, views["audit"]) == (whole.audit.position, whole.audit.snapshot())
    assert views["trips"] == whole.trips.snapshot() and views["notifications"] == whole.notifications.snapshot()
    assert len(views["audit"]["users"]) == 2 and views["audit"]["refusals"]  # the log's views, refusals included
