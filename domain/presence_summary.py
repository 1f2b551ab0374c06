"""Presence changes of a large room, summed up (issue #14).

In a room of N members every ``user_joined`` or ``user_left`` is a frame to each of
them: a storm of J joins is J times N frames, so each join costs in proportion to the
room. Above a size the changes of a short interval are gathered here instead and go
out as one ``presence_summary`` frame: a join adds one entry (constant time), and
the summary's lists are capped, so what each member is sent per interval is bounded
too: the changes a summary leaves out start the next one, so every change is sent in
the end. Only the net change of each user is kept: one who joined and left within the
interval (or before its change was listed) is listed as left (and the other way round),
so a client applying the lists in any order ends where the room is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import islice
from typing import Any

JOINED = "user_joined"
LEFT = "user_left"
PRESENCE_EVENTS = frozenset({JOINED, LEFT})


@dataclass(slots=True)
class PresenceChanges:
    """One room's presence changes since its last summary, by user, in arrival order."""

    joined: dict[str, dict[str, Any]] = field(default_factory=dict)
    left: dict[str, dict[str, Any]] = field(default_factory=dict)

    def add(self, event: str, data: dict[str, Any]) -> None:
        """Note a ``user_joined`` or ``user_left`` signal's data (``tripId``, ``userId``, ...)."""
        user_id = data["userId"]
        entry = {key: value for key, value in data.items() if key != "tripId"}
        now, before = (self.joined, self.left) if event == JOINED else (self.left, self.joined)
        before.pop(user_id, None)
        now.pop(user_id, None)  # a user seen again moves to the end: the latest change is listed
        now[user_id] = entry

    def summary(self, trip_id: str, listed_max: int) -> tuple[dict[str, Any], PresenceChanges | None]:
        """The ``presence_summary`` data, at most ``listed_max`` users in each list (the first
        to change), and the changes it does not list (None: it lists them all).  Those go into
        the next summary, so that a client can rely on the lists alone: every change is sent,
        each frame stays bounded, and a user who changes again meanwhile is still listed once,
        as they are now.  ``joinedCount`` and ``leftCount`` count the users listed and those
        still to come in the next summaries."""
        data = {
            "tripId": trip_id,
            "joined": _first(self.joined, listed_max),
            "left": _first(self.left, listed_max),
            "joinedCount": len(self.joined),
            "leftCount": len(self.left),
        }
        if len(self.joined) <= listed_max and len(self.left) <= listed_max:
            return data, None
        rest = PresenceChanges(_after(self.joined, listed_max), _after(self.left, listed_max))
        return data, rest


def _first(entries: dict[str, dict[str, Any]], n: int) -> list[dict[str, Any]]:
    return list(islice(entries.values(), n))


def _after(entries: dict[str, dict[str, Any]], n: int) -> dict[str, dict[str, Any]]:
    """The entries after the first ``n``, in their order (what ``_first`` left out)."""
    return dict(islice(entries.items(), n, None))
