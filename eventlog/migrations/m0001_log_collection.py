"""The ``log`` and ``counters`` collections, the log's validator and its indexes.

Uniqueness lives in partial indexes that cover only documents holding the
field: the store leaves ``stream``/``version``/``idempotencyKey`` out of a
document when they are null, so a real MongoDB indexes only versioned records
for ``(stream, version)`` and only keyed records for ``idempotencyKey``.
``$exists: true`` is used rather than ``$type`` because every MongoDB-compatible
server that supports partial indexes accepts it.  nx-27017 ignores
``partialFilterExpression`` (and index names) but still works: its unique
indexes are SQLite indexes, where any NULL or missing key never collides.
"""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import CollectionInvalid, OperationFailure

NAMESPACE_EXISTS = 48

LOG_VALIDATOR: dict[str, Any] = {
    "$jsonSchema": {
        "bsonType": "object",
        "required": ["_id", "recordId", "at", "command", "outcome", "position"],
        "properties": {
            "recordId": {"bsonType": "string"},
            "at": {"bsonType": "string"},
            "command": {"bsonType": "string"},
            "outcome": {"bsonType": "string"},
            "position": {"bsonType": ["int", "long"]},
            "stream": {"bsonType": "string"},
            "version": {"bsonType": ["int", "long"]},
            "idempotencyKey": {"bsonType": "string"},
        },
    }
}


async def create_collection(db: AsyncDatabase[dict[str, Any]], name: str, **options: Any) -> None:
    if name in await db.list_collection_names():
        return
    try:
        await db.create_collection(name, **options)
    except CollectionInvalid:
        pass  # created by someone else between the check and the create
    except OperationFailure as exc:
        if exc.code != NAMESPACE_EXISTS:
            raise


async def up(db: AsyncDatabase[dict[str, Any]]) -> None:
    await create_collection(db, "log", validator=LOG_VALIDATOR)
    await create_collection(db, "counters")
    log = db["log"]
    await log.create_index(
        [("stream", ASCENDING), ("version", ASCENDING)],
        name="stream_version",
        unique=True,
        partialFilterExpression={"version": {"$exists": True}},
    )
    await log.create_index(
        [("idempotencyKey", ASCENDING)],
        name="idempotency_key",
        unique=True,
        partialFilterExpression={"idempotencyKey": {"$exists": True}},
    )
    await log.create_index([("position", ASCENDING)], name="position", unique=True)
    await log.create_index([("tripId", ASCENDING), ("position", ASCENDING)], name="trip_position")
    await log.create_index([("userId", ASCENDING), ("position", ASCENDING)], name="user_position")
    await log.create_index([("command", ASCENDING), ("position", ASCENDING)], name="command_position")
