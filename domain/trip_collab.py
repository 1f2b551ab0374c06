"""Planning together: per-field merge, stale references, undo steps (pure).

Each field of each item remembers the change that last set it (``FieldMark``:
version and author).  ``decide`` reads the marks to refuse a change to a field
someone else set after the client's ``baseVersion`` and to say what a change
replaced; ``evolve`` keeps them, the removed item ids, and each person's undo
and redo steps, all folded from the log like the rest of the state.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from itertools import chain
from types import MappingProxyType

from domain.errors import CommandRefused, ErrorCode, invalid
from domain.frozen import replacer
from domain.trip_events import (
    ActivityAdded,
    ActivityMoved,
    ActivityRemoved,
    ActivityUpdated,
    CollaboratorAdded,
    CollaboratorRemoved,
    ConstraintAdded,
    ConstraintRemoved,
    ConstraintUpdated,
    DayAdded,
    DayRemoved,
    DayUpdated,
    InvitesRevoked,
    PlanChange,
    Reverted,
    TripRestored,
    TripUpdated,
)
from domain.trip_model import (
    CONSTRAINT_KEYS,
    DAY_KEYS,
    JSON,
    POSITION,
    REMOVED_MEMORY,
    UNDO_DEPTH,
    Activity,
    Constraint,
    Day,
    FieldMark,
    Removal,
    Trip,
    UndoStep,
)

_replace = replacer(Trip)

# decide: what a change replaces, and when it conflicts ---------------------------


def missing_item(state: Trip, item_id: str, field: str, what: str) -> CommandRefused:
    """An update names an item the trip does not hold: CONFLICT when it was removed
    (naming who removed it and at which version), VALIDATION_ERROR when it never existed."""
    removal = state.removed.get(item_id)
    if removal is None:
        return invalid(field, f"no such {what} in this trip")
    return CommandRefused(
        ErrorCode.CONFLICT,
        f"that {what} was removed at version {removal.version}",
        {
            "currentVersion": state.version,
            "conflictsWith": [f"{what}_removed"],
            "removed": {"itemId": item_id, "by": removal.by, "version": removal.version},
        },
    )


def check_fields(
    state: Trip, item_id: str, current: Mapping[str, JSON], names: Iterable[str], base: int | None, user_id: str
) -> None:
    """Refuse (CONFLICT) when someone else set one of ``names`` of the item after ``base``."""
    if base is None:
        return
    clashes: dict[str, JSON] = {}
    for name in names:
        mark = state.mark(item_id, name)
        if mark is not None and mark.version > base and mark.by != user_id:
            clashes[name] = {
                "theirValue": current.get(name),
                "by": mark.by,
                "version": mark.version,
                "currentValue": current.get(name),
            }
    if clashes:
        kinds = sorted({t.update_type for t in state.touches_of(item_id) if t.version > base})
        raise CommandRefused(
            ErrorCode.CONFLICT,
            f"someone else changed {', '.join(sorted(clashes))} since baseVersion",
            {"currentVersion": state.version, "conflictsWith": kinds, "itemId": item_id, "fields": clashes},
        )


def replaced_values(
    state: Trip, item_id: str, current: Mapping[str, JSON], changes: Mapping[str, JSON]
) -> dict[str, JSON]:
    """What each change replaces: the value it had (absent: unset), whose, at which version."""
    replaced: dict[str, JSON] = {}
    for name, value in changes.items():
        before = current.get(name)
        if before == value:
            continue
        mark = state.mark(item_id, name)
        entry: dict[str, JSON] = {"by": mark.by if mark else None, "version": mark.version if mark else None}
        if before is not None or name in current:
            entry["value"] = before
        replaced[name] = entry
    return replaced


def current_values(state: Trip, update_type: str, data: Mapping[str, JSON]) -> dict[str, JSON] | None:
    """The present values of the item an ``*_updated`` change names (None: no such item, or
    not a field change)."""
    match update_type:
        case "activity_updated":
            found = state.find_activity(str(data.get("activityId")))
            return activity_values(found[0].activities[found[1]]) if found is not None else None
        case "day_updated":
            day = state.day(str(data.get("dayId")))
            return day_values(day) if day is not None else None
        case "constraint_updated":
            constraint = state.constraint(str(data.get("constraintId")))
            return constraint_values(constraint) if constraint is not None else None
    return None


def activity_values(activity: Activity) -> dict[str, JSON]:
    return dict(activity.fields)


def day_values(day: Day) -> dict[str, JSON]:
    values: dict[str, JSON] = {"date": day.date}
    if day.title is not None:
        values["title"] = day.title
    return values


def constraint_values(constraint: Constraint) -> dict[str, JSON]:
    values: dict[str, JSON] = {"type": constraint.type, "value": constraint.value}
    if constraint.description is not None:
        values["description"] = constraint.description
    return values


def undo_clash(state: Trip, step: UndoStep, user_id: str, items: Iterable[str]) -> CommandRefused | None:
    """Someone else changed a field the step would revert (or of an item it would remove)
    after the change it undoes: the step would revert their work."""
    pairs = list(step.fields) + [(item, name) for item in items for name in state.marks.get(item, {})]
    for item, name in pairs:
        mark = state.mark(item, name)
        if mark is not None and mark.version > step.version and mark.by != user_id:
            return CommandRefused(
                ErrorCode.CONFLICT,
                f"someone else changed {name} since your change at version {step.version}",
                {
                    "currentVersion": state.version,
                    "conflictsWith": [step.update_type],
                    "itemId": item,
                    "fields": {name: {"by": mark.by, "version": mark.version}},
                },
            )
    return None


# evolve: marks, removals, undo steps --------------------------------------------


def _item_fields(event_item: Mapping[str, JSON], keys: Iterable[str]) -> list[str]:
    return [k for k in keys if k in event_item]


def _activity_fields(activity: Mapping[str, JSON]) -> list[str]:
    return [k for k in activity if k != "activityId"]  # in the event's order: a set's changes with the hash seed


class _Book:
    """The marks and removals of one evolve step: the marks share what did not change
    (``SharedMap``); the removals, a few hundred at most, are copied once they change.

    Past ``REMOVED_MEMORY`` the oldest removal is forgotten in constant time: the removals
    are walked once per step in the order they were made (the state's, then the step's),
    passing over those made again or taken back since.  Not the copy's first entry:
    ``next(iter(d))`` skips every entry deleted before it until the dict is compacted, a
    cost that grows with the bound (at 512 the dict's spare room keeps it small:
    bench/RESULTS.md)."""

    def __init__(self, state: Trip, version: int, by: str | None) -> None:
        self.marks = state.marks
        self.removed: Mapping[str, Removal] = state.removed
        self._before = state.removed  # never changed: the step changes its copy
        self._removed_copy: dict[str, Removal] | None = None
        self._made: list[tuple[str, Removal]] = []  # the removals of this step, in order
        self._oldest: Iterator[tuple[str, Removal]] | None = None
        self.version, self.by = version, by

    def set(self, item_id: str, names: Iterable[str]) -> None:
        mark = FieldMark(self.version, self.by)
        self.marks = self.marks.set(
            item_id, MappingProxyType({**self.marks.get(item_id, {}), **{n: mark for n in names}})
        )
        if item_id in self.removed:
            self._removals().pop(item_id, None)

    def drop(self, item_id: str) -> None:
        self.marks = self.marks.without(item_id)
        removed = self._removals()
        removed.pop(item_id, None)
        removal = removed[item_id] = Removal(self.version, self.by)
        self._made.append((item_id, removal))
        if len(removed) > REMOVED_MEMORY:
            self._forget_oldest(removed)

    def _forget_oldest(self, removed: dict[str, Removal]) -> None:
        if self._oldest is None:
            self._oldest = chain(self._before.items(), self._made)  # follows what is made after
        for item_id, removal in self._oldest:
            if removed.get(item_id) is removal:
                del removed[item_id]
                return

    def _removals(self) -> dict[str, Removal]:
        if self._removed_copy is None:
            self._removed_copy = dict(self.removed)
            self.removed = MappingProxyType(self._removed_copy)
        return self._removed_copy

    def add_day(self, raw: Mapping[str, JSON]) -> None:
        self.set(raw["dayId"], _item_fields(raw, DAY_KEYS))
        for activity in raw.get("activities", ()):
            self.set(activity["activityId"], [*_activity_fields(activity), POSITION])


def book_created(trip: Trip, days: Iterable[Mapping[str, JSON]], version: int, by: str | None) -> Trip:
    """A new trip, each field of its days and activities marked as its creator's."""
    book = _Book(trip, version, by)
    for raw in days:
        book.add_day(raw)
    return _with_books(trip, book, trip.undo_steps, trip.redo_steps)


def book_change(before: Trip, after: Trip, event: TripUpdated, version: int, by: str | None) -> Trip:
    """``after`` with the marks, removals and undo steps ``event`` leaves."""
    book = _Book(before, version, by)
    _mark(book, before, after, event)
    undo, redo = _steps(before, event, version, by)
    return _with_books(after, book, undo, redo)


def _with_books(
    trip: Trip,
    book: _Book,
    undo: Mapping[str, tuple[UndoStep, ...]],
    redo: Mapping[str, tuple[UndoStep, ...]],
) -> Trip:
    return _replace(
        trip,
        marks=book.marks,
        removed=book.removed,
        undo_steps=undo,
        redo_steps=redo,
    )


def _mark(book: _Book, before: Trip, after: Trip, event: TripUpdated) -> None:
    match event:
        case DayAdded(raw):
            book.add_day(raw)
        case DayRemoved(day_id):
            gone = before.day(day_id)
            for activity in gone.activities if gone else ():
                book.drop(activity.activity_id)
            book.drop(day_id)
        case ActivityAdded(_, raw):
            book.set(raw["activityId"], [*_activity_fields(raw), POSITION])
        case ActivityUpdated(_, activity_id, changes):
            book.set(activity_id, changes)
        case ActivityRemoved(_, activity_id):
            book.drop(activity_id)
        case ConstraintAdded(raw):
            book.set(raw["constraintId"], _item_fields(raw, CONSTRAINT_KEYS))
        case ConstraintRemoved(constraint_id):
            book.drop(constraint_id)
        case DayUpdated(day_id, changes):
            book.set(day_id, changes)
        case ConstraintUpdated(constraint_id, changes):
            book.set(constraint_id, changes)
        case ActivityMoved(_, activity_id):
            book.set(activity_id, [POSITION])
        case Reverted(_, _, effect):
            _mark(book, before, after, effect)
        case TripRestored():
            _mark_restored(book, before, after)


def item_values(trip: Trip) -> dict[str, tuple[dict[str, JSON], tuple[str, int] | None]]:
    """item id -> (its fields, its place for an activity)."""
    items: dict[str, tuple[dict[str, JSON], tuple[str, int] | None]] = {}
    for day in trip.days:
        items[day.day_id] = (day_values(day), None)
        for index, activity in enumerate(day.activities):
            items[activity.activity_id] = (activity_values(activity), (day.day_id, index))
    for constraint in trip.constraints:
        items[constraint.constraint_id] = (constraint_values(constraint), None)
    return items


def _mark_restored(book: _Book, before: Trip, after: Trip) -> None:
    # Every walk here is in the trips' own order, never a set's: a set of strings iterates in
    # an order that changes with each process's hash seed, and every node must fold the same state.
    old, new = item_values(before), item_values(after)
    for item_id in old:
        if item_id not in new:
            book.drop(item_id)
    for item_id, (values, place) in new.items():
        was_values, was_place = old.get(item_id, ({}, None))
        names = [*values, *(n for n in was_values if n not in values)]
        changed = [n for n in names if values.get(n) != was_values.get(n)]
        if place is not None and place != was_place:
            changed.append(POSITION)
        if changed or item_id not in old:
            book.set(item_id, changed)


def _steps(
    before: Trip, event: TripUpdated, version: int, by: str | None
) -> tuple[Mapping[str, tuple[UndoStep, ...]], Mapping[str, tuple[UndoStep, ...]]]:
    undo, redo = before.undo_steps, before.redo_steps
    if isinstance(event, TripRestored):
        return MappingProxyType({}), MappingProxyType({})  # a restore starts every history afresh
    if by is None or isinstance(event, CollaboratorAdded | CollaboratorRemoved | InvitesRevoked):
        return undo, redo
    if isinstance(event, Reverted):
        step = inverse(before, event.effect, version)
        if event.kind == "undo":
            return _pop(undo, by), _push(redo, by, step)
        return _push(undo, by, step), _pop(redo, by)
    step = inverse(before, event, version)
    return _push(undo, by, step), _pop(redo, by, everything=True)


def _push(
    stacks: Mapping[str, tuple[UndoStep, ...]], user: str, step: UndoStep | None
) -> Mapping[str, tuple[UndoStep, ...]]:
    if step is None:
        return stacks
    return MappingProxyType({**stacks, user: (*stacks.get(user, ()), step)[-UNDO_DEPTH:]})


def _pop(
    stacks: Mapping[str, tuple[UndoStep, ...]], user: str, *, everything: bool = False
) -> Mapping[str, tuple[UndoStep, ...]]:
    if not stacks.get(user):
        return stacks
    rest = () if everything else stacks[user][:-1]
    out = {**stacks, user: rest}
    if not rest:
        del out[user]
    return MappingProxyType(out)


def inverse(before: Trip, event: PlanChange, version: int) -> UndoStep | None:
    """The update that reverts ``event`` (applied to ``before``), as a step."""
    match event:
        case DayAdded(raw):
            return UndoStep(version, "day_removed", {"dayId": raw["dayId"]}, ())
        case DayRemoved(day_id):
            day = before.day(day_id)
            return UndoStep(version, "day_added", {"day": day.to_json()}, ()) if day else None
        case ActivityAdded(day_id, raw):
            return UndoStep(version, "activity_removed", {"dayId": day_id, "activityId": raw["activityId"]}, ())
        case ActivityRemoved(_, activity_id):
            found = before.find_activity(activity_id)
            if found is None:
                return None
            day, index = found
            activity = day.activities[index].to_json()
            return UndoStep(version, "activity_added", {"dayId": day.day_id, "activity": activity, "index": index}, ())
        case ActivityUpdated(_, activity_id, changes):
            found = before.find_activity(activity_id)
            if found is None:
                return None
            day, index = found
            old = activity_values(day.activities[index])
            return UndoStep(
                version,
                "activity_updated",
                {"dayId": day.day_id, "activityId": activity_id, "changes": {n: old.get(n) for n in changes}},
                tuple((activity_id, n) for n in changes),
            )
        case ActivityMoved(day_id, activity_id, from_index, to_day_id):
            data = {"dayId": to_day_id, "activityId": activity_id, "toDayId": day_id, "toIndex": from_index}
            return UndoStep(version, "activity_moved", data, ((activity_id, POSITION),))
        case DayUpdated(day_id, changes):
            found_day = before.day(day_id)
            if found_day is None:
                return None
            old = day_values(found_day)
            data = {"dayId": day_id, "changes": {n: old.get(n) for n in changes}}
            return UndoStep(version, "day_updated", data, tuple((day_id, n) for n in changes))
        case ConstraintAdded(raw):
            return UndoStep(version, "constraint_removed", {"constraintId": raw["constraintId"]}, ())
        case ConstraintRemoved(constraint_id):
            constraint = before.constraint(constraint_id)
            return (
                UndoStep(version, "constraint_added", {"constraint": constraint.to_json()}, ()) if constraint else None
            )
        case ConstraintUpdated(constraint_id, changes):
            found_constraint = before.constraint(constraint_id)
            if found_constraint is None:
                return None
            old = constraint_values(found_constraint)
            data = {"constraintId": constraint_id, "changes": {n: old.get(n) for n in changes}}
            return UndoStep(version, "constraint_updated", data, tuple((constraint_id, n) for n in changes))
    return None


def removed_by(step: UndoStep, state: Trip) -> list[str]:
    """The items a step would remove (someone else's later change to one of them is a clash)."""
    match step.update_type:
        case "day_removed":
            day = state.day(step.data["dayId"])
            return [step.data["dayId"], *(a.activity_id for a in (day.activities if day else ()))]
        case "activity_removed":
            return [step.data["activityId"]]
        case "constraint_removed":
            return [step.data["constraintId"]]
    return []
