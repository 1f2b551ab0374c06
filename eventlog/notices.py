"""Who a record notifies: the users whose notifications its events create or mark read.

Stores keep an index of these recipients, written with the record, so that one
user's notifications are read by recipient (``EventStore.read_notifications``)
instead of folded from the whole log.  The event names are the wire names of
``domain/trip_events.py``; any command may carry them.
"""

from __future__ import annotations

from collections.abc import Iterable

from eventlog.records import JSON

NOTIFICATION_EVENTS = ("notification_created", "notification_read")


def recipients(events: Iterable[JSON]) -> list[str]:
    """The distinct users the events create a notification for or mark one of theirs read, in order."""
    found: list[str] = []
    for event in events:
        if not isinstance(event, dict) or event.get("type") not in NOTIFICATION_EVENTS:
            continue
        data = event.get("data")
        user = data.get("userId") if isinstance(data, dict) else None
        if isinstance(user, str) and user not in found:
            found.append(user)
    return found
