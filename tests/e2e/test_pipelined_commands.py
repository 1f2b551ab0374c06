"""One connection's commands may share group commits (pipelined), yet take effect
and are answered in the order they were sent."""

from __future__ import annotations

import asyncio

import pytest

from tests.e2e.wire import create_trip, stream
from tests.server import Client, ServerProcess, object_id, token

pytestmark = pytest.mark.e2e

OWNER = object_id(0x51)


async def test_back_to_back_frames_are_answered_and_logged_in_order(server: ServerProcess) -> None:
    trip = create_trip(server, OWNER)
    client = await Client.connect(server, token(OWNER))
    try:
        joined = await client.request("join_trip_room", {"tripId": trip}, "join", "trip_room_joined")
        head = joined["data"]["seq"]
        sent: list[str] = []
        for i in range(24):
            ref = f"m{i}"
            if i % 10 == 5:  # an invalid one in the middle: its error comes after the acks before it
                await client.send("chat_message", {"tripId": trip, "message": "   "}, ref)
            elif i % 10 == 7:  # a frame that is not a trip command waits for those before it
                await client.send("typing", {"tripId": trip, "isTyping": True}, ref)
                continue  # typing has no reply to the sender
            else:
                await client.send("chat_message", {"tripId": trip, "message": f"n{i}"}, ref)
            sent.append(ref)
        answers: list[tuple[str, str]] = []
        while len(answers) < len(sent):
            frame = await client.next_frame(10)
            if frame.get("ref", "").startswith("m"):
                answers.append((frame["ref"], frame["event"]))
        assert [ref for ref, _ in answers] == sent
        assert all(event == ("error" if int(ref[1:]) % 10 == 5 else "chat_message") for ref, event in answers)
        messages = [e for e in stream(server, trip, OWNER) if e["seq"] > head]
        texts = [e["data"]["message"] for e in messages if e["type"] == "chat_message"]
        assert texts == [f"n{i}" for i in range(24) if i % 10 not in (5, 7)]
        assert [e["seq"] for e in messages] == list(range(head + 1, head + 1 + len(messages)))
    finally:
        await client.close()


async def test_a_repeated_ref_sent_back_to_back_is_accepted_once(server: ServerProcess) -> None:
    trip = create_trip(server, OWNER)
    client = await Client.connect(server, token(OWNER))
    try:
        joined = await client.request("join_trip_room", {"tripId": trip}, "join", "trip_room_joined")
        for _ in range(3):
            await client.send("chat_message", {"tripId": trip, "message": "once"}, "same")
        copies = [await client.expect("chat_message", 10) for _ in range(3)]
        assert {c["data"]["messageId"] for c in copies} == {copies[0]["data"]["messageId"]}
        await asyncio.sleep(0.2)
        chats = [e for e in stream(server, trip, OWNER) if e["seq"] > joined["data"]["seq"]]
        assert len(chats) == 1
    finally:
        await client.close()
