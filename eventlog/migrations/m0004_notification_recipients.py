"""The indexes one user's notifications are read through (``EventStore.read_notifications``).

A record notifies the users named by its ``notification_created`` and
``notification_read`` events (``eventlog/notices.py``): one partial index per
event type on ``(events.data.userId, position)``, so that only those records
are indexed (equality is the partial filter every MongoDB with partial indexes
takes; chat records also carry ``events.data.userId``).  Building them indexes
the records already in the log: the backfill.
"""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from eventlog.notices import NOTIFICATION_EVENTS


async def up(db: AsyncDatabase[dict[str, Any]]) -> None:
    for kind in NOTIFICATION_EVENTS:
        await db["log"].create_index(
            [("events.data.userId", ASCENDING), ("position", ASCENDING)],
            name=f"{kind}_user_position",
            partialFilterExpression={"events.type": kind},
        )
