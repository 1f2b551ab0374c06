"""The read model collections ``trips``, ``chat_messages`` and ``notifications`` and their indexes.

Written by ``eventlog/mongo_read_models.py``.  ``trips`` needs only ``_id``;
chat history is read per trip in ``seq`` order, notifications per user newest
last.
"""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from eventlog.migrations.m0001_log_collection import create_collection


async def up(db: AsyncDatabase[dict[str, Any]]) -> None:
    for name in ("trips", "chat_messages", "notifications"):
        await create_collection(db, name)
    await db["chat_messages"].create_index([("tripId", ASCENDING), ("seq", ASCENDING)], name="trip_seq")
    await db["notifications"].create_index([("userId", ASCENDING), ("createdAt", ASCENDING)], name="user_created_at")
