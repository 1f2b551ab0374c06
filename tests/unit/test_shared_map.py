"""``SharedMap``: an immutable map whose changed copies share what did not change
(the trip's marks, recent changes and activity places), and the trip's size in
bytes measured day by day."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from domain.shared_map import SharedMap
from domain.trip_decider import Actor, CreateTrip, TripCommand, UpdateTrip, decide, evolve
from domain.trip_limits import json_bytes, trip_bytes
from domain.trip_model import Trip, places_of

keys = st.text(min_size=1, max_size=3)
operations = st.lists(st.tuples(st.booleans(), keys, st.tuples(st.integers()) | st.just(())), max_size=60)


@given(operations)
def test_a_changed_copy_reads_as_the_dict_changed_the_same_way_and_the_original_stays(
    ops: list[tuple[bool, str, tuple[int, ...]]],
) -> None:
    shared: SharedMap[str, tuple[int, ...]] = SharedMap()
    model: dict[str, tuple[int, ...]] = {}
    for put, key, value in ops:
        before, before_model = shared, dict(model)
        if put:
            shared, model[key] = shared.set(key, value), value
        else:
            shared = shared.without(key)
            model.pop(key, None)
        assert dict(before.items()) == before_model  # a copy never changes the map it came from
        assert shared == model and len(shared) == len(model) and sorted(shared) == sorted(model)
        assert shared.volume == sum(len(v) for v in model.values())
        assert all(shared[k] == v and k in shared and shared.get(k) == v for k, v in model.items())
    assert shared.get("absent") is None and shared.get("absent", ()) == ()
    assert SharedMap(model) == shared and SharedMap(model.items()) == shared


def test_removing_a_key_it_lacks_is_the_same_map() -> None:
    shared = SharedMap({"a": "x"})
    assert shared.without("b") is shared
    assert shared.without("a") == {} and shared == {"a": "x"}


ANA = "0" * 23 + "1"
TRIP = "f" * 24
DAYS = [f"{n:0>24}" for n in ("d1", "d2", "d3")]


def test_the_trip_size_and_activity_places_follow_every_change_measuring_only_changed_days() -> None:
    days = tuple(
        {
            "dayId": day,
            "date": f"2026-12-0{n + 1}",
            "activities": [{"activityId": f"{n:x}{i:0>23}", "title": "Café ☕"} for i in range(3)],
        }
        for n, day in enumerate(DAYS)
    )
    commands: list[TripCommand] = [
        CreateTrip(TRIP, "Lisbon", ANA, (), days, ()),
        UpdateTrip(
            Actor(ANA),
            "activity_updated",
            {"dayId": DAYS[0], "activityId": f"0{0:0>23}", "changes": {"title": "Museu 🏛"}},
            None,
            (),
        ),
        UpdateTrip(
            Actor(ANA), "activity_moved", {"dayId": DAYS[0], "activityId": f"0{1:0>23}", "toDayId": DAYS[2]}, None, ()
        ),
        UpdateTrip(
            Actor(ANA),
            "activity_added",
            {"dayId": DAYS[1], "activity": {"activityId": "e" * 24, "title": "x"}},
            None,
            (),
        ),
        UpdateTrip(Actor(ANA), "activity_removed", {"dayId": DAYS[1], "activityId": f"1{0:0>23}"}, None, ()),
        UpdateTrip(Actor(ANA), "day_removed", {"dayId": DAYS[2]}, None, ()),
        UpdateTrip(
            Actor(ANA),
            "day_added",
            {
                "day": {
                    "dayId": "d" * 24,
                    "date": "2026-12-09",
                    "activities": [{"activityId": "f" * 23 + "0", "title": "y"}],
                }
            },
            None,
            (),
        ),
    ]
    state: Trip | None = None
    for version, command in enumerate(commands, 1):
        (event,) = decide(state, command)
        after = evolve(state, event, version, "2026-12-01T10:00:00.000Z", by=ANA)
        assert after is not None
        assert trip_bytes(after) == json_bytes(after.to_json())
        assert after.places == places_of(after.days)
        assert all(after.find_activity(a.activity_id) == (d, i) for d in after.days for i, a in enumerate(d.activities))
        if state is not None:  # the days a change left alone are the same values, already measured
            kept = [d for d in after.days if d in state.days and any(d is s for s in state.days)]
            assert len(kept) >= len(after.days) - 2  # a change rebuilds at most two days
            assert all(d.json_size >= 0 for d in kept)
        state = after
    assert state is not None and not state.has_activity(f"1{0:0>23}") and state.has_activity("e" * 24)
