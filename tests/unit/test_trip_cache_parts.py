"""The pure parts of a serving node's cache: a trip's state as a snapshot and back, the chat tail."""

from __future__ import annotations

import dataclasses
from typing import Any

import orjson

from domain.trip_codec import trip_from_snapshot, trip_to_snapshot
from domain.trip_decider import evolve
from domain.trip_events import event_from_json
from domain.trip_model import Trip
from eventlog.records import LogRecord
from projections.chat import NOT_HELD, ChatHistories

TRIP = "650000000000000000000001"


def folded() -> Trip:
    events: list[dict[str, Any]] = [
        {
            "type": "trip_created",
            "data": {
                "tripId": TRIP,
                "title": "Lisbon",
                "ownerId": "u1",
                "collaborators": ["u2"],
                "days": [
                    {
                        "dayId": "d1",
                        "date": "2026-07-01",
                        "title": "Arrive",
                        "activities": [{"activityId": "a1", "title": "Tram", "startTime": "09:00", "cost": 3}],
                    }
                ],
            },
        },
        {
            "type": "trip_updated",
            "data": {
                "updateType": "activity_updated",
                "data": {"dayId": "d1", "activityId": "a1", "changes": {"startTime": "10:00"}},
            },
        },
        {
            "type": "trip_updated",
            "data": {
                "updateType": "constraint_added",
                "data": {"constraint": {"constraintId": "c1", "type": "budget", "value": {"max": 9}}},
            },
        },
    ]
    state: Trip | None = None
    for version, event in enumerate(events, start=1):
        state = evolve(state, event_from_json(event), version, f"2026-01-01T00:00:0{version}.000Z")
    assert state is not None
    return state


def test_a_trip_comes_back_from_its_snapshot_whole_recent_changes_included() -> None:
    trip = folded()
    assert trip.touches  # what conflict detection reads survives too
    assert trip_from_snapshot(trip_to_snapshot(trip)) == trip


def test_a_trip_read_from_its_snapshot_shares_the_writers_and_kinds_it_repeats() -> None:
    """Decoded JSON holds a copy of a string per occurrence; the state built from it shares them
    again, as a state folded from events does (what a node's cache holds per trip)."""
    snapshot = trip_to_snapshot(folded())
    writer = "650000000000000000000abc"
    snapshot["marks"] = {
        item: {name: [v, writer] for name, (v, _) in marks.items()} for item, marks in snapshot["marks"].items()
    }
    snapshot["touches"] = {item: [[v, "activity_updated"]] for item, [[v, _]] in snapshot["touches"].items()}
    decoded = orjson.loads(orjson.dumps(snapshot))
    assert decoded["marks"]["d1"]["title"][1] is not decoded["marks"]["a1"]["cost"][1]  # copies, as read
    loaded = trip_from_snapshot(decoded)
    writers = {id(mark.by) for marks in loaded.marks.values() for mark in marks.values()}
    kinds = {id(touch.update_type) for touches in loaded.touches.values() for touch in touches}
    assert len(writers) == 1 and len(kinds) == 1


def chat(version: int, message_id: str, trip: str = TRIP) -> LogRecord:
    data = {"messageId": message_id, "userId": "u1", "message": f"m {version}", "type": "text"}
    return LogRecord(
        record_id=f"r{version}",
        at="2026-01-01T00:00:00.000Z",
        source="ws",
        command="chat_message",
        outcome="accepted",
        trip_id=trip,
        events=({"type": "chat_message", "data": data},),
        stream=trip,
        version=version,
    )


def ids(page: object) -> list[str]:
    assert isinstance(page, list)
    return [message["messageId"] for message in page]


def test_a_tail_answers_the_pages_it_holds_and_says_when_it_cannot() -> None:
    tail = ChatHistories(tail=3)
    for version in range(1, 11):
        tail.apply(chat(version, f"m{version}"))
    # 10 messages applied since the trip began: it keeps between 3 and 6 of the newest
    assert ids(tail.held_page(TRIP, 2, None)) == ["m9", "m10"]
    assert ids(tail.held_page(TRIP, 2, "m10")) == ["m8", "m9"]
    assert tail.held_page(TRIP, 50, None) is NOT_HELD  # older ones were dropped: the store has them
    assert tail.held_page(TRIP, 2, "m1") is NOT_HELD  # not held: unknown to the tail, maybe not to the store
    assert tail.page(TRIP, 2, "m1") is None


def test_a_tail_of_a_trip_it_holds_from_its_start_knows_every_message() -> None:
    tail = ChatHistories(tail=5)
    for version in range(1, 5):
        tail.apply(chat(version, f"m{version}"))
    assert ids(tail.held_page(TRIP, 50, None)) == ["m1", "m2", "m3", "m4"]
    assert tail.held_page(TRIP, 50, "nope") is None  # complete: an unknown message is no message
    assert tail.held_page("another trip", 5, None) is NOT_HELD
    assert not tail.apply(chat(7, "x7", "another trip"))  # neither a trip it holds nor its start: left alone
    assert tail.held_page("another trip", 5, None) is NOT_HELD


def test_the_messages_a_trip_holds_share_the_strings_they_repeat() -> None:
    """Each record read from the log holds its own copy of the trip's id, the author's id and name
    and the message type; the messages held share one of each (what a node's cache holds per trip)."""

    def decoded(version: int) -> LogRecord:
        record = chat(version, f"m{version}")
        event = dict(record.events[0], data={**record.events[0]["data"], "name": "Ana"})
        copy: dict[str, Any] = orjson.loads(orjson.dumps({"stream": record.stream, "event": event}))
        return dataclasses.replace(record, stream=copy["stream"], trip_id=copy["stream"], events=(copy["event"],))

    first, second = decoded(1), decoded(2)
    assert first.stream is not second.stream  # copies, as read
    tail = ChatHistories(tail=5)
    tail.apply(first)
    tail.apply(second)
    held = tail.held_page(TRIP, 5, None)
    assert isinstance(held, list) and len(held) == 2
    for key in ("tripId", "userId", "name", "type"):
        assert held[0][key] is held[1][key], key
