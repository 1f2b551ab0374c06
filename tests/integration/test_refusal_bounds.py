"""A refusal's record keeps a bounded payload, and a client repeating a large command
the trip's byte limit refuses does not keep the room's other members from their
messages (issue #13: the 60 KB ``constraint_added`` on a trip at its byte limit).

The service layer as ``app.build`` wires it, on the in-memory store and bus, with a
stand-in socket (see ``test_session_pipeline.py``)."""

from __future__ import annotations

import hashlib
from typing import Any

import orjson
import pytest

from eventlog.records import REFUSED
from service.container import Services
from service.refusal_payload import REFUSAL_PAYLOAD_MAX_BYTES
from tests.integration.test_session_pipeline import AWAY, FRIEND, OWNER, chat, log_of, trip_with_room

pytestmark = pytest.mark.integration


def opened(node: Services, value: Any) -> Any:
    """A refusal's payload as sent: the log keeps it sealed under the sender's key."""
    assert node.opener is not None
    return node.opener.open(value)


def constraint(trip_id: str, value: object) -> dict[str, object]:
    return {"tripId": trip_id, "updateType": "constraint_added", "data": {"constraint": {"type": "t", "value": value}}}


def big_constraint(trip_id: str, size: int = 60_000) -> dict[str, object]:
    return {
        "tripId": trip_id,
        "updateType": "constraint_added",
        "data": {"constraint": {"type": "t", "value": "v" * size}},
    }


async def test_a_refusal_of_a_large_payload_records_its_size_and_digest_and_a_small_one_itself(node: Services) -> None:
    trip_id, clients = await trip_with_room(node, OWNER, FRIEND)
    attacker = clients[FRIEND]
    for n in range(5):  # the trip to its byte limit (256 KiB by default)
        await attacker.send("trip_update", big_constraint(trip_id), f"fill{n}")
    await attacker.send("trip_update", big_constraint(trip_id), "over")
    small = {"tripId": trip_id, "updateType": "update_day", "data": {"dayId": "6500000000000000000000ff"}}
    await attacker.send("trip_update", small, "small")
    await attacker.settled()
    refused = {r.ref: r for r in await log_of(node, "trip_update") if r.outcome == REFUSED}
    over = refused["over"]
    assert over.error is not None and "bytes" in over.error["message"]
    sent = orjson.dumps(big_constraint(trip_id))
    assert opened(node, over.payload) == {"omittedBytes": len(sent), "sha256": hashlib.sha256(sent).hexdigest()}
    assert len(orjson.dumps(over.payload)) < REFUSAL_PAYLOAD_MAX_BYTES
    assert opened(node, refused["small"].payload) == small  # small enough: kept as sent


async def test_members_get_every_chat_message_while_another_repeats_a_refused_60_kb_update(node: Services) -> None:
    trip_id, clients = await trip_with_room(node, OWNER, FRIEND, AWAY)
    attacker, talker, listener = clients[FRIEND], clients[OWNER], clients[AWAY]
    for n in range(5):
        await attacker.send("trip_update", big_constraint(trip_id), f"fill{n}")
    await attacker.settled()
    for n in range(20):  # the attack and the chat interleaved, each frame passed in turn
        await attacker.send("trip_update", big_constraint(trip_id), f"a{n}")
        await talker.send("chat_message", chat(trip_id, f"m{n}"), f"c{n}")
    await attacker.settled()
    await talker.settled()
    got = [frame["data"]["message"] for frame in listener.socket.events("chat_message")]
    assert got == [f"m{n}" for n in range(20)]
    errors = {frame["ref"]: frame["data"]["code"] for frame in attacker.socket.events("error")}
    assert [errors.get(f"a{n}") for n in range(20)] == ["VALIDATION_ERROR"] * 20  # every one refused, at the limit
    refused = {r.ref: r for r in await log_of(node, "trip_update") if r.outcome == REFUSED}
    assert all("omittedBytes" in opened(node, refused[f"a{n}"].payload) for n in range(20))


async def test_a_frame_over_the_value_bound_is_refused_before_parsing_and_commas_in_text_are_not_values(
    node: Services,
) -> None:
    trip_id, clients = await trip_with_room(node, OWNER, FRIEND)
    sender, other = clients[OWNER], clients[FRIEND]
    tiny_objects = constraint(trip_id, [{"a": 0}] * 3_000)
    await sender.send("trip_update", tiny_objects, "wide")
    await sender.send("trip_update", constraint(trip_id, ",[{" * 2_000), "commas")
    await sender.settled()
    [error] = sender.socket.events("error")
    assert (error["ref"], error["data"]["event"], error["data"]["code"]) == ("wide", "trip_update", "VALIDATION_ERROR")
    assert error["data"]["details"] == {"data": ["more than 2000 values in one document"]}
    [update] = [f for f in other.socket.events("trip_updated") if f["data"]["updateType"] == "constraint_added"]
    assert update["data"]["data"]["constraint"]["value"] == ",[{" * 2_000  # 6,000 in one string: no values
    [record] = [r for r in await log_of(node, "trip_update") if r.outcome == REFUSED]
    assert (record.ref, record.payload) == ("wide", None)  # never parsed: nothing to keep
    assert record.error is not None and record.error["code"] == "VALIDATION_ERROR"
