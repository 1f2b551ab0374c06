"""Itinerary rules in the decider: an activity ends after it starts; two days never share a date."""

from __future__ import annotations

from typing import Any

import pytest

from domain.errors import CommandRefused, ErrorCode
from domain.trip_decider import Actor, CreateTrip, UpdateTrip, decide, evolve
from domain.trip_model import Trip

OWNER = "0" * 23 + "1"
TRIP = "f" * 24
DAY, ACTIVITY = "d" * 24, "a" * 24


def trip_with_a_day() -> Trip:
    days = ({"dayId": DAY, "date": "2026-12-04", "activities": [{"activityId": ACTIVITY, "title": "Tram"}]},)
    (created,) = decide(None, CreateTrip(TRIP, "Lisbon", OWNER, (), days, ()))
    return evolve(None, created, 1, "2026-12-01T10:00:00.000Z")


def refusal(state: Trip, kind: str, data: dict[str, Any]) -> dict[str, Any]:
    with pytest.raises(CommandRefused) as caught:
        decide(state, UpdateTrip(Actor(OWNER), kind, data, None, ("e" * 24,)))
    assert caught.value.code == ErrorCode.VALIDATION_ERROR
    return dict(caught.value.details or {})


def test_a_second_day_on_the_same_date_is_refused_and_another_date_is_not() -> None:
    state = trip_with_a_day()
    assert "day.date" in refusal(state, "day_added", {"day": {"date": "2026-12-04"}})
    assert decide(state, UpdateTrip(Actor(OWNER), "day_added", {"day": {"date": "2026-12-05"}}, None, ("e" * 24,)))


def test_an_activity_ending_before_or_when_it_starts_is_refused() -> None:
    state = trip_with_a_day()
    late = {"title": "Fado", "startTime": "21:00", "endTime": "20:00"}
    assert "activity.endTime" in refusal(state, "activity_added", {"dayId": DAY, "activity": late})
    same = {"title": "Fado", "startTime": "21:00", "endTime": "21:00"}
    assert "activity.endTime" in refusal(state, "activity_added", {"dayId": DAY, "activity": same})
    fine = {"title": "Fado", "startTime": "21:00", "endTime": "23:00"}
    assert decide(
        state, UpdateTrip(Actor(OWNER), "activity_added", {"dayId": DAY, "activity": fine}, None, ("e" * 24,))
    )


def test_a_change_of_one_time_is_judged_with_the_other_time_the_activity_has() -> None:
    state = trip_with_a_day()
    (started,) = decide(
        state,
        UpdateTrip(
            Actor(OWNER),
            "activity_updated",
            {"dayId": DAY, "activityId": ACTIVITY, "changes": {"startTime": "10:00"}},
            None,
            (),
        ),
    )
    state = evolve(state, started, 2, "2026-12-01T10:01:00.000Z")
    details = refusal(
        state, "activity_updated", {"dayId": DAY, "activityId": ACTIVITY, "changes": {"endTime": "09:00"}}
    )
    assert details == {"changes.endTime": ["must be after startTime (10:00)"]}


def test_a_new_trip_may_not_hold_two_days_on_one_date_or_an_activity_ending_first() -> None:
    twice = ({"date": "2026-12-04"}, {"date": "2026-12-04"})
    with pytest.raises(CommandRefused) as caught:
        decide(None, CreateTrip(TRIP, "Lisbon", OWNER, (), twice, ("1" * 24, "2" * 24)))
    assert "days" in (caught.value.details or {})
    backwards = ({"date": "2026-12-04", "activities": [{"title": "x", "startTime": "10:00", "endTime": "09:00"}]},)
    with pytest.raises(CommandRefused):
        decide(None, CreateTrip(TRIP, "Lisbon", OWNER, (), backwards, ("1" * 24, "2" * 24)))
