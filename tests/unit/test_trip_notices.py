"""The person whose value a change replaces is told when outside the room (the pure
decider): who changed which field of which item, from what to what."""

from __future__ import annotations

from typing import Any

from domain.trip_decider import (
    Actor,
    CreateTrip,
    RemoveCollaborator,
    RestoreTrip,
    TripCommand,
    UndoChange,
    UpdateTrip,
    decide,
    evolve,
)
from domain.trip_events import ChangeNotified, event_to_json
from domain.trip_model import Trip
from domain.trip_notices import NOTICE_ENTRIES, Audience, notification_id

ANA = "0" * 23 + "1"
BEN = "0" * 23 + "2"
CAL = "0" * 23 + "3"
TRIP = "f" * 24
AT = "2026-11-25T10:00:00.000Z"
CHANGE = "6" * 8 + "c" * 16  # the shell's fresh id for the change
DAY1, DAY2, ACT1, ACT2 = (f"{n:0>24}" for n in ("d1", "d2", "a1", "a2"))
NOBODY_IN_ROOM = Audience(CHANGE, None)


def run(state: Trip | None, command: TripCommand, by: str) -> tuple[Trip, tuple[Any, ...]]:
    events = decide(state, command)
    version = state.version if state else 0
    if events:
        state = evolve(state, events[0], version + 1, AT, by=by)  # notifications ride along, not in the stream
    assert state is not None
    return state, events[1:]


def update(state: Trip, who: str, kind: str, data: dict[str, Any], audience: Audience | None = NOBODY_IN_ROOM) -> Any:
    return run(state, UpdateTrip(Actor(who, name=who[-1:]), kind, data, None, (), audience), who)


def planned() -> Trip:
    days = (
        {"dayId": DAY1, "date": "2026-12-04", "activities": [{"activityId": ACT1, "title": "Museum"}]},
        {"dayId": DAY2, "date": "2026-12-05", "activities": [{"activityId": ACT2, "title": "Tram"}]},
    )
    trip, _ = run(None, CreateTrip(TRIP, "Lisbon", ANA, (BEN, CAL), days, ()), ANA)
    return trip


def retitle(activity: str, title: str, day: str = DAY1) -> dict[str, Any]:
    return {"dayId": day, "activityId": activity, "changes": {"title": title}}


def test_the_person_whose_title_is_replaced_outside_the_room_is_told_who_changed_it_from_what_to_what() -> None:
    trip = planned()
    trip, notices = update(trip, BEN, "activity_updated", retitle(ACT1, "Museum B"))
    assert notices == (
        ChangeNotified(
            notification_id(CHANGE, ANA),
            ANA,
            TRIP,
            2,
            "activity_updated",
            BEN,
            "2",
            None,
            ({"itemId": ACT1, "field": "title", "from": "Museum", "to": "Museum B", "yourVersion": 1},),
        ),
    )
    assert event_to_json(notices[0]) == {
        "type": "notification_created",
        "data": {
            "notificationId": notification_id(CHANGE, ANA),
            "userId": ANA,
            "kind": "change_replaced",
            "tripId": TRIP,
            "version": 2,
            "updateType": "activity_updated",
            "fromUserId": BEN,
            "fromName": "2",
            "changes": [{"itemId": ACT1, "field": "title", "from": "Museum", "to": "Museum B", "yourVersion": 1}],
        },
    }
    assert notices[0].notification_id.startswith("6" * 8) and len(notices[0].notification_id) == 24
    # ben's own value replaced by himself, or by a change with nobody to tell: no notice
    assert update(trip, BEN, "activity_updated", retitle(ACT1, "Museum C"))[1] == ()


def test_nobody_in_the_room_or_without_an_audience_is_told() -> None:
    trip = planned()
    in_room = Audience(CHANGE, frozenset({ANA, BEN}))
    assert update(trip, BEN, "activity_updated", retitle(ACT1, "X"), in_room)[1] == ()
    assert update(trip, BEN, "activity_updated", retitle(ACT1, "X"), None)[1] == ()
    assert update(trip, BEN, "activity_updated", retitle(ACT1, "Museum"))[1] == ()  # the same value: nothing replaced


def test_only_the_author_of_each_replaced_field_is_told_and_only_their_fields() -> None:
    trip = planned()
    trip, _ = update(trip, CAL, "activity_updated", {"dayId": DAY1, "activityId": ACT1, "changes": {"notes": "n"}})
    trip, notices = update(
        trip, BEN, "activity_updated", {"dayId": DAY1, "activityId": ACT1, "changes": {"title": "T", "notes": "m"}}
    )
    told = {notice.user_id: [(e["field"], e.get("from"), e.get("to")) for e in notice.changes] for notice in notices}
    assert told == {ANA: [("title", "Museum", "T")], CAL: [("notes", "n", "m")]}


def test_a_move_and_a_removal_of_someone_elses_activity_tell_them() -> None:
    trip = planned()
    trip, moved = update(trip, BEN, "activity_moved", {"dayId": DAY1, "activityId": ACT1, "toDayId": DAY2})
    [notice] = moved
    assert notice.user_id == ANA and notice.update_type == "activity_moved"
    assert notice.changes == (
        {
            "itemId": ACT1,
            "field": "position",
            "from": {"dayId": DAY1, "index": 0},
            "to": {"dayId": DAY2, "index": 1},
            "yourVersion": 1,
        },
    )
    trip, removed = update(trip, BEN, "activity_removed", {"dayId": DAY2, "activityId": ACT2})
    [notice] = removed
    assert notice.user_id == ANA
    assert notice.changes == ({"itemId": ACT2, "field": "title", "from": "Tram", "removed": True, "yourVersion": 1},)
    _, day_gone = update(trip, CAL, "day_removed", {"dayId": DAY2})
    [notice] = day_gone
    assert {(e["itemId"], e["field"]) for e in notice.changes} == {(DAY2, "date"), (ACT1, "title")}  # ben moved ACT1


def test_a_restore_tells_whose_values_it_reverted_and_a_former_member_is_never_told() -> None:
    trip = planned()
    before = trip
    trip, _ = update(trip, BEN, "activity_updated", retitle(ACT1, "Museum B"))
    trip, _ = update(trip, CAL, "activity_updated", retitle(ACT2, "Tram 28", DAY2))
    trip, _ = run(trip, RemoveCollaborator(Actor(ANA), CAL), ANA)
    trip, notices = run(trip, RestoreTrip(Actor(ANA), 1, before, NOBODY_IN_ROOM), ANA)
    [notice] = notices
    assert notice.user_id == BEN and notice.reverts == "restore" and notice.update_type == "trip_restored"
    assert notice.changes == ({"itemId": ACT1, "field": "title", "from": "Museum B", "to": "Museum", "yourVersion": 2},)


def test_an_undo_that_replaces_nobody_elses_value_tells_nobody() -> None:
    trip = planned()
    trip, _ = update(trip, BEN, "activity_updated", retitle(ACT1, "Museum B"))
    trip, notices = run(trip, UndoChange(Actor(BEN), "undo", NOBODY_IN_ROOM), BEN)
    assert notices == ()  # it puts ana's title back: her value is not replaced
    assert trip.day(DAY1) is not None and trip.find_activity(ACT1) is not None


def test_a_notice_lists_a_bounded_number_of_fields_and_counts_the_rest() -> None:
    days = (
        {
            "dayId": DAY1,
            "date": "2026-12-04",
            "activities": [{"activityId": f"{n:0>24}", "title": "t"} for n in range(NOTICE_ENTRIES + 5)],
        },
    )
    trip, _ = run(None, CreateTrip(TRIP, "Lisbon", ANA, (BEN,), days, ()), ANA)
    trip, notices = update(trip, BEN, "day_removed", {"dayId": DAY1})
    [notice] = notices
    assert len(notice.changes) == NOTICE_ENTRIES and notice.more == 6  # the day's date and 25 titles
    assert event_to_json(notice)["data"]["more"] == 6
