"""Session records in MongoDB (the ``SessionRecords`` port of ``eventlog/session_port.py``).

Collections ``sessions`` (``_id`` = session id), ``session_counts`` (``_id`` =
day) and ``leases`` (``_id`` = lease name), in the log's database.  Every save
is conditional on ``position`` (an upsert that meets a newer document fails on
``_id``: "already as new", ignored), so writes from several nodes, late or
twice, never move a record back.  Indexes are made on open (idempotent).
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

from pymongo import ASCENDING, AsyncMongoClient, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

from eventlog.mongo_store import (
    DEFAULT_DATABASE,
    DEFAULT_SERVER_SELECTION_TIMEOUT_MS,
    duplicated_key,
    translated,
    url_sets,
)
from eventlog.ports import StoreUnavailable
from eventlog.session_port import CONNECTED, DISCONNECTED, SessionQuery, SessionRecord

Document = dict[str, Any]

SESSIONS = "sessions"
COUNTS = "session_counts"
LEASES = "leases"
CHOICES = "presence_choices"


def _record(doc: Document) -> SessionRecord:
    return SessionRecord(
        session_id=doc["_id"],
        user_id=doc["userId"],
        node=doc["node"],
        connection_time=doc["connectionTime"],
        last_activity=doc["lastActivity"],
        ip=doc.get("ip", ""),
        user_agent=doc.get("userAgent", ""),
        rooms=tuple(doc.get("rooms", ())),
        status=doc["status"],
        disconnected_at=doc.get("disconnectedAt"),
        close_code=doc.get("closeCode"),
        position=doc["position"],
    )


def _upsert(s: SessionRecord) -> tuple[Document, Document]:
    """The filter and update that keep ``s`` unless a later record is stored (``position``)."""
    fields = {
        "node": s.node,
        "lastActivity": s.last_activity,
        "rooms": list(s.rooms),
        "status": s.status,
        "disconnectedAt": s.disconnected_at,
        "closeCode": s.close_code,
        "position": s.position,
    }
    return (
        {"_id": s.session_id, "position": {"$lt": s.position}},
        {
            "$set": fields,
            "$setOnInsert": {
                "userId": s.user_id,
                "connectionTime": s.connection_time,
                "ip": s.ip,
                "userAgent": s.user_agent,
                "blanked": False,
            },
        },
    )


class MongoSessionRecords:
    def __init__(self, url: str, *, database: str | None = None, **client_options: Any) -> None:
        self._url = url
        self._database_name = database
        self._client_options = dict(client_options)
        if not url_sets(url, "serverSelectionTimeoutMS"):
            self._client_options.setdefault("serverSelectionTimeoutMS", DEFAULT_SERVER_SELECTION_TIMEOUT_MS)
        self._client: AsyncMongoClient[Document] | None = None
        self._db: AsyncDatabase[Document] | None = None

    def _database(self) -> AsyncDatabase[Document]:
        if self._db is None:
            raise StoreUnavailable("the session records are closed")
        return self._db

    async def open(self) -> None:
        with translated():
            self._client = AsyncMongoClient(self._url, **self._client_options)
            if self._database_name is not None:
                self._db = self._client[self._database_name]
            else:
                self._db = self._client.get_default_database(DEFAULT_DATABASE)
            sessions = self._db[SESSIONS]
            # nx-27017 cannot index ``_id`` within a compound index: the sort's tie-break is not indexed
            await sessions.create_index([("connectionTime", ASCENDING)], name="time")
            await sessions.create_index([("userId", ASCENDING), ("connectionTime", ASCENDING)], name="user_time")
            await sessions.create_index([("status", ASCENDING), ("node", ASCENDING)], name="status_node")

    async def save(self, session: SessionRecord) -> None:
        await self.save_many((session,))

    async def save_many(self, sessions: Sequence[SessionRecord]) -> None:
        if not sessions:
            return
        writes = [UpdateOne(*_upsert(s), upsert=True) for s in sessions]
        with translated():
            try:
                await self._database()[SESSIONS].bulk_write(writes, ordered=False)
            except BulkWriteError as error:
                # a stored record newer than ours makes its upsert a duplicate insert: kept, as ``save`` does
                details = error.details
                others = [e for e in details.get("writeErrors", []) if duplicated_key(e) is None]
                if others or details.get("writeConcernErrors"):
                    raise

    async def touch(self, session_id: str, at: str) -> None:
        with translated():
            await self._database()[SESSIONS].update_one({"_id": session_id}, {"$max": {"lastActivity": at}})

    async def get(self, session_id: str) -> SessionRecord | None:
        with translated():
            doc = await self._database()[SESSIONS].find_one({"_id": session_id})
        return None if doc is None else _record(doc)

    async def find(self, query: SessionQuery) -> list[SessionRecord]:
        base: Document = {}
        if query.user_id is not None:
            base["userId"] = query.user_id
        if query.status is not None:
            base["status"] = query.status
        upper: Document = {"$lt": query.until} if query.until is not None else {}
        order = [("connectionTime", ASCENDING), ("_id", ASCENDING)]
        sessions = self._database()[SESSIONS]
        found: list[Document] = []
        with translated():
            if query.after is None:
                lower: Document = {"$gte": query.since} if query.since is not None else {}
            else:
                # the previous page's last time (its later sessions), then later times: two disjoint
                # queries rather than one ``$or``, which nx-27017 widens beyond its siblings
                at, session_id = query.after
                since_ok = query.since is None or at >= query.since
                if since_ok and (query.until is None or at < query.until):
                    ties = {**base, "connectionTime": at, "_id": {"$gt": session_id}}
                    found = await sessions.find(ties).sort(order).limit(query.limit).to_list(None)
                lower = {"$gt": at} if since_ok else {"$gte": query.since}
            span = {**lower, **upper}
            rest = {**base, "connectionTime": span} if span else base
            left = query.limit - len(found)
            if left > 0:
                found += await sessions.find(rest).sort(order).limit(left).to_list(None)
        return [_record(doc) for doc in found]

    async def connected_nodes(self) -> set[str]:
        with translated():
            nodes = await self._database()[SESSIONS].distinct("node", {"status": CONNECTED})
        return {str(node) for node in nodes}

    async def connected_on(self, node: str) -> list[SessionRecord]:
        with translated():
            cursor = self._database()[SESSIONS].find({"status": CONNECTED, "node": node}).sort("_id", ASCENDING)
            return [_record(doc) for doc in await cursor.to_list(None)]

    async def blank_personal(self, before: str) -> int:
        # a flag rather than ``ip != "" or userAgent != ""``: nx-27017 widens an ``$or`` beyond its siblings
        with translated():
            result = await self._database()[SESSIONS].update_many(
                {"connectionTime": {"$lt": before}, "blanked": False},
                {"$set": {"ip": "", "userAgent": "", "blanked": True}},
            )
        return result.modified_count

    async def compact(self, before: str) -> int:
        where = {"status": DISCONNECTED, "disconnectedAt": {"$lt": before}}
        db = self._database()
        compacted = 0
        with translated():
            # one page at a time, each counted then deleted by id: a crash in between counts
            # a page twice at worst, never drops one uncounted
            while True:
                page = await db[SESSIONS].find(where, {"connectionTime": 1}).limit(500).to_list(None)
                if not page:
                    return compacted
                per_day: dict[str, int] = {}
                for doc in page:
                    day = str(doc["connectionTime"])[:10]
                    per_day[day] = per_day.get(day, 0) + 1
                for day, count in per_day.items():
                    await db[COUNTS].update_one({"_id": day}, {"$inc": {"sessions": count}}, upsert=True)
                result = await db[SESSIONS].delete_many({"_id": {"$in": [doc["_id"] for doc in page]}})
                compacted += result.deleted_count

    async def counts(self) -> dict[str, int]:
        with translated():
            docs = await self._database()[COUNTS].find({}).sort("_id", ASCENDING).to_list(None)
        return {doc["_id"]: int(doc["sessions"]) for doc in docs}

    async def take_lease(self, name: str, holder: str, now: str, until: str) -> bool:
        with translated():
            try:
                await self._database()[LEASES].update_one(
                    {"_id": name, "$or": [{"until": {"$lt": now}}, {"holder": holder}]},
                    {"$set": {"holder": holder, "until": until}},
                    upsert=True,
                )
            except DuplicateKeyError:
                return False  # held by another, not expired
            doc = await self._database()[LEASES].find_one({"_id": name})
        return doc is not None and doc.get("holder") == holder

    async def save_hidden(self, user_id: str, hidden: bool, position: int) -> None:
        with translated(), contextlib.suppress(DuplicateKeyError):  # a later choice is kept already
            await self._database()[CHOICES].update_one(
                {"_id": user_id, "position": {"$lt": position}},
                {"$set": {"hidden": hidden, "position": position}},
                upsert=True,
            )

    async def hidden(self, user_id: str) -> bool:
        with translated():
            doc = await self._database()[CHOICES].find_one({"_id": user_id})
        return doc is not None and bool(doc.get("hidden"))

    async def close(self) -> None:
        client, self._client, self._db = self._client, None, None
        if client is not None:
            await client.close()
