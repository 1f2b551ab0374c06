"""The trip as the read side and the decider see it: frozen values only."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from domain.chat_notes import ChatNote
from domain.shared_map import SharedMap

JSON = Any

ACTIVITY_KEYS = ("title", "startTime", "endTime", "location", "notes", "cost")

# How many recent changes each item remembers for conflict detection.
TOUCH_HISTORY = 16
# How many removed item ids a trip remembers (older ones read as never having existed).
REMOVED_MEMORY = 512
# How many of each person's changes can be undone (and redone).
UNDO_DEPTH = 20
DAY_KEYS = ("title", "date")
CONSTRAINT_KEYS = ("type", "value", "description")
POSITION = "position"  # the pseudo-field a move sets: an activity's day and place in it


@dataclass(frozen=True, slots=True)
class Activity:
    activity_id: str
    fields: tuple[tuple[str, JSON], ...]  # (name, value) in ACTIVITY_KEYS order

    def to_json(self) -> dict[str, JSON]:
        return {"activityId": self.activity_id, **dict(self.fields)}

    @staticmethod
    def build(activity_id: str, values: dict[str, JSON]) -> Activity:
        return Activity(activity_id, tuple((k, values[k]) for k in ACTIVITY_KEYS if k in values))

    def changed(self, changes: dict[str, JSON]) -> Activity:
        """The activity with ``changes``; a None value unsets its field (only undo asks that)."""
        merged = {**dict(self.fields), **changes}
        return Activity.build(self.activity_id, {k: v for k, v in merged.items() if v is not None})

    def value(self, name: str) -> JSON:
        return dict(self.fields).get(name)


@dataclass(frozen=True, slots=True)
class Day:
    day_id: str
    date: str
    title: str | None
    activities: tuple[Activity, ...] = ()
    # the size of ``to_json()`` as compact JSON, once measured (-1: not yet): a change
    # to one day measures that day again, not the trip (``trip_limits.trip_bytes``)
    json_size: int = field(default=-1, compare=False, repr=False)

    def to_json(self) -> dict[str, JSON]:
        out: dict[str, JSON] = {"dayId": self.day_id, "date": self.date}
        if self.title is not None:
            out["title"] = self.title
        out["activities"] = [a.to_json() for a in self.activities]
        return out

    def find(self, activity_id: str) -> Activity | None:
        return next((a for a in self.activities if a.activity_id == activity_id), None)


@dataclass(frozen=True, slots=True)
class Constraint:
    constraint_id: str
    type: str
    value: JSON
    description: str | None

    def to_json(self) -> dict[str, JSON]:
        out: dict[str, JSON] = {"constraintId": self.constraint_id, "type": self.type, "value": self.value}
        if self.description is not None:
            out["description"] = self.description
        return out


@dataclass(frozen=True, slots=True)
class Touch:
    version: int
    update_type: str


@dataclass(frozen=True, slots=True)
class FieldMark:
    """Which change last set a field of an item: its version and its author (None: unknown)."""

    version: int
    by: str | None


@dataclass(frozen=True, slots=True)
class Removal:
    """An item that was removed: by whom, at which version (a later reference to it is stale)."""

    version: int
    by: str | None


@dataclass(frozen=True, slots=True)
class UndoStep:
    """What undoes (or redoes) one change of a person: the update that reverts it, the
    version of the change, and the (item, field) pairs it set (someone else's later
    change to one of them makes the step conflict)."""

    version: int
    update_type: str
    data: dict[str, JSON]
    fields: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Trip:
    trip_id: str
    title: str
    owner_id: str
    collaborators: tuple[str, ...]
    days: tuple[Day, ...]
    constraints: tuple[Constraint, ...]
    version: int
    updated_at: str
    # item id -> its most recent changes, newest last (never sent to clients)
    touches: SharedMap[str, tuple[Touch, ...]] = field(default_factory=SharedMap)
    # item id -> field -> the change that last set it (per-field merge; never sent to clients)
    marks: SharedMap[str, Mapping[str, FieldMark]] = field(default_factory=SharedMap)
    # item id -> its removal, the newest REMOVED_MEMORY (tells a stale reference from a bad one)
    removed: Mapping[str, Removal] = field(default_factory=lambda: MappingProxyType({}))
    # user id -> the steps that undo their latest changes, newest last (and the redo steps)
    undo_steps: Mapping[str, tuple[UndoStep, ...]] = field(default_factory=lambda: MappingProxyType({}))
    redo_steps: Mapping[str, tuple[UndoStep, ...]] = field(default_factory=lambda: MappingProxyType({}))
    # activity id -> the id of its day (derived from ``days``: finds an activity without a scan)
    places: SharedMap[str, str] = field(default_factory=SharedMap)
    # message id -> its note, for messages edited or deleted since posted (never sent whole to clients)
    chat_notes: Mapping[str, ChatNote] = field(default_factory=lambda: MappingProxyType({}))
    # how many times the invites were revoked (a collaborator removed, or by the owner): an invite
    # carries the epoch it was made in and works only while it is still the trip's (never sent)
    invite_epoch: int = 0

    def to_json(self, *, with_days: bool = True) -> dict[str, JSON]:
        return {
            "tripId": self.trip_id,
            "title": self.title,
            "ownerId": self.owner_id,
            "collaborators": list(self.collaborators),
            "days": [d.to_json() for d in self.days] if with_days else [],
            "constraints": [c.to_json() for c in self.constraints],
            "version": self.version,
            "updatedAt": self.updated_at,
        }

    def day(self, day_id: str) -> Day | None:
        return next((d for d in self.days if d.day_id == day_id), None)

    def constraint(self, constraint_id: str) -> Constraint | None:
        return next((c for c in self.constraints if c.constraint_id == constraint_id), None)

    def has_activity(self, activity_id: str) -> bool:
        return self.find_activity(activity_id) is not None

    def find_activity(self, activity_id: str) -> tuple[Day, int] | None:
        """The day holding the activity and its index there."""
        day_id = self.places.get(activity_id)
        day = self.day(day_id) if day_id is not None else None
        if day is None:
            return None
        for index, activity in enumerate(day.activities):
            if activity.activity_id == activity_id:
                return day, index
        return None

    def mark(self, item_id: str, name: str) -> FieldMark | None:
        marks = self.marks.get(item_id)
        return marks.get(name) if marks is not None else None

    def touches_of(self, item_id: str) -> tuple[Touch, ...]:
        return self.touches.get(item_id, ())

    def is_member(self, user_id: str) -> bool:
        return user_id == self.owner_id or user_id in self.collaborators


def places_of(days: tuple[Day, ...]) -> SharedMap[str, str]:
    """activity id -> its day's id, for ``Trip.places``."""
    return SharedMap((activity.activity_id, day.day_id) for day in days for activity in day.activities)


def can_view(trip: Trip, user_id: str, is_admin: bool) -> bool:
    return is_admin or trip.is_member(user_id)


def can_manage(trip: Trip, user_id: str, is_admin: bool) -> bool:
    return is_admin or user_id == trip.owner_id
