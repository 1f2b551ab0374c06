"""Telling the people whose values a change replaces (pure).

Whoever is in the trip's room sees the broadcast (which names what a change
replaced and whose it was).  A member who is not, and whose value a change
replaces (an edit, a move, a removal of an item they set, an undo, redo or
restore that reverts their change), is told by a notification that rides in the
change's record: stored, listed over REST, pushed to their connections.  Each
notification names who changed which field of which item, from what to what.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from domain import trip_collab as collab
from domain.trip_events import (
    ActivityMoved,
    ActivityRemoved,
    ActivityUpdated,
    ChangeNotified,
    ConstraintRemoved,
    ConstraintUpdated,
    DayRemoved,
    DayUpdated,
    Reverted,
    TripRestored,
    TripUpdated,
    update_type,
)
from domain.trip_model import JSON, POSITION, Trip

# How many field entries one notification lists (a restore may change a whole trip);
# ``more`` counts the rest.
NOTICE_ENTRIES = 20


@dataclass(frozen=True, slots=True)
class Audience:
    """What the shell looks up so that ``decide`` can tell people outside the room: a
    fresh id naming the change (its notifications' ids derive from it) and who is in
    the room as it is made (None: nobody)."""

    change_id: str
    present: frozenset[str] | None


Entry = dict[str, JSON]


def notification_id(message_id: str, user_id: str) -> str:
    """A notification's id, derived from its message (or change) and recipient so that
    deciding needs no fresh ids: the message id's time prefix, then a digest (24 hex
    digits, an ObjectId's shape, ordered by time like one)."""
    return message_id[:8] + hashlib.blake2b(f"{message_id}:{user_id}".encode(), digest_size=8).hexdigest()


def replaced_notices(
    state: Trip,
    change: TripUpdated,
    actor: str,
    actor_name: str | None,
    audience: Audience | None,
    target: Trip | None = None,
) -> tuple[ChangeNotified, ...]:
    """A notification for each member but ``actor``, not in the room, whose values
    ``change`` (decided on ``state``; ``target``: a restore's trip) replaces."""
    if audience is None:
        return ()
    reverts = change.kind if isinstance(change, Reverted) else None
    effect = change.effect if isinstance(change, Reverted) else change
    if isinstance(effect, TripRestored):
        reverts = "restore"
    by_user: dict[str, list[Entry]] = {}
    for user, entry in _entries(state, effect, target):
        if user is None or user == actor or not state.is_member(user):
            continue
        if audience.present is not None and user in audience.present:
            continue
        by_user.setdefault(user, []).append(entry)
    version = state.version + 1
    return tuple(
        ChangeNotified(
            notification_id(audience.change_id, user),
            user,
            state.trip_id,
            version,
            update_type(change),
            actor,
            actor_name,
            reverts,
            tuple(entries[:NOTICE_ENTRIES]),
            max(0, len(entries) - NOTICE_ENTRIES),
        )
        for user, entries in by_user.items()
    )


def _entries(state: Trip, effect: TripUpdated, target: Trip | None) -> Iterator[tuple[str | None, Entry]]:
    """(whose value it was, the entry) for each replaced field."""
    match effect:
        case (
            ActivityUpdated(_, item_id, changes, replaced)
            | DayUpdated(item_id, changes, replaced)
            | ConstraintUpdated(item_id, changes, replaced)
        ):
            yield from _field_entries(item_id, changes, replaced)
        case ActivityMoved(day_id, activity_id, from_index, to_day_id, to_index):
            mark = state.mark(activity_id, POSITION)
            if mark is not None:
                place = {"dayId": day_id, "index": from_index}
                to = {"dayId": to_day_id, "index": to_index}
                yield mark.by, _entry(activity_id, POSITION, place, to, mark.version)
        case ActivityRemoved(_, item_id) | ConstraintRemoved(item_id):
            yield from _removed_entries(state, item_id, _values_of(state, item_id))
        case DayRemoved(day_id):
            day = state.day(day_id)
            if day is not None:
                yield from _removed_entries(state, day_id, collab.day_values(day))
                for activity in day.activities:
                    yield from _removed_entries(state, activity.activity_id, collab.activity_values(activity))
        case TripRestored():
            if target is not None:
                yield from _restored_entries(state, target)


def _field_entries(
    item_id: str, changes: Mapping[str, JSON], replaced: Mapping[str, JSON] | None
) -> Iterator[tuple[str | None, Entry]]:
    for name, was in (replaced or {}).items():
        yield was.get("by"), _entry(item_id, name, was.get("value"), changes.get(name), was.get("version"))


def _removed_entries(state: Trip, item_id: str, values: Mapping[str, JSON]) -> Iterator[tuple[str | None, Entry]]:
    for name, mark in state.marks.get(item_id, {}).items():
        if name != POSITION:
            yield mark.by, {**_entry(item_id, name, values.get(name), None, mark.version), "removed": True}


def _values_of(state: Trip, item_id: str) -> dict[str, JSON]:
    found = state.find_activity(item_id)
    if found is not None:
        return collab.activity_values(found[0].activities[found[1]])
    constraint = state.constraint(item_id)
    return collab.constraint_values(constraint) if constraint is not None else {}


def _restored_entries(state: Trip, target: Trip) -> Iterator[tuple[str | None, Entry]]:
    now, then = collab.item_values(state), collab.item_values(target)
    for item_id, (values, place) in now.items():
        if item_id not in then:
            yield from _removed_entries(state, item_id, values)
            continue
        was_values, was_place = then[item_id]
        for name, mark in state.marks.get(item_id, {}).items():
            if name == POSITION:
                if place is not None and was_place is not None and place != was_place:
                    at, to = {"dayId": place[0], "index": place[1]}, {"dayId": was_place[0], "index": was_place[1]}
                    yield mark.by, _entry(item_id, POSITION, at, to, mark.version)
            elif values.get(name) != was_values.get(name):
                yield mark.by, _entry(item_id, name, values.get(name), was_values.get(name), mark.version)


def _entry(item_id: str, name: str, before: JSON, after: JSON, version: int | None) -> Entry:
    entry: Entry = {"itemId": item_id, "field": name}
    if before is not None:
        entry["from"] = before
    if after is not None:
        entry["to"] = after
    entry["yourVersion"] = version
    return entry
