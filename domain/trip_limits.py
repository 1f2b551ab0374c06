"""How large a trip may grow: days, activities per day, constraints and bytes.

Checked on every command that grows a trip, before ``decide`` builds its event,
so that no collaborator can make a trip too large to send.  The byte limit is on
the trip as its snapshot carries it (``Trip.to_json`` as compact UTF-8 JSON), and
``config`` refuses to start unless a snapshot at this limit fits the outbound
queue of a connection: a trip at its limits is always joinable.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from domain.errors import CommandRefused, ErrorCode

if TYPE_CHECKING:  # the decider's types, for the annotations only (it imports this module)
    from domain.trip_decider import TripCommand
    from domain.trip_model import Day, Trip

ID_BYTES = 40  # ``"activityId":"<24 hex>",``: what an id the server assigns adds
CREATED_OVERHEAD = 200  # tripId, version, updatedAt and an empty constraints list
COLLABORATOR_BYTES = 27  # ``"<24 hex>",``
SNAPSHOT_ENVELOPE = 512  # the snapshot frame around the trip: event, tripId, updateType, version


@dataclass(frozen=True, slots=True)
class TripLimits:
    max_days: int = 366
    max_activities_per_day: int = 200
    max_constraints: int = 100
    max_bytes: int = 256 * 1024


DEFAULT_TRIP_LIMITS = TripLimits()


def json_bytes(value: Any) -> int:
    """The size of ``value`` as compact UTF-8 JSON, as frames carry it."""
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "surrogatepass"))


def trip_bytes(trip: Trip) -> int:
    """``json_bytes(trip.to_json())``, with each day measured once (a change measures its
    day again, not the whole trip): the rest, then the days and the commas between them."""
    days = trip.days
    total = json_bytes(trip.to_json(with_days=False)) + max(len(days) - 1, 0)
    for day in days:
        size = day.json_size
        total += size if size >= 0 else day_bytes(day)
    return total


def day_bytes(day: Day) -> int:
    if day.json_size < 0:
        # a memo of a pure function of the frozen day (the field is left out of equality)
        object.__setattr__(day, "json_size", json_bytes(day.to_json()))
    return day.json_size


def _refuse(field: str, message: str) -> CommandRefused:
    return CommandRefused(ErrorCode.VALIDATION_ERROR, f"{field}: {message}", {field: [message]})


@functools.cache
def _growing() -> tuple[type[Any], type[Any], tuple[type[Any], ...]]:
    """The commands that grow a trip: creating it, updating it, adding a collaborator.
    Imported on the first check, not at every one (an import statement costs about a
    microsecond even when the module is loaded): the decider imports this module."""
    from domain.trip_decider import AcceptInvite, AddCollaborator, CreateTrip, UpdateTrip

    return CreateTrip, UpdateTrip, (AddCollaborator, AcceptInvite)


def check_limits(state: Trip | None, command: TripCommand, limits: TripLimits) -> None:
    """Refuse ``command`` (VALIDATION_ERROR) when the trip it leaves would be over ``limits``."""
    created, updated, joined = _growing()
    if isinstance(command, created):
        _check_created(command, limits)
    elif state is None:
        return  # the decider says the trip is not found
    elif isinstance(command, updated):
        check_update_limits(state, command.update_type, command.data, limits)
    elif isinstance(command, joined):
        _check_bytes(state, COLLABORATOR_BYTES, limits)


def _check_created(command: Any, limits: TripLimits) -> None:
    days = command.days
    if len(days) > limits.max_days:
        raise _refuse("days", f"a trip holds at most {limits.max_days} days")
    for i, day in enumerate(days):
        if len(day.get("activities", ())) > limits.max_activities_per_day:
            raise _refuse(f"days.{i}.activities", f"a day holds at most {limits.max_activities_per_day} activities")
    size = (
        json_bytes([command.title, command.owner_id, list(command.collaborators), list(days)])
        + ID_BYTES * len(command.fresh_ids)
        + CREATED_OVERHEAD
    )
    if size > limits.max_bytes:
        raise _refuse("trip", f"a trip may be at most {limits.max_bytes} bytes")


def check_update_limits(state: Trip, update_type: str, data: dict[str, Any], limits: TripLimits) -> None:
    """Refuse an update (a client's, or what an undo would apply) that would take the trip past ``limits``."""
    match update_type:
        case "day_added":
            if len(state.days) >= limits.max_days:
                raise _refuse("day", f"a trip holds at most {limits.max_days} days")
        case "activity_added":
            day = state.day(data.get("dayId", ""))
            if day is not None and len(day.activities) >= limits.max_activities_per_day:
                raise _refuse("activity", f"a day holds at most {limits.max_activities_per_day} activities")
        case "constraint_added":
            if len(state.constraints) >= limits.max_constraints:
                raise _refuse("constraint", f"a trip holds at most {limits.max_constraints} constraints")
        case "activity_moved":
            day = state.day(data.get("toDayId", ""))
            if day is None or day.day_id == data.get("dayId") or day.find(data.get("activityId", "")) is not None:
                return
            if len(day.activities) >= limits.max_activities_per_day:
                raise _refuse("toDayId", f"a day holds at most {limits.max_activities_per_day} activities")
            return
        case "activity_updated" | "day_updated" | "constraint_updated":
            pass
        case _:
            return  # removals only shrink a trip
    _check_bytes(state, json_bytes(data) + ID_BYTES, limits)


def _check_bytes(state: Trip, growth: int, limits: TripLimits) -> None:
    if growth > limits.max_bytes or trip_bytes(state) + growth > limits.max_bytes:
        raise _refuse("trip", f"a trip may be at most {limits.max_bytes} bytes")
