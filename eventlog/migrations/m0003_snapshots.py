"""Trip snapshots (``snapshots``) and the index chat pages are read through.

A snapshot is one document per stream and version (unique), of which the store
keeps the newest.  Chat pages are read from ``log`` by ``(stream, version)``
among the records whose stream event is a chat message, and a message found by
its id within its stream.
"""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.database import AsyncDatabase

from eventlog.migrations.m0001_log_collection import create_collection


async def up(db: AsyncDatabase[dict[str, Any]]) -> None:
    await create_collection(db, "snapshots")
    snapshots = db["snapshots"]
    await snapshots.create_index([("stream", ASCENDING), ("version", DESCENDING)], name="stream_version", unique=True)
    await db["log"].create_index(
        [("stream", ASCENDING), ("events.data.messageId", ASCENDING)],
        name="stream_message",
        partialFilterExpression={"events.type": "chat_message"},
    )
