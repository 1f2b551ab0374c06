"""The trip as the read side and the decider see it: frozen values only."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from domain.chat_notes import ChatNote

JSON = Any

ACTIVITY_KEYS = ("title", "startTime", "endTime", "location", "notes", "cost")

# How many recent changes each item remembers for conflict detection.
TOUCH_HISTORY = 16


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
        return Activity.build(self.activity_id, {**dict(self.fields), **changes})


@dataclass(frozen=True, slots=True)
class Day:
    day_id: str
    date: str
    title: str | None
    activities: tuple[Activity, ...] = ()

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
    touches: Mapping[str, tuple[Touch, ...]] = field(default_factory=lambda: MappingProxyType({}))
    # message id -> its note, for messages edited or deleted since posted (never sent whole to clients)
    chat_notes: Mapping[str, ChatNote] = field(default_factory=lambda: MappingProxyType({}))

    def to_json(self) -> dict[str, JSON]:
        return {
            "tripId": self.trip_id,
            "title": self.title,
            "ownerId": self.owner_id,
            "collaborators": list(self.collaborators),
            "days": [d.to_json() for d in self.days],
            "constraints": [c.to_json() for c in self.constraints],
            "version": self.version,
            "updatedAt": self.updated_at,
        }

    def day(self, day_id: str) -> Day | None:
        return next((d for d in self.days if d.day_id == day_id), None)

    def constraint(self, constraint_id: str) -> Constraint | None:
        return next((c for c in self.constraints if c.constraint_id == constraint_id), None)

    def has_activity(self, activity_id: str) -> bool:
        return any(day.find(activity_id) is not None for day in self.days)

    def touches_of(self, item_id: str) -> tuple[Touch, ...]:
        return self.touches.get(item_id, ())

    def is_member(self, user_id: str) -> bool:
        return user_id == self.owner_id or user_id in self.collaborators


def can_view(trip: Trip, user_id: str, is_admin: bool) -> bool:
    return is_admin or trip.is_member(user_id)


def can_manage(trip: Trip, user_id: str, is_admin: bool) -> bool:
    return is_admin or user_id == trip.owner_id
