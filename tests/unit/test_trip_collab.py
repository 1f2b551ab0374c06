"""Planning together, in the pure decider: per-field merge, what a change replaced, stale
references, the new update types, undo and redo per person, restore."""

from __future__ import annotations

from typing import Any

import pytest

from domain.errors import CommandRefused, ErrorCode
from domain.trip_codec import trip_from_snapshot, trip_to_snapshot
from domain.trip_decider import (
    Actor,
    CreateTrip,
    RestoreTrip,
    TripCommand,
    UndoChange,
    UpdateTrip,
    decide,
    evolve,
)
from domain.trip_events import (
    ActivityMoved,
    ActivityUpdated,
    Reverted,
    TripRestored,
    event_from_json,
    event_to_json,
)
from domain.trip_model import Trip, places_of

ANA = "0" * 23 + "1"
BEN = "0" * 23 + "2"
TRIP = "f" * 24
AT = "2026-11-25T10:00:00.000Z"
DAY1, DAY2, ACT1, ACT2, ACT3, CON = (f"{n:0>24}" for n in ("d1", "d2", "a1", "a2", "a3", "c1"))


def run(state: Trip | None, command: TripCommand, by: str) -> tuple[Trip, Any]:
    events = decide(state, command)
    version = state.version if state else 0
    for event in events:
        version += 1
        assert event_from_json(event_to_json(event)) == event  # the log round-trips every event
        state = evolve(state, event, version, AT, by=by)
    assert state is not None
    snapshot = trip_from_snapshot(trip_to_snapshot(state))
    assert snapshot == state  # a snapshot keeps marks, removals and undo steps
    assert state.places == places_of(state.days)  # the activity index follows every change
    return state, events[0] if events else None


def change(state: Trip, who: str, kind: str, data: dict[str, Any], base: int | None = None) -> tuple[Trip, Any]:
    return run(state, UpdateTrip(Actor(who), kind, data, base, ()), who)


def refused(state: Trip, command: TripCommand) -> CommandRefused:
    with pytest.raises(CommandRefused) as caught:
        decide(state, command)
    return caught.value


def planned() -> Trip:
    days = (
        {"dayId": DAY1, "date": "2026-12-04", "activities": [{"activityId": ACT1, "title": "Museum"}]},
        {"dayId": DAY2, "date": "2026-12-05", "activities": [{"activityId": ACT2, "title": "Tram"}]},
    )
    trip, _ = run(None, CreateTrip(TRIP, "Lisbon", ANA, (BEN,), days, ()), ANA)
    trip, _ = change(trip, ANA, "activity_added", {"dayId": DAY1, "activity": {"activityId": ACT3, "title": "Cafe"}})
    trip, _ = change(trip, ANA, "constraint_added", {"constraint": {"constraintId": CON, "type": "pace", "value": 1}})
    return trip


def edit(activity: str, changes: dict[str, Any], day: str = DAY1) -> dict[str, Any]:
    return {"dayId": day, "activityId": activity, "changes": changes}


def activity(trip: Trip, activity_id: str) -> dict[str, Any]:
    found = trip.find_activity(activity_id)
    assert found is not None
    return found[0].activities[found[1]].to_json()


def test_two_people_changing_different_fields_from_one_version_both_apply() -> None:
    trip = planned()
    base = trip.version
    trip, _ = change(trip, ANA, "activity_updated", edit(ACT1, {"title": "Museum A"}), base)
    trip, _ = change(trip, BEN, "activity_updated", edit(ACT1, {"notes": "tickets online"}), base)
    assert activity(trip, ACT1) == {"activityId": ACT1, "title": "Museum A", "notes": "tickets online"}


def test_a_change_to_a_field_someone_else_changed_since_base_names_field_value_version_and_current() -> None:
    trip = planned()
    base = trip.version
    trip, _ = change(trip, ANA, "activity_updated", edit(ACT1, {"title": "Museum A"}), base)
    error = refused(trip, UpdateTrip(Actor(BEN), "activity_updated", edit(ACT1, {"title": "Museum B"}), base, ()))
    assert error.code == ErrorCode.CONFLICT
    assert error.details == {
        "currentVersion": trip.version,
        "conflictsWith": ["activity_updated"],
        "itemId": ACT1,
        "fields": {"title": {"theirValue": "Museum A", "by": ANA, "version": trip.version, "currentValue": "Museum A"}},
    }


def test_a_person_is_not_in_conflict_with_their_own_later_change() -> None:
    trip = planned()
    base = trip.version
    trip, _ = change(trip, ANA, "activity_updated", edit(ACT1, {"title": "Museum A"}), base)
    trip, _ = change(trip, ANA, "activity_updated", edit(ACT1, {"title": "Museum AA"}), base)
    assert activity(trip, ACT1)["title"] == "Museum AA"


def test_without_base_version_the_change_applies_and_says_what_it_replaced_and_whose_it_was() -> None:
    trip = planned()
    trip, _ = change(trip, ANA, "activity_updated", edit(ACT1, {"title": "Museum A"}))
    version_a = trip.version
    trip, event = change(trip, BEN, "activity_updated", edit(ACT1, {"title": "Museum B", "cost": 5}))
    assert isinstance(event, ActivityUpdated)
    assert event.replaced == {
        "title": {"value": "Museum A", "by": ANA, "version": version_a},
        "cost": {"by": None, "version": None},  # it had no value
    }
    assert activity(trip, ACT1)["title"] == "Museum B"
    wire = event_to_json(event)["data"]["data"]
    assert wire["replaced"]["title"]["by"] == ANA  # the broadcast carries it (it is the event's data)


def test_an_update_of_a_removed_activity_is_a_conflict_naming_who_removed_it() -> None:
    trip = planned()
    trip, _ = change(trip, ANA, "activity_removed", {"dayId": DAY1, "activityId": ACT1})
    removed_at = trip.version
    for kind, data in (
        ("activity_updated", edit(ACT1, {"title": "x"})),
        ("activity_removed", {"dayId": DAY1, "activityId": ACT1}),
        ("activity_moved", {"dayId": DAY1, "activityId": ACT1, "toDayId": DAY2}),
    ):
        error = refused(trip, UpdateTrip(Actor(BEN), kind, data, None, ()))
        assert error.code == ErrorCode.CONFLICT
        assert error.details is not None
        assert error.details["removed"] == {"itemId": ACT1, "by": ANA, "version": removed_at}


def test_an_item_inside_a_removed_day_is_a_conflict_too_and_one_that_never_existed_is_invalid() -> None:
    trip = planned()
    trip, _ = change(trip, BEN, "day_removed", {"dayId": DAY2})
    error = refused(trip, UpdateTrip(Actor(ANA), "activity_updated", edit(ACT2, {"title": "x"}, DAY2), None, ()))
    assert (error.code, error.details and error.details["removed"]["by"]) == (ErrorCode.CONFLICT, BEN)
    never = "e" * 24
    error = refused(trip, UpdateTrip(Actor(ANA), "activity_updated", edit(never, {"title": "x"}), None, ()))
    assert error.code == ErrorCode.VALIDATION_ERROR
    error = refused(trip, UpdateTrip(Actor(ANA), "constraint_removed", {"constraintId": never}, None, ()))
    assert error.code == ErrorCode.VALIDATION_ERROR


def test_an_update_follows_an_activity_someone_moved_to_another_day() -> None:
    trip = planned()
    trip, _ = change(trip, BEN, "activity_moved", {"dayId": DAY1, "activityId": ACT1, "toDayId": DAY2})
    trip, event = change(trip, ANA, "activity_updated", edit(ACT1, {"notes": "n"}, DAY1))
    assert event.day_id == DAY2
    assert activity(trip, ACT1)["notes"] == "n"


def test_a_day_is_renamed_and_redated_and_keeps_the_dates_apart() -> None:
    trip = planned()
    trip, _ = change(trip, ANA, "day_updated", {"dayId": DAY1, "changes": {"title": "Arrival", "date": "2026-12-09"}})
    assert [(d.day_id, d.date, d.title) for d in trip.days] == [
        (DAY2, "2026-12-05", None),
        (DAY1, "2026-12-09", "Arrival"),
    ]  # still in date order
    error = refused(
        trip, UpdateTrip(Actor(BEN), "day_updated", {"dayId": DAY2, "changes": {"date": "2026-12-09"}}, None, ())
    )
    assert error.code == ErrorCode.VALIDATION_ERROR


def test_a_move_is_one_event_within_a_day_and_across_days() -> None:
    trip = planned()
    trip, event = change(trip, ANA, "activity_moved", {"dayId": DAY1, "activityId": ACT3, "toIndex": 0})
    assert isinstance(event, ActivityMoved)
    assert [a.activity_id for a in trip.days[0].activities] == [ACT3, ACT1]
    trip, _ = change(trip, BEN, "activity_moved", {"dayId": DAY1, "activityId": ACT1, "toDayId": DAY2, "toIndex": 0})
    assert [a.activity_id for a in trip.days[0].activities] == [ACT3]
    assert [a.activity_id for a in trip.days[1].activities] == [ACT1, ACT2]
    trip, _ = change(trip, BEN, "activity_moved", {"dayId": DAY2, "activityId": ACT1, "toDayId": DAY1, "toIndex": 99})
    assert [a.activity_id for a in trip.days[0].activities] == [ACT3, ACT1]  # an index past the end is the end


def test_two_moves_of_one_activity_from_one_version_conflict() -> None:
    trip = planned()
    base = trip.version
    trip, _ = change(trip, ANA, "activity_moved", {"dayId": DAY1, "activityId": ACT1, "toDayId": DAY2}, base)
    move = UpdateTrip(Actor(BEN), "activity_moved", {"dayId": DAY1, "activityId": ACT1, "toIndex": 1}, base, ())
    error = refused(trip, move)
    assert error.code == ErrorCode.CONFLICT
    assert error.details is not None
    assert error.details["fields"]["position"]["currentValue"] == {"dayId": DAY2, "index": 1}


def test_a_constraint_is_changed_field_by_field() -> None:
    trip = planned()
    trip, event = change(trip, BEN, "constraint_updated", {"constraintId": CON, "changes": {"value": None}})
    assert trip.constraints[0].to_json() == {"constraintId": CON, "type": "pace", "value": None}
    assert event.replaced == {"value": {"value": 1, "by": ANA, "version": 3}}


def test_undo_reverts_the_persons_last_change_as_a_new_event_and_redo_brings_it_back() -> None:
    trip = planned()
    trip, _ = change(trip, ANA, "activity_updated", edit(ACT1, {"title": "Museum A", "notes": "n"}))
    trip, _ = change(trip, BEN, "activity_updated", edit(ACT2, {"title": "Tram B"}, DAY2))
    before = trip.version
    trip, event = run(trip, UndoChange(Actor(ANA), "undo"), ANA)
    assert isinstance(event, Reverted) and event.kind == "undo" and trip.version == before + 1
    assert event_to_json(event)["data"]["updateType"] == "activity_updated"
    assert activity(trip, ACT1) == {"activityId": ACT1, "title": "Museum"}  # notes unset again
    assert activity(trip, ACT2)["title"] == "Tram B"  # the other person's change stays
    trip, _ = run(trip, UndoChange(Actor(ANA), "redo"), ANA)
    assert activity(trip, ACT1) == {"activityId": ACT1, "title": "Museum A", "notes": "n"}


def test_undo_walks_back_through_adds_removals_and_moves() -> None:
    trip = planned()
    start = trip.to_json()
    trip, _ = change(trip, ANA, "activity_removed", {"dayId": DAY1, "activityId": ACT1})
    trip, _ = change(trip, ANA, "activity_moved", {"dayId": DAY1, "activityId": ACT3, "toDayId": DAY2, "toIndex": 0})
    trip, _ = change(trip, ANA, "day_removed", {"dayId": DAY1})
    for _ in range(3):
        trip, _ = run(trip, UndoChange(Actor(ANA), "undo"), ANA)
    assert {k: v for k, v in trip.to_json().items() if k not in ("version",)} == {
        k: v for k, v in start.items() if k != "version"
    }
    for _ in range(3):
        trip, _ = run(trip, UndoChange(Actor(ANA), "redo"), ANA)
    assert [d.day_id for d in trip.days] == [DAY2]
    assert [a.activity_id for a in trip.days[0].activities] == [ACT3, ACT2]


def test_undo_is_refused_when_someone_else_changed_the_same_field_since() -> None:
    trip = planned()
    trip, _ = change(trip, ANA, "activity_updated", edit(ACT1, {"title": "Museum A"}))
    trip, _ = change(trip, BEN, "activity_updated", edit(ACT1, {"title": "Museum B"}))
    error = refused(trip, UndoChange(Actor(ANA), "undo"))
    assert error.code == ErrorCode.CONFLICT
    assert error.details is not None and error.details["fields"]["title"]["by"] == BEN
    # undoing an add someone else has since edited would remove their work too
    trip, _ = change(trip, ANA, "activity_added", {"dayId": DAY2, "activity": {"activityId": "e" * 24, "title": "X"}})
    trip, _ = change(trip, BEN, "activity_updated", edit("e" * 24, {"notes": "mine"}, DAY2))
    assert refused(trip, UndoChange(Actor(ANA), "undo")).code == ErrorCode.CONFLICT


def test_nothing_to_undo_is_a_validation_error_and_a_new_change_clears_redo() -> None:
    trip = planned()
    assert refused(trip, UndoChange(Actor(BEN), "undo")).code == ErrorCode.VALIDATION_ERROR
    trip, _ = change(trip, BEN, "activity_updated", edit(ACT1, {"title": "B"}))
    trip, _ = run(trip, UndoChange(Actor(BEN), "undo"), BEN)
    trip, _ = change(trip, BEN, "activity_updated", edit(ACT1, {"notes": "x"}))
    assert refused(trip, UndoChange(Actor(BEN), "redo")).code == ErrorCode.VALIDATION_ERROR


def test_restore_returns_the_plan_to_an_earlier_version_as_one_event() -> None:
    trip = planned()
    earlier = trip
    trip, _ = change(trip, ANA, "activity_removed", {"dayId": DAY1, "activityId": ACT1})
    trip, _ = change(trip, BEN, "day_updated", {"dayId": DAY2, "changes": {"title": "Beach"}})
    trip, event = run(trip, RestoreTrip(Actor(BEN), earlier.version, earlier), BEN)
    assert isinstance(event, TripRestored)
    assert trip.to_json()["days"] == earlier.to_json()["days"]
    assert trip.version == earlier.version + 3
    # a restored activity is current again: changing it is not a stale reference
    trip, _ = change(trip, ANA, "activity_updated", edit(ACT1, {"notes": "back"}))
    assert refused(trip, RestoreTrip(Actor(BEN), trip.version, trip)).code == ErrorCode.VALIDATION_ERROR


def test_events_without_the_new_fields_fold_as_before() -> None:
    trip = planned()
    old_shape = {
        "type": "trip_updated",
        "data": {"updateType": "activity_updated", "data": edit(ACT1, {"title": "Old"})},
    }
    event = event_from_json(old_shape)
    assert isinstance(event, ActivityUpdated) and event.replaced is None
    assert event_to_json(event) == old_shape
    after = evolve(trip, event, trip.version + 1, AT)  # no author known
    assert after is not None and activity(after, ACT1)["title"] == "Old"


_FOLD_A_RESTORE = """
import json, sys
sys.path.insert(0, ".")
from tests.unit.test_trip_collab import ACT1, ANA, BEN, DAY1, RestoreTrip, Actor, change, edit, planned, run
from domain.trip_codec import trip_to_snapshot
trip = planned()
earlier = trip
for n in range(12):
    added = {"activityId": f"{n:0>24}", "title": "x"}
    trip, _ = change(trip, ANA, "activity_added", {"dayId": DAY1, "activity": added})
trip, _ = change(trip, BEN, "activity_updated", edit(ACT1, {"title": "T", "notes": "N", "cost": 3}))
trip, _ = run(trip, RestoreTrip(Actor(BEN), earlier.version, earlier), BEN)
# the maps keyed by item may list their items in any order (a SharedMap is hashed); what is
# ordered must be the same: which removal is oldest, and in which order each item's fields were marked
print(json.dumps(trip_to_snapshot(trip), sort_keys=True))
print(list(trip.removed), {item: list(trip.marks[item]) for item in sorted(trip.marks)})
"""


def test_a_restore_folds_to_the_same_state_in_every_process_whatever_its_hash_seed() -> None:
    import os
    import subprocess
    import sys

    folded = {
        subprocess.run(
            [sys.executable, "-c", _FOLD_A_RESTORE],
            env={**os.environ, "PYTHONHASHSEED": str(seed)},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in (1, 2, 3, 4)
    }
    assert len(folded) == 1  # one state, as every node and every replay must fold it
