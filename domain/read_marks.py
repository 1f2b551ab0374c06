"""How far a member has read a trip's chat: a mark that only moves forward.

A mark is kept per user and trip, outside the trip's stream (reading is no change to
the trip, and nobody else in the room needs to hear of it); the record that moves it
carries one ``chat_read`` event, and its user's devices are told.
"""

from __future__ import annotations

from typing import Any

from domain.errors import CommandRefused, ErrorCode, invalid
from domain.trip_model import Trip, can_view

CHAT_READ = "chat_read"


def decide_read(trip: Trip | None, user_id: str, is_admin: bool, seq: int, current: int) -> dict[str, Any]:
    """The ``chat_read`` event for marking the trip's chat read up to ``seq`` (the stream position
    of the newest message read); a mark never moves back, so an older ``seq`` keeps ``current``."""
    if trip is None:
        raise CommandRefused(ErrorCode.TRIP_NOT_FOUND, "trip not found")
    if not can_view(trip, user_id, is_admin):
        raise CommandRefused(ErrorCode.FORBIDDEN, "you have no access to this trip")
    if seq > trip.version:
        raise invalid("seq", f"is ahead of the trip's seq {trip.version}")
    return {"type": CHAT_READ, "data": {"tripId": trip.trip_id, "userId": user_id, "seq": max(seq, current)}}
