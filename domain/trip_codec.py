"""A trip's whole state as JSON and back, recent changes included: what a snapshot keeps.

``Trip.to_json`` is what clients see; a snapshot also needs ``touches`` (the
recent changes of each item, which ``decide`` reads to detect conflicts), so
that a trip loaded from a snapshot decides exactly as one folded from the log.
"""

from __future__ import annotations

from sys import intern
from types import MappingProxyType
from typing import Any

from domain.chat_notes import ChatNote
from domain.shared_map import SharedMap
from domain.trip_model import Activity, Constraint, Day, FieldMark, Removal, Touch, Trip, UndoStep, places_of

JSON = Any


def trip_to_snapshot(trip: Trip) -> dict[str, JSON]:
    state = trip.to_json()
    state["touches"] = {item: [[t.version, t.update_type] for t in touches] for item, touches in trip.touches.items()}
    state["marks"] = {
        item: {name: [m.version, m.by] for name, m in marks.items()} for item, marks in trip.marks.items()
    }
    state["removed"] = [[item, r.version, r.by] for item, r in trip.removed.items()]
    state["undoSteps"] = {user: [_step_json(s) for s in steps] for user, steps in trip.undo_steps.items()}
    state["redoSteps"] = {user: [_step_json(s) for s in steps] for user, steps in trip.redo_steps.items()}
    if trip.chat_notes:
        state["chatNotes"] = {message_id: note.to_json() for message_id, note in trip.chat_notes.items()}
    if trip.invite_epoch:
        state["inviteEpoch"] = trip.invite_epoch
    return state


def _step_json(step: UndoStep) -> list[JSON]:
    return [step.version, step.update_type, step.data, [list(pair) for pair in step.fields]]


def _step(raw: list[JSON]) -> UndoStep:
    fields = tuple((intern(item), intern(name)) for item, name in raw[3])
    return UndoStep(raw[0], intern(raw[1]), _shared(raw[2]), fields)


def _shared(value: JSON) -> JSON:
    """``value`` with its short strings (ids, kinds, times) shared: a step's data repeats them."""
    if isinstance(value, str):
        return intern(value) if len(value) <= 64 else value
    if isinstance(value, list):
        return [_shared(item) for item in value]
    if isinstance(value, dict):
        return {intern(key): _shared(item) for key, item in value.items()}
    return value


def _steps(raw: dict[str, JSON]) -> MappingProxyType[str, tuple[UndoStep, ...]]:
    return MappingProxyType({user: tuple(_step(s) for s in steps) for user, steps in raw.items()})


def trip_from_snapshot(state: dict[str, JSON]) -> Trip:
    # Every mark names its writer, every touch and undo step its kind and items: a state folded
    # from events shares those strings, a decoded snapshot would hold a copy of each (134 against
    # 101 KiB a trip; bench/snapshot_memory.py), so they are shared again as the snapshot is read.
    days = tuple(
        Day(
            raw["dayId"],
            raw["date"],
            raw.get("title"),
            tuple(Activity.build(a["activityId"], a) for a in raw.get("activities", ())),
        )
        for raw in state["days"]
    )
    constraints = tuple(
        Constraint(raw["constraintId"], raw["type"], raw["value"], raw.get("description"))
        for raw in state["constraints"]
    )
    touches = {
        item: tuple(Touch(version, intern(kind)) for version, kind in entries)
        for item, entries in state["touches"].items()
    }
    return Trip(
        state["tripId"],
        state["title"],
        state["ownerId"],
        tuple(state["collaborators"]),
        days,
        constraints,
        state["version"],
        state["updatedAt"],
        SharedMap(touches),
        SharedMap(
            (item, MappingProxyType({name: FieldMark(v, _shared(by)) for name, (v, by) in marks.items()}))
            for item, marks in state.get("marks", {}).items()
        ),
        MappingProxyType({item: Removal(v, by) for item, v, by in state.get("removed", ())}),
        _steps(state.get("undoSteps", {})),
        _steps(state.get("redoSteps", {})),
        places_of(days),
        MappingProxyType({key: ChatNote.from_json(raw) for key, raw in state.get("chatNotes", {}).items()}),
        state.get("inviteEpoch", 0),
    )


def trip_weight(trip: Trip) -> int:
    """About how many bytes of memory the trip's state takes (for a cache's budget):
    counted per day, not per item (the maps keep their entry counts as they change),
    so that weighing a trip after each change does not cost in proportion to it."""
    activities = sum(len(day.activities) for day in trip.days)
    return (
        1200
        + 100 * len(trip.collaborators)
        + 500 * len(trip.days)
        + 900 * activities
        + 500 * len(trip.constraints)
        + 250 * len(trip.touches)
        + 120 * trip.touches.volume
        + 150 * trip.marks.volume
        + 60 * len(trip.places)
        + 120 * len(trip.removed)
        + 600 * sum(len(steps) for steps in (*trip.undo_steps.values(), *trip.redo_steps.values()))
        + sum(300 + len(note.message or "") for note in trip.chat_notes.values())
    )
