"""The trip decider, run in memory: decide then evolve, no I/O."""

from __future__ import annotations

from typing import Any

import pytest

from domain.errors import CommandRefused, ErrorCode
from domain.trip_codec import trip_from_snapshot, trip_to_snapshot
from domain.trip_decider import (
    AcceptInvite,
    Actor,
    AddCollaborator,
    CreateTrip,
    PostChatMessage,
    RemoveCollaborator,
    RevokeInvites,
    TripCommand,
    UpdateTrip,
    decide,
    evolve,
    notification_id,
)
from domain.trip_events import (
    ActivityAdded,
    ChatMessagePosted,
    NotificationCreated,
    event_from_json,
    event_to_json,
)
from domain.trip_model import Trip

OWNER = "0" * 23 + "1"
FRIEND = "0" * 23 + "2"
STRANGER = "0" * 23 + "3"
TRIP = "f" * 24
AT = "2026-11-25T10:00:00.000Z"


def ids(*names: str) -> tuple[str, ...]:
    return tuple(f"{n:0>24}" for n in names)


def run(state: Trip | None, command: TripCommand) -> Trip:
    events = decide(state, command)
    version = state.version if state else 0
    for event in events:
        version += 1
        assert event_from_json(event_to_json(event)) == event  # the log round-trips every event
        state = evolve(state, event, version, AT)
    assert state is not None
    return state


def created() -> Trip:
    return run(None, CreateTrip(TRIP, "Lisbon", OWNER, (FRIEND, OWNER, FRIEND), (), ()))


def update(state: Trip, kind: str, data: dict[str, Any], base: int | None = None, fresh: tuple[str, ...] = ()) -> Trip:
    return run(state, UpdateTrip(Actor(OWNER), kind, data, base, fresh))


def with_day() -> Trip:
    return update(created(), "day_added", {"day": {"date": "2026-12-04", "title": "Arrival"}}, fresh=ids("d1"))


def test_created_trip_has_version_1_owner_and_deduplicated_collaborators() -> None:
    trip = created()
    assert (trip.version, trip.owner_id, trip.collaborators) == (1, OWNER, (FRIEND,))


def test_a_trip_is_created_once() -> None:
    with pytest.raises(CommandRefused):
        decide(created(), CreateTrip(TRIP, "again", OWNER, (), (), ()))


def test_create_assigns_missing_ids_to_days_and_activities_in_order() -> None:
    days = ({"date": "2026-12-05", "activities": [{"title": "Tram"}]}, {"date": "2026-12-04", "dayId": "e" * 24})
    trip = run(None, CreateTrip(TRIP, "t", OWNER, (), days, ids("d1", "a1")))
    assert [d.day_id for d in trip.days] == ["e" * 24, ids("d1")[0]]  # kept in date order
    assert trip.days[1].activities[0].activity_id == ids("a1")[0]


def test_commands_on_a_missing_trip_are_trip_not_found() -> None:
    with pytest.raises(CommandRefused) as caught:
        decide(None, UpdateTrip(Actor(OWNER), "day_removed", {"dayId": "d" * 24}, None, ()))
    assert caught.value.code == ErrorCode.TRIP_NOT_FOUND


def test_day_added_uses_the_fresh_id_when_the_client_gives_none() -> None:
    trip = with_day()
    assert trip.days[0].day_id == ids("d1")[0] and trip.days[0].title == "Arrival" and trip.version == 2


def test_all_activity_updates_evolve_the_day() -> None:
    day = ids("d1")[0]
    trip = update(
        with_day(), "activity_added", {"dayId": day, "activity": {"title": "Tram", "cost": 3}}, fresh=ids("a1")
    )
    act = ids("a1")[0]
    assert trip.days[0].activities[0].to_json() == {"activityId": act, "title": "Tram", "cost": 3}
    trip = update(trip, "activity_updated", {"dayId": day, "activityId": act, "changes": {"title": "Tram 28"}})
    assert trip.days[0].activities[0].to_json()["title"] == "Tram 28"
    trip = update(trip, "activity_removed", {"dayId": day, "activityId": act})
    assert trip.days[0].activities == ()
    trip = update(trip, "day_removed", {"dayId": day})
    assert trip.days == () and trip.version == 6


def test_constraints_are_added_and_removed() -> None:
    trip = update(created(), "constraint_added", {"constraint": {"type": "budget", "value": 900}}, fresh=ids("k1"))
    assert trip.constraints[0].to_json() == {"constraintId": ids("k1")[0], "type": "budget", "value": 900}
    trip = update(trip, "constraint_removed", {"constraintId": ids("k1")[0]})
    assert trip.constraints == ()


@pytest.mark.parametrize(
    ("kind", "data", "field"),
    [
        ("day_removed", {"dayId": "9" * 24}, "dayId"),
        ("activity_added", {"dayId": "9" * 24, "activity": {"title": "x"}}, "dayId"),
        ("activity_updated", {"dayId": ids("d1")[0], "activityId": "9" * 24, "changes": {"title": "x"}}, "activityId"),
        ("constraint_removed", {"constraintId": "9" * 24}, "constraintId"),
        ("day_added", {"day": {"date": "2026-12-06", "dayId": ids("d1")[0]}}, "day.dayId"),
    ],
)
def test_updates_naming_items_the_trip_lacks_are_validation_errors(kind: str, data: dict[str, Any], field: str) -> None:
    with pytest.raises(CommandRefused) as caught:
        decide(with_day(), UpdateTrip(Actor(OWNER), kind, data, None, ids("x1")))
    assert caught.value.code == ErrorCode.VALIDATION_ERROR and field in caught.value.details


def test_a_stale_base_version_conflicts_only_when_the_same_field_changed() -> None:
    day = ids("d1")[0]
    trip = update(with_day(), "activity_added", {"dayId": day, "activity": {"title": "A"}}, fresh=ids("a1"))
    base = trip.version  # 3
    trip = update(trip, "activity_updated", {"dayId": day, "activityId": ids("a1")[0], "changes": {"title": "A2"}})
    trip = update(trip, "constraint_added", {"constraint": {"type": "pace", "value": "slow"}}, fresh=ids("k1"))

    same_field = UpdateTrip(
        Actor(FRIEND),
        "activity_updated",
        {"dayId": day, "activityId": ids("a1")[0], "changes": {"title": "B2"}},
        base,
        (),
    )
    with pytest.raises(CommandRefused) as caught:
        decide(trip, same_field)
    assert caught.value.code == ErrorCode.CONFLICT
    assert caught.value.details is not None
    assert caught.value.details["currentVersion"] == 5
    assert caught.value.details["conflictsWith"] == ["activity_updated"]
    assert caught.value.details["fields"]["title"]["version"] == 4

    other_field = UpdateTrip(
        Actor(FRIEND),
        "activity_updated",
        {"dayId": day, "activityId": ids("a1")[0], "changes": {"notes": "n"}},
        base,
        (),
    )
    assert decide(trip, other_field)[0].changes == {"notes": "n"}  # type: ignore[union-attr]

    other_item = UpdateTrip(
        Actor(FRIEND), "activity_added", {"dayId": day, "activity": {"title": "B"}}, base, ids("b1")
    )
    assert isinstance(decide(trip, other_item)[0], ActivityAdded)


def test_removing_a_day_after_someone_added_an_activity_to_it_conflicts() -> None:
    day = ids("d1")[0]
    trip = with_day()
    base = trip.version
    trip = update(trip, "activity_added", {"dayId": day, "activity": {"title": "A"}}, fresh=ids("a1"))
    with pytest.raises(CommandRefused) as caught:
        decide(trip, UpdateTrip(Actor(FRIEND), "day_removed", {"dayId": day}, base, ()))
    assert caught.value.details["conflictsWith"] == ["activity_added"]


def test_a_base_version_ahead_of_the_trip_is_refused() -> None:
    with pytest.raises(CommandRefused) as caught:
        decide(
            created(),
            UpdateTrip(Actor(OWNER), "constraint_added", {"constraint": {"type": "a", "value": 1}}, 9, ids("k")),
        )
    assert "baseVersion" in caught.value.details


def test_collaborators_are_managed_by_the_owner_or_an_admin_only() -> None:
    trip = created()
    with pytest.raises(CommandRefused) as caught:
        decide(trip, AddCollaborator(Actor(FRIEND), STRANGER))
    assert caught.value.code == ErrorCode.FORBIDDEN
    trip = run(trip, AddCollaborator(Actor(STRANGER, is_admin=True), STRANGER))
    assert trip.collaborators == (FRIEND, STRANGER)
    assert decide(trip, AddCollaborator(Actor(OWNER), STRANGER)) == ()  # already there: nothing to record
    trip = run(trip, RemoveCollaborator(Actor(OWNER), FRIEND))
    assert trip.collaborators == (STRANGER,)
    with pytest.raises(CommandRefused) as missing:
        decide(trip, RemoveCollaborator(Actor(OWNER), FRIEND))
    assert missing.value.code == ErrorCode.NOT_FOUND


def test_an_invite_made_before_a_removal_or_a_revocation_brings_nobody_in() -> None:
    trip = created()
    made_in = trip.invite_epoch
    trip = run(trip, AcceptInvite(OWNER, STRANGER, made_in))
    assert STRANGER in trip.collaborators
    trip = run(trip, RemoveCollaborator(Actor(OWNER), STRANGER))
    assert trip.invite_epoch > made_in
    assert trip_from_snapshot(trip_to_snapshot(trip)).invite_epoch == trip.invite_epoch  # snapshots keep it
    for who in (STRANGER, "0" * 23 + "4"):  # the one removed, and anyone else
        with pytest.raises(CommandRefused) as stale:
            decide(trip, AcceptInvite(OWNER, who, made_in))
        assert stale.value.code == ErrorCode.FORBIDDEN
    current = trip.invite_epoch
    with pytest.raises(CommandRefused) as not_owner:  # a collaborator revokes nothing; an admin may
        decide(trip, RevokeInvites(Actor(FRIEND)))
    assert not_owner.value.code == ErrorCode.FORBIDDEN
    trip = run(trip, RevokeInvites(Actor(STRANGER, is_admin=True)))
    with pytest.raises(CommandRefused):
        decide(trip, AcceptInvite(OWNER, STRANGER, current))
    assert decide(trip, AcceptInvite(OWNER, FRIEND, trip.invite_epoch)) == ()  # a member already


def test_an_invite_works_only_while_its_inviter_owns_the_trip() -> None:
    trip = created()
    for inviter in (FRIEND, STRANGER):  # a collaborator's or an admin's invite: the trip knows no such power
        with pytest.raises(CommandRefused) as refused:
            decide(trip, AcceptInvite(inviter, STRANGER, trip.invite_epoch))
        assert refused.value.code == ErrorCode.FORBIDDEN


def test_a_chat_message_takes_a_stream_position_but_changes_no_plan() -> None:
    trip = created()
    [event] = decide(
        trip, PostChatMessage(Actor(FRIEND, name="Grace"), "9" * 24, "hello", "suggestion", frozenset({OWNER}))
    )
    assert event == ChatMessagePosted("9" * 24, FRIEND, "Grace", "hello", "suggestion")
    assert isinstance(event, ChatMessagePosted)
    after = evolve(trip, event, 2, AT)
    assert after is not None and after.version == 2 and after.days == trip.days


def test_members_outside_the_room_are_notified_of_a_chat_message_and_the_sender_never() -> None:
    trip = created()
    message = "x" * 150
    events = decide(trip, PostChatMessage(Actor(FRIEND), "6" * 8 + "9" * 16, message, "text", frozenset({FRIEND})))
    posted, notified = events
    assert isinstance(posted, ChatMessagePosted)
    assert notified == NotificationCreated(
        notification_id("6" * 8 + "9" * 16, OWNER), OWNER, TRIP, posted.message_id, FRIEND, "x" * 100
    )
    assert notified.notification_id.startswith("6" * 8) and len(notified.notification_id) == 24  # ordered by time
    assert notification_id(posted.message_id, OWNER) != notification_id(posted.message_id, FRIEND)
    # nobody else in the room (None): every other member; everyone in it: nobody
    assert len(decide(trip, PostChatMessage(Actor(OWNER), "1" * 24, "hi", "text", None))) == 2
    assert len(decide(trip, PostChatMessage(Actor(OWNER), "1" * 24, "hi", "text", frozenset({OWNER, FRIEND})))) == 1


def test_a_state_for_reading_only_is_the_same_trip_without_the_changes_kept_for_conflicts() -> None:
    remembered: Trip | None = None
    for_reading: Trip | None = None
    version = 0
    commands: list[TripCommand] = [
        CreateTrip(TRIP, "Lisbon", OWNER, (FRIEND,), (), ()),
        UpdateTrip(Actor(OWNER), "day_added", {"day": {"date": "2026-12-04"}}, None, ids("d1")),
        UpdateTrip(
            Actor(OWNER), "activity_added", {"dayId": ids("d1")[0], "activity": {"title": "Tram"}}, None, ids("a1")
        ),
        UpdateTrip(Actor(OWNER), "activity_removed", {"dayId": ids("d1")[0], "activityId": ids("a1")[0]}, None, ()),
    ]
    for command in commands:
        for event in decide(remembered, command):
            version += 1
            remembered = evolve(remembered, event, version, AT)
            for_reading = evolve(for_reading, event, version, AT, remember_changes=False)
    assert remembered is not None and for_reading is not None
    assert for_reading.to_json() == remembered.to_json()  # what anyone reads is the same
    assert remembered.touches and not for_reading.touches  # only what ``decide`` reads is left out
