"""A trip cannot grow past its limits: days, activities per day, constraints, bytes."""

from __future__ import annotations

from typing import Any

import pytest

from domain.errors import CommandRefused, ErrorCode
from domain.trip_decider import Actor, AddCollaborator, CreateTrip, UpdateTrip, decide, evolve
from domain.trip_limits import SNAPSHOT_ENVELOPE, TripLimits, json_bytes, trip_bytes
from domain.trip_model import Trip

OWNER = "0" * 23 + "1"
TRIP = "f" * 24
AT = "2026-11-25T10:00:00.000Z"
SMALL = TripLimits(max_days=2, max_activities_per_day=2, max_constraints=2, max_bytes=4_000)


def oid(n: int) -> str:
    return f"{n:024x}"


def apply(state: Trip | None, command: Any, limits: TripLimits = SMALL) -> Trip:
    version = state.version if state else 0
    for event in decide(state, command, limits):
        version += 1
        state = evolve(state, event, version, AT)
    assert state is not None
    return state


def refused(state: Trip | None, command: Any, limits: TripLimits = SMALL) -> CommandRefused:
    with pytest.raises(CommandRefused) as caught:
        decide(state, command, limits)
    assert caught.value.code == ErrorCode.VALIDATION_ERROR
    return caught.value


def change(kind: str, data: dict[str, Any], n: int = 0) -> UpdateTrip:
    return UpdateTrip(Actor(OWNER), kind, data, None, (oid(1000 + n),))


def empty() -> Trip:
    return apply(None, CreateTrip(TRIP, "t", OWNER, (), (), ()))


def test_a_day_past_the_limit_is_refused() -> None:
    trip = empty()
    for n in range(2):
        trip = apply(trip, change("day_added", {"day": {"date": f"2026-12-0{n + 1}"}}, n))
    assert refused(trip, change("day_added", {"day": {"date": "2026-12-09"}}, 9)).details == {
        "day": ["a trip holds at most 2 days"]
    }


def test_an_activity_past_the_limit_of_its_day_is_refused_and_other_days_still_take_some() -> None:
    trip = empty()
    for day in (1, 2):
        data = {"day": {"date": f"2026-12-0{day}", "dayId": oid(day)}}
        trip = apply(trip, UpdateTrip(Actor(OWNER), "day_added", data, None, ()))
    activity = {"title": "a"}
    for n in range(2):
        trip = apply(trip, change("activity_added", {"dayId": oid(1), "activity": activity}, n))
    assert "activity" in refused(trip, change("activity_added", {"dayId": oid(1), "activity": activity}, 9)).details
    apply(trip, change("activity_added", {"dayId": oid(2), "activity": activity}, 9))


def test_a_constraint_past_the_limit_is_refused() -> None:
    trip = empty()
    for n in range(2):
        trip = apply(trip, change("constraint_added", {"constraint": {"type": "budget", "value": n}}, n))
    refused(trip, change("constraint_added", {"constraint": {"type": "budget", "value": 9}}, 9))


def test_no_update_makes_the_trip_larger_than_its_byte_limit() -> None:
    trip = empty()
    big = {"constraint": {"type": "notes", "value": "x" * 1_500}}
    trip = apply(trip, change("constraint_added", big, 1))
    trip = apply(trip, change("constraint_added", big, 2))
    assert trip_bytes(trip) <= SMALL.max_bytes
    roomy = TripLimits(max_days=2, max_activities_per_day=2, max_constraints=10, max_bytes=4_000)
    assert refused(trip, change("constraint_added", big, 3), roomy).details == {
        "trip": ["a trip may be at most 4000 bytes"]
    }
    day = UpdateTrip(Actor(OWNER), "day_added", {"day": {"date": "2026-12-04", "dayId": oid(1)}}, None, ())
    trip = apply(trip, day, roomy)
    grow = change("activity_added", {"dayId": oid(1), "activity": {"title": "a", "notes": "n" * 1_000}}, 4)
    refused(trip, grow, roomy)


def test_multi_byte_text_counts_in_utf8_bytes() -> None:
    trip = empty()
    refused(trip, change("constraint_added", {"constraint": {"type": "t", "value": "é" * 2_000}}, 1))


def test_a_created_trip_is_held_to_the_same_limits() -> None:
    day = {"date": "2026-12-04", "activities": [{"title": "a"}]}
    assert "days" in refused(None, CreateTrip(TRIP, "t", OWNER, (), (day, day, day), ())).details
    crowded = {"date": "2026-12-04", "activities": [{"title": "a"}] * 3}
    assert "days.0.activities" in refused(None, CreateTrip(TRIP, "t", OWNER, (), (crowded,), ())).details
    wordy = {"date": "2026-12-04", "activities": [{"title": "a", "notes": "n" * 1_900}] * 2}
    assert "trip" in refused(None, CreateTrip(TRIP, "t", OWNER, (), (wordy,), ())).details


def test_collaborators_count_towards_the_bytes() -> None:
    tight = TripLimits(max_bytes=json_bytes(empty().to_json()) + 10)
    refused(empty(), AddCollaborator(Actor(OWNER), oid(5)), tight)


def test_a_trip_filled_to_its_byte_limit_every_way_stays_within_it_so_its_snapshot_fits() -> None:
    """The snapshot of a trip is its ``to_json`` in an envelope: at the limit it fits
    ``max_bytes + SNAPSHOT_ENVELOPE``, which ``config.refusals`` makes fit the outbound queue."""
    limits = TripLimits(max_days=50, max_activities_per_day=50, max_constraints=50, max_bytes=20_000)
    trip = empty()
    n = 0
    for kind, data in [
        ("day_added", lambda i: {"day": {"date": "2026-12-04", "title": "é" * 150}}),
        ("constraint_added", lambda i: {"constraint": {"type": "t", "value": ["\u20ac" * 100, {"k": i}]}}),
    ]:
        while True:
            n += 1
            try:
                trip = apply(trip, change(kind, data(n), n), limits)
            except CommandRefused:
                break
    assert 0 < limits.max_bytes - trip_bytes(trip) < 2_000  # filled up to the limit
    frame = {"event": "trip_updated", "data": {"tripId": TRIP, "updateType": "snapshot", "trip": trip.to_json()}}
    assert json_bytes({**frame, "version": trip.version}) <= limits.max_bytes + SNAPSHOT_ENVELOPE
