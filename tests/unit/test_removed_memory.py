"""A trip remembers the newest ``REMOVED_MEMORY`` removed item ids (an older one reads as
never having existed), the oldest forgotten first, in constant time per removal."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain import trip_collab
from domain.errors import CommandRefused, ErrorCode
from domain.trip_decider import Actor, CreateTrip, TripCommand, UpdateTrip, decide, evolve
from domain.trip_model import REMOVED_MEMORY, Removal, Trip

ANA = "0" * 23 + "1"
TRIP = "f" * 24
AT = "2026-11-25T10:00:00.000Z"


def run(state: Trip | None, command: TripCommand) -> Trip:
    version = state.version if state else 0
    for event in decide(state, command):
        version += 1
        state = evolve(state, event, version, AT, by=ANA)
    assert state is not None
    return state


def day_id(day: int) -> str:
    return f"d{day:0>23}"


def activity_id(day: int, n: int) -> str:
    return f"a{day:0>3}{n:0>20}"


def test_days_removed_past_the_bound_leave_the_newest_removals_in_the_order_made() -> None:
    days = tuple(
        {
            "dayId": day_id(day),
            "date": f"2026-12-{day + 1:0>2}",
            "activities": [{"activityId": activity_id(day, n), "title": "x"} for n in range(150)],
        }
        for day in range(4)
    )
    trip = run(None, CreateTrip(TRIP, "Lisbon", ANA, (), days, ()))
    made: list[str] = []
    for day in range(4):  # the last one passes the bound with 92 to forget in one step
        trip = run(trip, UpdateTrip(Actor(ANA), "day_removed", {"dayId": day_id(day)}, None, ()))
        made += [activity_id(day, n) for n in range(150)] + [day_id(day)]
    assert list(trip.removed) == made[-REMOVED_MEMORY:]
    assert all(trip.removed[item].version == 5 for item in made[-151:])

    def refusal(item: str, day: int) -> ErrorCode:
        data = {"dayId": day_id(day), "activityId": item, "changes": {"title": "y"}}
        with pytest.raises(CommandRefused) as caught:
            decide(trip, UpdateTrip(Actor(ANA), "activity_updated", data, None, ()))
        return caught.value.code

    assert refusal(made[-REMOVED_MEMORY], 0) == ErrorCode.CONFLICT  # the oldest remembered
    assert made[-REMOVED_MEMORY - 1] not in trip.removed  # forgotten


ITEMS = st.sampled_from("abcdefgh")
STEP = st.lists(st.tuples(st.sampled_from(["drop", "set"]), ITEMS), max_size=12)


def forgetting_the_first(removed: dict[str, int], step: list[tuple[str, str]], version: int, bound: int) -> None:
    """What a step did before (the copy's first entry deleted past the bound): the reference."""
    for op, item in step:
        removed.pop(item, None)
        if op == "drop":
            removed[item] = version
            while len(removed) > bound:
                del removed[next(iter(removed))]


@given(st.lists(STEP, max_size=8), st.integers(1, 5))
def test_removals_are_forgotten_oldest_first_across_drops_taken_back_and_made_again(
    steps: list[list[tuple[str, str]]], bound: int
) -> None:
    trip = Trip(TRIP, "t", ANA, (), (), (), 0, AT)
    expected: dict[str, int] = {}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(trip_collab, "REMOVED_MEMORY", bound)
        for version, step in enumerate(steps, 1):
            book = trip_collab._Book(trip, version, ANA)
            for op, item in step:
                if op == "drop":
                    book.drop(item)
                else:
                    book.set(item, ["title"])
            trip = dataclasses.replace(trip, removed=book.removed, marks=book.marks)
            forgetting_the_first(expected, step, version, bound)
            assert [(item, r.version) for item, r in trip.removed.items()] == list(expected.items())
            assert all(isinstance(r, Removal) for r in trip.removed.values())
