"""Several planners editing one trip at once, at random, through the real decider,
pipeline and SQLite store (in process): no accepted edit ever vanishes silently.

Each example runs rounds of concurrent commands (field edits with and without
``baseVersion``, moves, removals, adds, undos and redos) from three people, then
reads the log back and checks, change by change:

* every change that overwrote a live field's value says so in its event
  (``replaced``: the previous value, who set it and at which version), and the
  only other way a value goes is its item's removal, which is itself broadcast:
  so an accepted edit is in the final state or its author and the person it
  replaced were told;
* an undo or redo never reverts a field (or removes an item) someone else set
  after the change it reverts;
* the final state the service holds equals a fold of the log (marks and undo
  steps included), and ``replay`` and ``verify`` hold over the log;
* nothing is refused but with CONFLICT or VALIDATION_ERROR.
"""

from __future__ import annotations

import asyncio
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analysts.replay import replay
from analysts.verify import verify
from domain.errors import CommandRefused, ErrorCode
from domain.trip_codec import trip_to_snapshot
from domain.trip_decider import Actor, CreateTrip, UndoChange, UpdateTrip
from domain.trip_events import (
    ActivityAdded,
    ActivityMoved,
    ActivityRemoved,
    ActivityUpdated,
    ConstraintRemoved,
    ConstraintUpdated,
    DayRemoved,
    DayUpdated,
    Reverted,
    TripUpdated,
    event_from_json,
)
from domain.trip_model import POSITION, Trip
from domain.trip_notices import Audience
from eventlog.records import LogRecord
from eventlog.sqlite_store import SqliteEventStore
from projections.read_side import ReadSide
from projections.trips import TripStates
from service.clock import SystemClock
from service.ids import ObjectIdFactory
from service.pipeline import Origin, Pipeline, Request

TRIP = "650000000000000000000100"
PEOPLE = ("650000000000000000000001", "650000000000000000000002", "650000000000000000000003")
DAYS = ("6500000000000000000000d1", "6500000000000000000000d2")
FIRST_ACTIVITIES = ("6500000000000000000000a1", "6500000000000000000000a2", "6500000000000000000000a3")
CONSTRAINT = "6500000000000000000000c1"
IN_ROOM = frozenset({PEOPLE[2]})  # the third planner is always in the room; the others never
CHANGE_IDS = ObjectIdFactory()


class Quiet:
    async def committed(self, record: LogRecord) -> None:
        return None


@dataclass(frozen=True)
class Op:
    who: int
    kind: str  # edit, edit_day, edit_constraint, move, remove, add, undo, redo
    item: int = 0
    field: str = "title"
    value: str = "x"
    target: int = 0
    index: int = 0
    with_base: bool = False


texts = st.sampled_from(["A", "B", "C", "D"])
ops = st.one_of(
    st.builds(
        Op,
        who=st.integers(0, 2),
        kind=st.just("edit"),
        item=st.integers(0, 5),
        field=st.sampled_from(["title", "notes", "location"]),
        value=texts,
        with_base=st.booleans(),
    ),
    st.builds(Op, who=st.integers(0, 2), kind=st.just("edit_day"), target=st.integers(0, 1), value=texts),
    st.builds(Op, who=st.integers(0, 2), kind=st.just("edit_constraint"), value=texts, with_base=st.booleans()),
    st.builds(
        Op,
        who=st.integers(0, 2),
        kind=st.just("move"),
        item=st.integers(0, 5),
        target=st.integers(0, 1),
        index=st.integers(0, 3),
        with_base=st.booleans(),
    ),
    st.builds(Op, who=st.integers(0, 2), kind=st.just("remove"), item=st.integers(0, 5)),
    st.builds(Op, who=st.integers(0, 2), kind=st.just("add"), target=st.integers(0, 1), value=texts),
    st.builds(Op, who=st.integers(0, 2), kind=st.sampled_from(["undo", "redo"])),
    st.builds(Op, who=st.integers(0, 2), kind=st.sampled_from(["undo", "redo"])),  # undo and redo more often
)
rounds = st.lists(st.lists(ops, min_size=1, max_size=4), min_size=1, max_size=8)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rounds)
def test_concurrent_planners_never_lose_an_edit_silently(plan: list[list[Op]]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        asyncio.run(scenario(Path(folder) / "events.db", plan))


async def scenario(path: Path, plan: list[list[Op]]) -> None:
    store = SqliteEventStore(str(path))
    await store.open()
    try:
        read_side = ReadSide(store)
        pipeline = Pipeline(store, read_side, Quiet(), SystemClock(), ObjectIdFactory())
        await create(pipeline)
        activities = list(FIRST_ACTIVITIES)
        for number, round_ in enumerate(plan):
            seen = await read_side.trip(TRIP)
            assert seen is not None
            await asyncio.gather(
                *(submit(pipeline, seen, op, activities, f"{number}-{i}") for i, op in enumerate(round_))
            )
        live = await read_side.trip(TRIP)
        assert live is not None
        records = await store.read_stream(TRIP)
        check_log(records, live)
        assert (await replay(store)).equal
        assert (await verify(store)).intact
    finally:
        await store.close()


async def create(pipeline: Pipeline) -> None:
    days = tuple(
        {"dayId": day, "date": f"2026-12-0{n + 4}", "activities": [{"activityId": a, "title": "T"} for a in acts]}
        for n, (day, acts) in enumerate(zip(DAYS, (FIRST_ACTIVITIES[:2], FIRST_ACTIVITIES[2:]), strict=True))
    )
    origin = Origin("rest", PEOPLE[0], "user")
    await pipeline.run(
        Request(origin, "create_trip", {}, trip_id=TRIP), CreateTrip(TRIP, "Lisbon", PEOPLE[0], PEOPLE[1:], days, ())
    )
    constraint = {"constraintId": CONSTRAINT, "type": "pace", "value": "slow"}
    command = UpdateTrip(Actor(PEOPLE[0]), "constraint_added", {"constraint": constraint}, None, ())
    await pipeline.run(Request(origin, "trip_update", {}, trip_id=TRIP), command)


def command_of(op: Op, seen: Trip, activities: list[str], ref: str) -> UpdateTrip | UndoChange:
    actor = Actor(PEOPLE[op.who])
    audience = Audience(CHANGE_IDS(), IN_ROOM)
    base = seen.version if op.with_base else None
    activity = activities[op.item % len(activities)]
    found = seen.find_activity(activity)
    day = found[0].day_id if found is not None else DAYS[0]
    match op.kind:
        case "edit":
            data = {"dayId": day, "activityId": activity, "changes": {op.field: op.value}}
            return UpdateTrip(actor, "activity_updated", data, base, (), audience)
        case "edit_day":
            return UpdateTrip(
                actor, "day_updated", {"dayId": DAYS[op.target], "changes": {"title": op.value}}, None, (), audience
            )
        case "edit_constraint":
            data = {"constraintId": CONSTRAINT, "changes": {"value": op.value}}
            return UpdateTrip(actor, "constraint_updated", data, base, (), audience)
        case "move":
            data = {"dayId": day, "activityId": activity, "toDayId": DAYS[op.target], "toIndex": op.index}
            return UpdateTrip(actor, "activity_moved", data, base, (), audience)
        case "remove":
            return UpdateTrip(actor, "activity_removed", {"dayId": day, "activityId": activity}, None, (), audience)
        case "add":
            new_id = f"{0x650000000000000000001000 + len(activities):024x}"
            activities.append(new_id)
            data = {"dayId": DAYS[op.target], "activity": {"activityId": new_id, "title": op.value}}
            return UpdateTrip(actor, "activity_added", data, None, (), audience)
    return UndoChange(actor, op.kind, audience)


async def submit(pipeline: Pipeline, seen: Trip, op: Op, activities: list[str], ref: str) -> None:
    command = command_of(op, seen, activities, ref)
    name = command.kind if isinstance(command, UndoChange) else "trip_update"
    request = Request(Origin("ws", PEOPLE[op.who], "user", "s"), name, {}, ref, TRIP)
    try:
        await (await pipeline.submit(request, command)).outcome
    except CommandRefused as refused:
        assert refused.code in (ErrorCode.CONFLICT, ErrorCode.VALIDATION_ERROR), refused
        if refused.code is ErrorCode.VALIDATION_ERROR and op.kind in ("edit", "move", "remove"):
            assert refused.details is None or "activityId" not in refused.details  # only ever-existing ids are sent


# the checks, over the log ---------------------------------------------------------------------------


Values = dict[tuple[str, str], Any]


def field_values(trip: Trip | None) -> Values:
    """(item id, field) -> value of every live field (a move's ``position`` as (day, index))."""
    values: Values = {}
    for day in trip.days if trip else ():
        values[(day.day_id, "date")] = day.date
        if day.title is not None:
            values[(day.day_id, "title")] = day.title
        for index, activity in enumerate(day.activities):
            for name, value in activity.fields:
                values[(activity.activity_id, name)] = value
            values[(activity.activity_id, POSITION)] = (day.day_id, index)
    for constraint in trip.constraints if trip else ():
        values[(constraint.constraint_id, "type")] = constraint.type
        values[(constraint.constraint_id, "value")] = constraint.value
        if constraint.description is not None:
            values[(constraint.constraint_id, "description")] = constraint.description
    return values


def items(values: Values) -> set[str]:
    return {item for item, _ in values}


def field_change(event: TripUpdated) -> tuple[str, dict[str, Any], dict[str, Any] | None] | None:
    """(item id, changes, replaced) of a field change."""
    effect = event.effect if isinstance(event, Reverted) else event
    match effect:
        case ActivityUpdated(_, activity_id, changes, replaced):
            return activity_id, changes, replaced
        case DayUpdated(day_id, changes, replaced) | ConstraintUpdated(day_id, changes, replaced):
            return day_id, changes, replaced
    return None


def check_log(records: list[LogRecord], live: Trip) -> None:
    states = TripStates()
    setters: dict[
        tuple[str, str], tuple[int | None, str | None]
    ] = {}  # (item, field) -> (version, author) of its value
    for record in records:
        before = field_values(states.get(TRIP))
        states.apply(record)
        after = field_values(states.get(TRIP))
        event = event_from_json(record.stream_event)
        if record.version == 1 or not isinstance(event, TripUpdated):
            for key in after:
                setters[key] = (record.version or 0, record.user_id)
            continue
        assert record.version is not None
        by = record.user_id
        change = field_change(event)
        if isinstance(event, Reverted):
            check_undo(event, by, change, setters, before)
        check_notices(record, event, change, setters)
        gone = items(before) - items(after)
        for key in after.keys() | before.keys():
            item, name = key
            if before.get(key) == after.get(key) or item in gone:
                continue  # unchanged, or its item was removed (a broadcast removal)
            if item not in items(before):
                continue  # a new (or re-added) item
            if name == POSITION:
                continue  # moves and the places of the others around it
            # a live value changed: the event must say what it replaced, and whose it was
            assert change is not None and change[0] == item, (record.version, key)
            replaced = change[2]
            assert replaced is not None and name in replaced, (record.version, key, replaced)
            previous_version, previous_author = setters.get(key, (None, None))  # (None, None): it had no value
            assert replaced[name]["by"] == previous_author, (record.version, key, replaced, setters[key])
            assert replaced[name]["version"] == previous_version, (record.version, key, replaced, setters[key])
            assert replaced[name].get("value") == before.get(key)
        for key in after:
            if key[0] not in items(before):
                setters[key] = (record.version, by)  # a new item: its every field
        for name in change[1] if change is not None else ():
            setters[(change[0], name)] = (record.version, by)  # set (or unset) by this change
        effect = event.effect if isinstance(event, Reverted) else event
        if isinstance(effect, ActivityMoved):
            setters[(effect.activity_id, POSITION)] = (record.version, by)
        if isinstance(effect, ActivityAdded):
            setters[(effect.activity["activityId"], POSITION)] = (record.version, by)
        for key in list(setters):
            if key[0] in gone:
                del setters[key]
    folded = states.get(TRIP)
    assert folded is not None
    assert trip_to_snapshot(folded) == trip_to_snapshot(live)  # the service's state is a fold of its log


def check_notices(
    record: LogRecord,
    event: TripUpdated,
    change: tuple[str, dict[str, Any], dict[str, Any] | None] | None,
    setters: dict[tuple[str, str], tuple[int | None, str | None]],
) -> None:
    """Whoever a field change or a move replaced is told, unless in the room or its author."""
    told: dict[str, set[tuple[str, str]]] = {}
    for note in record.events[1:]:
        assert note["type"] == "notification_created" and note["data"]["kind"] == "change_replaced"
        told[note["data"]["userId"]] = {(e["itemId"], e["field"]) for e in note["data"]["changes"]}
    assert record.user_id not in told and not IN_ROOM & told.keys(), (record.version, told)
    replaced: list[tuple[str | None, tuple[str, str]]] = []
    if change is not None:
        replaced = [(was["by"], (change[0], name)) for name, was in (change[2] or {}).items()]
    effect = event.effect if isinstance(event, Reverted) else event
    if isinstance(effect, ActivityMoved):
        key = (effect.activity_id, POSITION)
        replaced = [(setters.get(key, (None, None))[1], key)]
    for author, key in replaced:
        if author is not None and author != record.user_id and author not in IN_ROOM:
            assert key in told.get(author, set()), (record.version, author, key, told)


def removed_items(effect: ActivityRemoved | ConstraintRemoved | DayRemoved, before: Values) -> set[str]:
    match effect:
        case ActivityRemoved(_, activity_id):
            return {activity_id}
        case ConstraintRemoved(constraint_id):
            return {constraint_id}
        case DayRemoved(day_id):
            return {day_id} | {
                item for (item, name), value in before.items() if name == POSITION and value[0] == day_id
            }


def check_undo(
    event: Reverted,
    by: str | None,
    change: tuple[str, dict[str, Any], dict[str, Any] | None] | None,
    setters: dict[tuple[str, str], tuple[int | None, str | None]],
    before: Values,
) -> None:
    """An undo or redo reverts only what nobody else set after the change it reverts."""
    touched: list[tuple[str, str]] = []
    if change is not None:
        touched = [(change[0], name) for name in change[1]]
    elif isinstance(event.effect, ActivityMoved):
        touched = [(event.effect.activity_id, POSITION)]
    elif isinstance(event.effect, ActivityRemoved | ConstraintRemoved | DayRemoved):
        removed_ids = removed_items(event.effect, before)
        touched = [key for key in before if key[0] in removed_ids]
    for key in touched:
        if key not in setters:
            continue
        version, author = setters[key]
        assert version is None or version <= event.of_version or author == by, (event, key, setters[key])
