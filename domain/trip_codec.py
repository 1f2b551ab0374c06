"""A trip's whole state as JSON and back, recent changes included: what a snapshot keeps.

``Trip.to_json`` is what clients see; a snapshot also needs ``touches`` (the
recent changes of each item, which ``decide`` reads to detect conflicts), so
that a trip loaded from a snapshot decides exactly as one folded from the log.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

from domain.chat_notes import ChatNote
from domain.trip_model import Activity, Constraint, Day, Touch, Trip

JSON = Any


def trip_to_snapshot(trip: Trip) -> dict[str, JSON]:
    state = trip.to_json()
    state["touches"] = {item: [[t.version, t.update_type] for t in touches] for item, touches in trip.touches.items()}
    if trip.chat_notes:
        state["chatNotes"] = {message_id: note.to_json() for message_id, note in trip.chat_notes.items()}
    return state


def trip_from_snapshot(state: dict[str, JSON]) -> Trip:
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
        item: tuple(Touch(version, kind) for version, kind in entries) for item, entries in state["touches"].items()
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
        MappingProxyType(touches),
        MappingProxyType({key: ChatNote.from_json(raw) for key, raw in state.get("chatNotes", {}).items()}),
    )


def trip_weight(trip: Trip) -> int:
    """About how many bytes of memory the trip's state takes (for a cache's budget)."""
    activities = sum(len(day.activities) for day in trip.days)
    touches = sum(len(entries) for entries in trip.touches.values())
    return (
        1200
        + 100 * len(trip.collaborators)
        + 500 * len(trip.days)
        + 900 * activities
        + 500 * len(trip.constraints)
        + 250 * len(trip.touches)
        + 120 * touches
        + sum(300 + len(note.message or "") for note in trip.chat_notes.values())
    )
