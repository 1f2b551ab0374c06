"""What one change costs the decider on a big trip: ``decide`` then ``evolve`` (the
lane's state), and the read side's fold of the same record (``TripStates.apply``:
the event from its JSON, ``evolve``, the cache's weighing), in µs per change.

    python -m bench.update_cost                      # trips of 20, 200 and 2,000 activities
    python -m bench.update_cost --activities 2000 --rounds 7

A trip is built the way planners build one (days, then each activity added), so
every item carries its marks and recent changes.  Each change is decided on the
same trip every time (nothing accumulates); the figure is the median of the
rounds' means.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

from domain.trip_decider import Actor, CreateTrip, UpdateTrip, decide, evolve
from domain.trip_events import event_to_json
from domain.trip_model import Trip
from eventlog.records import new_record
from projections.trips import TripStates

TRIP = "b" * 24
PLANNERS = ("0" * 23 + "1", "0" * 23 + "2")
AT = "2026-12-01T10:00:00.000Z"
PER_DAY = 20
OPERATIONS = ("update", "move", "add", "remove")


def _id(kind: int, n: int) -> str:
    return f"{kind:x}{n:023x}"


def build(activities: int) -> Trip:
    days = max(1, activities // PER_DAY)
    raw_days = tuple({"dayId": _id(0xD, d), "date": f"2027-{1 + d // 28:02d}-{1 + d % 28:02d}"} for d in range(days))
    state: Trip | None = None
    commands: list[Any] = [CreateTrip(TRIP, "Bench", PLANNERS[0], PLANNERS[1:], raw_days, ())]
    for n in range(activities):
        day = _id(0xD, n % days)
        activity = {"activityId": _id(0xA, n), "title": f"Stop {n}", "startTime": "09:00", "endTime": "10:00"}
        commands.append(
            UpdateTrip(Actor(PLANNERS[n % 2]), "activity_added", {"dayId": day, "activity": activity}, None, ())
        )
    for command in commands:
        actor = command.actor.user_id if isinstance(command, UpdateTrip) else PLANNERS[0]
        (event,) = decide(state, command)
        state = evolve(state, event, (state.version if state else 0) + 1, AT, by=actor)
    assert state is not None
    return state


def command(state: Trip, operation: str, n: int) -> UpdateTrip:
    """The change: to an activity in the middle of the trip, by the planner who did not add it."""
    middle = len(state.days) // 2
    day = state.days[middle]
    target = day.activities[len(day.activities) // 2].activity_id
    actor = Actor(PLANNERS[1])
    match operation:
        case "update":
            data = {"dayId": day.day_id, "activityId": target, "changes": {"title": f"Renamed {n}"}}
            return UpdateTrip(actor, "activity_updated", data, None, ())
        case "move":
            other = state.days[(middle + 1) % len(state.days)].day_id
            data = {"dayId": day.day_id, "activityId": target, "toDayId": other, "toIndex": 0}
            return UpdateTrip(actor, "activity_moved", data, None, ())
        case "add":
            data = {"dayId": day.day_id, "activity": {"activityId": _id(0xE, n), "title": "New stop"}}
            return UpdateTrip(actor, "activity_added", data, None, ())
        case "remove":
            return UpdateTrip(actor, "activity_removed", {"dayId": day.day_id, "activityId": target}, None, ())
    raise ValueError(operation)


def decide_and_evolve(state: Trip, operation: str) -> Callable[[int], None]:
    def once(n: int) -> None:
        events = decide(state, command(state, operation, n))
        evolve(state, events[0], state.version + 1, AT, by=PLANNERS[1])

    return once


def read_side_fold(state: Trip, operation: str) -> Callable[[int], None]:
    (event,) = decide(state, command(state, operation, 0))
    record = new_record(
        record_id="c" * 24,
        at=AT,
        source="ws",
        outcome="accepted",
        user_id=PLANNERS[1],
        command="trip_update",
        events=(event_to_json(event),),
        stream=TRIP,
        version=state.version + 1,
    )

    def once(n: int) -> None:
        states = TripStates(weigh=True)
        states.seed(TRIP, state, state.version)
        states.apply(record)

    return once


def per_change_us(run: Callable[[int], None], rounds: int, budget: float = 0.2) -> float:
    run(0)
    start, count = time.perf_counter(), 0
    while time.perf_counter() - start < budget / 4:
        run(count)
        count += 1
    means = []
    for _ in range(rounds):
        start = time.perf_counter()
        for n in range(count):
            run(n)
        means.append((time.perf_counter() - start) / count * 1e6)
    return statistics.median(means)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--activities", type=int, nargs="*", default=[20, 200, 2000])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    print(f"{'activities':>10} {'change':>7} {'decide+evolve µs':>17} {'read-side fold µs':>18}")
    for activities in args.activities:
        state = build(activities)
        for operation in OPERATIONS:
            lane = per_change_us(decide_and_evolve(state, operation), args.rounds)
            fold = per_change_us(read_side_fold(state, operation), args.rounds)
            print(f"{activities:>10} {operation:>7} {lane:>17.1f} {fold:>18.1f}", flush=True)


if __name__ == "__main__":
    main()
