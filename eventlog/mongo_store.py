"""The event log in MongoDB, on PyMongo's native async client.

Semantics match the SQLite adapter; only the mechanisms differ:

* **Versions.** A unique index on ``(stream, version)`` decides races: the
  insert of a taken version fails with a duplicate-key error, which becomes
  ``VersionConflict``.  A unique index on ``idempotencyKey`` gives
  ``DuplicateCommand``.  Nothing relies on multi-document transactions (a
  standalone mongod has none), on ObjectId order or on timestamps.
* **Nulls.** ``stream``, ``version`` and ``idempotencyKey`` are left out of a
  document when they are null, and both unique indexes are partial on
  ``$exists: true`` (see ``eventlog/migrations/m0001_log_collection.py``).  So a real
  MongoDB never indexes, and never rejects, the many records without them.
  nx-27017, the wire-protocol server the tests run on, ignores
  ``partialFilterExpression``. It is still correct there, because its unique
  indexes are SQLite indexes, where a NULL or missing key never collides.
* **Positions.** Positions come from a counter document in ``counters``. One
  ``$inc`` of N reserves a block of N for a batch. Failed inserts leave gaps,
  but no position is ever given twice (``position`` also has a unique index).
  Within one store, positions increase in append order, because batches are
  written one after another.  Across several processes a batch that reserved
  lower positions may become visible after a later one: a reader that follows
  the log by position must not assume that what lies below the highest
  position it saw is complete.
* **Group commit.** Concurrent ``append`` calls are coalesced into one
  ``insert_many(ordered=False)`` holding at most one record per stream. Each
  write error is mapped back to its own record; a failed stream record fails
  the records of its stream queued behind it (``EventStore.enqueue``).  A future resolves only after
  the server acknowledged the insert under the client's write concern. Set it
  in the URL (``?w=majority&journal=true``) when acknowledgement must mean
  durable on a replica set.
* **Hash chain.** Each record is linked into its chain (``eventlog/chain.py``)
  before the batch is inserted; a stream record whose predecessor another
  process wrote reads that predecessor's hash first (by ``(stream, version)``).
  A record that fails starts a new writer chain, and a batch whose outcome is
  unknown makes the store forget what it knew of its chains.
* **Errors.** No server found, or the connection lost before the insert was
  sent: ``StoreUnavailable``, nothing was sent, and every queued record fails at
  once.  If the connection drops during an insert, the records of the batch are
  looked up: those found were written and are reported so, the others fail with
  ``StoreUnavailable``; if even the lookup fails, with a ``StoreError`` that says
  the outcome is unknown (resend with the same ref).  While a batch is looked up,
  every other append fails at once with ``StoreUnavailable`` (nothing of it sent):
  none waits for the server to come back.  Any other driver error becomes
  ``StoreError``.

The schema (collections, validator, indexes) is made by ``eventlog/migrations/``. ``open()``
applies it only when the store was built with ``migrate=True``. Otherwise it
refuses a database whose migration ledger is behind the code.

Only collection methods that Motor also has are used, so a Motor client could
take the place of ``AsyncMongoClient``.  Nothing outside this module and
``eventlog/migrations/`` imports the driver.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import re
from collections.abc import Collection, Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import bson
from bson.errors import InvalidDocument
from pymongo import AsyncMongoClient, ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import (
    BulkWriteError,
    ConnectionFailure,
    DuplicateKeyError,
    PyMongoError,
    ServerSelectionTimeoutError,
)

from eventlog.appends import Pending, fail_successors
from eventlog.chain import Chains, StreamKey, link_hash
from eventlog.migrations import runner
from eventlog.notices import NOTIFICATION_EVENTS
from eventlog.ports import (
    DuplicateCommand,
    RecordFilter,
    StoreError,
    StoreUnavailable,
    TripSnapshot,
    VersionConflict,
)
from eventlog.records import LogRecord, SlimRecord, from_document, slim_from_document

Document = dict[str, Any]
log = logging.getLogger("travelsense.store")

DEFAULT_DATABASE = "travelsense"
DEFAULT_SERVER_SELECTION_TIMEOUT_MS = 3000
UNKNOWN_OUTCOME_LOOKUP_SECONDS = 15.0  # how long a batch whose connection dropped is looked up for
MAX_BATCH = 512
COUNTER_ID = "log"  # the counters document that hands out positions

_DUPLICATE_KEY_CODES = {11000, 11001, 12582}
_OMITTED_WHEN_NULL = ("stream", "version", "idempotencyKey")
# what ``slim_from_document`` reads of a stored document
_SLIM: Document = {
    "_id": 0,
    **dict.fromkeys(("position", "at", "command", "outcome", "userId", "sessionId", "tripId", "stream", "version"), 1),
    **dict.fromkeys(("error", "schemaVersion", "events"), 1),  # not "error.code": nx-27017 gives none of it
}


_CHAT = {"events.type": "chat_message"}  # a record whose stream event is a chat message


def _stream_query(stream: str, after_version: int) -> Document:
    return {"stream": stream, "version": {"$exists": True, "$gt": after_version}}


def _all_query(after_position: int, where: RecordFilter | None) -> Document:
    query: Document = {"position": {"$gt": after_position}}
    if where is not None:
        if where.trip_id is not None:
            query["tripId"] = where.trip_id
        if where.user_id is not None:
            query["userId"] = where.user_id
        if where.commands is not None:
            query["command"] = {"$in": list(where.commands)}
        window: Document = {}
        if where.since is not None:
            window["$gte"] = where.since
        if where.until is not None:
            window["$lt"] = where.until
        if window:
            query["at"] = window
    return query


_INDEX_IN_MESSAGE = re.compile(r"index:?\s*'?([^'\s]+)")


class _NothingSent(StoreUnavailable):
    """The server was lost before a batch's insert was sent: nothing of it was written."""


@contextlib.contextmanager
def _nothing_sent() -> Iterator[None]:
    """A store failure before the insert was sent: nothing of the batch reached the server."""
    try:
        yield
    except StoreUnavailable as exc:
        raise _NothingSent(str(exc)) from exc.__cause__


class SchemaNotMigrated(StoreError):
    """The database lacks migrations this code needs; run ``python app.py migrate``."""


@contextlib.contextmanager
def translated() -> Iterator[None]:
    """Driver errors to port errors."""
    try:
        yield
    except ConnectionFailure as exc:  # also AutoReconnect, ServerSelectionTimeoutError, NetworkTimeout
        raise StoreUnavailable(str(exc)) from exc
    except PyMongoError as exc:
        raise StoreError(str(exc)) from exc


def duplicated_key(write_error: Document) -> str | None:
    """Which unique key a write error violated: "version", "idempotency", "other", or None.

    A real MongoDB gives ``keyPattern``.  nx-27017 gives only a message such as
    ``UNIQUE constraint failed: index 'idx_log_stream_version'``, so the index
    name is read from the message when ``keyPattern`` is missing.
    """
    if write_error.get("code") not in _DUPLICATE_KEY_CODES:
        return None
    pattern = write_error.get("keyPattern")
    if isinstance(pattern, dict) and pattern:
        fields = set(pattern)
    else:
        found = _INDEX_IN_MESSAGE.search(str(write_error.get("errmsg", "")))
        index = found.group(1).lower() if found else ""
        fields = {field for field in ("stream", "version", "idempotency") if field in index}
    if fields & {"idempotencyKey", "idempotency"}:
        return "idempotency"
    if fields & {"stream", "version"}:
        return "version"
    return "other"


def _to_stored_document(record_id: str, document: Document) -> Document:
    """The record's document as stored; its ``position`` is set once the batch has reserved its block."""
    stored = {"_id": record_id, **document}
    for key in _OMITTED_WHEN_NULL:
        if stored.get(key) is None:
            stored.pop(key, None)
    return stored


def url_sets(url: str, option: str) -> bool:
    return option.lower() in {key.lower() for key in parse_qs(urlsplit(url).query)}


class MongoEventStore:
    """``EventStore`` on MongoDB: collections ``log`` and ``counters`` in one database.

    ``url`` is a ``mongodb://`` or ``mongodb+srv://`` URL. The database is the
    URL's path (``travelsense`` when it has none) unless ``database`` is given.
    ``serverSelectionTimeoutMS`` defaults to 3000 unless the URL sets it.
    ``client_options`` go to ``AsyncMongoClient`` as they are (for example
    ``event_listeners``).
    """

    fold_page = 1000  # each read is a round trip
    stream_page = 1000

    def __init__(self, url: str, *, database: str | None = None, migrate: bool = False, **client_options: Any) -> None:
        self._url = url
        self._database_name = database
        self._migrate_on_open = migrate
        self._client_options = dict(client_options)
        if not url_sets(url, "serverSelectionTimeoutMS"):
            self._client_options.setdefault("serverSelectionTimeoutMS", DEFAULT_SERVER_SELECTION_TIMEOUT_MS)
        self._client: AsyncMongoClient[Document] | None = None
        self._db: AsyncDatabase[Document] | None = None
        self._pending: list[Pending] = []
        self._flushing: asyncio.Task[None] | None = None
        self._looking_up = False  # a batch whose connection dropped is being looked up
        self._closed = False
        self._chains = Chains()

    # lifecycle -------------------------------------------------------------

    def _database(self) -> AsyncDatabase[Document]:
        if self._closed:
            raise StoreUnavailable("the store is closed")
        if self._db is None:
            # built on first use, inside the event loop that will use it
            with translated():
                if self._client is None:
                    self._client = AsyncMongoClient(self._url, **self._client_options)
                if self._database_name is not None:
                    db = self._client[self._database_name]
                else:
                    db = self._client.get_default_database(DEFAULT_DATABASE)
            if not db.write_concern.acknowledged:
                raise StoreError("an unacknowledged write concern (w=0) cannot report version conflicts")
            self._db = db
        return self._db

    @property
    def _log(self) -> AsyncCollection[Document]:
        return self._database()["log"]

    async def open(self) -> None:
        """Check the server answers; migrate when asked to, else check the schema is there."""
        await self.ping()
        if self._migrate_on_open:
            await self.migrate()
            return
        with translated():
            missing = await runner.pending(self._database())
        if missing:
            raise SchemaNotMigrated(
                f"database {self._database().name!r} lacks migrations {', '.join(missing)}:"
                " run `python app.py migrate` or start with --migrate"
            )

    async def migrate(self) -> list[str]:
        """Apply the pending migrations; returns the names applied now (none when up to date)."""
        try:
            with translated():
                return await runner.migrate(self._database())
        except runner.MigrationLocked as exc:
            raise StoreUnavailable(str(exc)) from None

    async def migration_status(self) -> tuple[list[str], list[str]]:
        """The migrations the ledger lists, and those still pending."""
        with translated():
            done = await runner.applied(self._database())
        return sorted(done), [name for name, _ in runner.available() if name not in done]

    async def ping(self) -> None:
        with translated():
            await self._database().client.admin.command("ping")

    async def close(self) -> None:
        if self._flushing is not None:
            await asyncio.shield(self._flushing)
        self._closed = True
        client, self._client, self._db = self._client, None, None
        if client is not None:
            closing = client.close()
            if inspect.isawaitable(closing):  # PyMongo's async client; Motor's close() is plain
                await closing

    # appends ---------------------------------------------------------------

    async def append(self, record: LogRecord) -> LogRecord:
        return await self.enqueue(record)

    def enqueue(self, record: LogRecord) -> asyncio.Future[LogRecord]:
        """Queue an append; the future resolves once its batch is acknowledged.

        As ``SqliteEventStore.enqueue``: written in the order queued; when a stream
        record fails, every record of its stream queued behind it fails unwritten with
        ``VersionConflict`` (it may have been decided on the failed one).  A batch holds
        at most one record per stream (an unordered insert cannot stop at a failed
        version), and while the server cannot be reached every queued record fails at
        once with ``StoreUnavailable`` instead of waiting a server selection each (or
        a dropped batch's lookup: see ``_written_of``).
        """
        future: asyncio.Future[LogRecord] = asyncio.get_running_loop().create_future()
        try:
            self._database()  # fail fast when closed
        except StoreError as exc:
            future.set_exception(exc)
            return future
        if self._looking_up:
            future.set_exception(StoreUnavailable("the connection to the server dropped: nothing was sent"))
            return future
        self._pending.append(Pending(record, future))
        if self._flushing is None or self._flushing.done():
            self._flushing = asyncio.ensure_future(self._flush())
        return future

    def _next_batch(self) -> list[Pending]:
        """The oldest pending records, at most one per stream and ``MAX_BATCH`` in all."""
        batch: list[Pending] = []
        kept: list[Pending] = []
        streams: set[str] = set()
        for pending in self._pending:
            stream = pending.record.stream if pending.record.version is not None else None
            if len(batch) >= MAX_BATCH or (stream is not None and stream in streams):
                kept.append(pending)
                continue
            if stream is not None:
                streams.add(stream)
            batch.append(pending)
        self._pending = kept
        return batch

    async def _flush(self) -> None:
        """Write what is pending, one batch at a time, while appends keep arriving."""
        while self._pending:
            batch = self._next_batch()
            try:
                outcomes = await self._insert_batch([pending.record for pending in batch])
            except StoreUnavailable as exc:
                if isinstance(exc, _NothingSent) or isinstance(exc.__cause__, ServerSelectionTimeoutError):
                    # no server was found, or lost before the insert: nothing was sent, and nothing
                    # queued will be for now
                    batch, self._pending = batch + self._pending, []
                    for pending in batch:
                        if not pending.future.done():
                            pending.future.set_exception(exc)
                    continue
                outcomes = await self._written_of(batch, exc)  # the connection dropped mid-way
            except Exception as exc:  # the whole batch failed
                for pending in batch:
                    if not pending.future.done():
                        pending.future.set_exception(exc)
                self._pending = fail_successors(
                    self._pending, {p.record.stream or "" for p in batch if p.record.version is not None}
                )
                continue
            broken: set[str] = set()
            for pending, outcome in zip(batch, outcomes, strict=True):
                if isinstance(outcome, Exception) and pending.record.version is not None:
                    broken.add(pending.record.stream or "")
                if pending.future.done():
                    continue
                if isinstance(outcome, Exception):
                    pending.future.set_exception(outcome)
                else:
                    pending.future.set_result(outcome)
            self._pending = fail_successors(self._pending, broken)

    async def _written_of(self, batch: list[Pending], failure: StoreUnavailable) -> list[LogRecord | StoreError]:
        """The outcome of a batch whose connection dropped after it may have been sent: the
        records found in the log were written (their callers are told so, not refused);
        the others were not.  If even that cannot be read, the outcome stays unknown.

        Meanwhile nothing else waits for the server: what is queued, and what is queued
        until the lookup ends, fails at once with ``StoreUnavailable`` (none of it sent)."""
        log.warning("the connection dropped during an insert (%s): looking its %d records up", failure, len(batch))
        self._looking_up = True
        unsent, self._pending = self._pending, []
        for pending in unsent:
            if not pending.future.done():
                pending.future.set_exception(StoreUnavailable(f"not sent: {failure}"))
        ids = [pending.record.record_id for pending in batch]
        deadline = asyncio.get_running_loop().time() + UNKNOWN_OUTCOME_LOOKUP_SECONDS
        try:
            while True:  # the server is often back within moments (a restart, a failover): ask until then
                try:
                    async with asyncio.timeout(max(0.1, deadline - asyncio.get_running_loop().time())):
                        with translated():
                            found = {d["_id"]: d async for d in self._log.find({"_id": {"$in": ids}})}
                    break
                except (StoreError, TimeoutError):
                    if asyncio.get_running_loop().time() >= deadline:
                        unknown = StoreError(
                            "the append's outcome is unknown (the connection dropped): resend with the same ref"
                        )
                        return [unknown for _ in batch]
                    await asyncio.sleep(0.25)
        finally:
            self._looking_up = False
        self._chains = Chains()  # what this store knew of its chains may be wrong now
        return [from_document(found[i]) if i in found else failure for i in ids]

    async def _reserve_positions(self, count: int) -> int:
        """Reserve ``count`` positions; returns the first."""
        counter = await self._database()["counters"].find_one_and_update(
            {"_id": COUNTER_ID},
            {"$inc": {"next": count}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        if counter is None:
            raise StoreError("the position counter could not be read")
        return int(counter["next"]) - count + 1

    async def _stream_hash(self, key: StreamKey) -> str | None:
        with translated():
            document = await self._log.find_one({"stream": key[0], "version": key[1]})
        return link_hash(from_document(document)) if document else None

    async def _insert_batch(self, records: list[LogRecord]) -> list[LogRecord | StoreError]:
        outcomes: list[LogRecord | StoreError] = list(records)
        writable: list[int] = []  # indexes into records of those that encode to BSON
        documents: list[Document] = []
        chain = self._chains.batch()
        try:
            for index, record in enumerate(records):
                needed = chain.predecessor(record)
                with _nothing_sent():
                    hashes = {needed: await self._stream_hash(needed)} if needed else None
                linked, body = chain.link(record, hashes)
                document = _to_stored_document(record.record_id, body)
                try:
                    bson.encode(document)  # one unencodable record must not fail the whole insert_many
                except (InvalidDocument, OverflowError) as exc:
                    outcomes[index] = StoreError(f"record {record.record_id} cannot be stored: {exc}")
                    continue
                chain.advance(linked)
                outcomes[index] = linked
                writable.append(index)
                documents.append(document)
            if not documents:
                return outcomes

            with _nothing_sent(), translated():  # at most a block of positions is lost: a gap
                first = await self._reserve_positions(len(documents))
            with translated():
                for n, document in enumerate(documents):
                    document["position"] = first + n
                failed: dict[int, Document] = {}
                concern_failed = False
                try:
                    await self._log.insert_many(documents, ordered=False)
                except BulkWriteError as exc:
                    failed = {int(error["index"]): error for error in exc.details.get("writeErrors", [])}
                    concern_failed = bool(exc.details.get("writeConcernErrors"))
        except BaseException:
            chain.abandon()
            raise

        written: list[LogRecord] = []
        writer_intact = not concern_failed
        for n, index in enumerate(writable):
            outcome = outcomes[index]
            assert isinstance(outcome, LogRecord)
            linked = outcome
            error = failed.get(n)
            if error is not None:
                outcomes[index] = self._write_error(linked, error)
                writer_intact = writer_intact and linked.version is not None
            elif concern_failed:
                outcomes[index] = StoreError("inserted, but the write concern was not satisfied")
            else:
                outcomes[index] = linked.stored_at(first + n)
                written.append(linked)
        if concern_failed:
            chain.abandon()
        else:
            chain.commit(written, writer_intact=writer_intact)
        return outcomes

    @staticmethod
    def _write_error(record: LogRecord, error: Document) -> StoreError:
        match duplicated_key(error):
            case "version":
                return VersionConflict(record.stream or "", record.version or 0)
            case "idempotency":
                return DuplicateCommand(record.idempotency_key or "")
            case _:
                return StoreError(str(error.get("errmsg", "the insert failed")))

    # reads -----------------------------------------------------------------

    async def _documents(
        self, query: Document, sort: str, limit: int | None, projection: Document | None = None
    ) -> list[Document]:
        if limit is not None and limit <= 0:
            return []
        with translated():
            cursor = self._log.find(query, projection).sort(sort, 1)
            if limit is not None:
                cursor = cursor.limit(limit)
            documents: list[Document] = await cursor.to_list(None)
        return documents

    async def _find(self, query: Document, sort: str, limit: int | None) -> list[LogRecord]:
        return [from_document(document) for document in await self._documents(query, sort, limit)]

    async def _find_slim(self, query: Document, sort: str, limit: int | None) -> list[SlimRecord]:
        return [slim_from_document(document) for document in await self._documents(query, sort, limit, _SLIM)]

    async def read_stream(self, stream: str, after_version: int = 0, limit: int | None = None) -> list[LogRecord]:
        return await self._find(_stream_query(stream, after_version), "version", limit)

    async def read_stream_slim(self, stream: str, after_version: int = 0, limit: int | None = None) -> list[SlimRecord]:
        return await self._find_slim(_stream_query(stream, after_version), "version", limit)

    async def stream_version(self, stream: str) -> int:
        with translated():
            head = await self._log.find_one(
                {"stream": stream, "version": {"$exists": True}},
                {"version": 1, "_id": 0},
                sort=[("version", -1)],
            )
        return int(head["version"]) if head else 0

    async def read_all(
        self, after_position: int = 0, limit: int = 1000, where: RecordFilter | None = None
    ) -> list[LogRecord]:
        return await self._find(_all_query(after_position, where), "position", limit)

    async def read_all_slim(
        self, after_position: int = 0, limit: int = 1000, where: RecordFilter | None = None
    ) -> list[SlimRecord]:
        return await self._find_slim(_all_query(after_position, where), "position", limit)

    async def head_position(self) -> int:
        """The highest position in the log (0 when empty): how far a full read goes."""
        with translated():
            head = await self._log.find_one({}, {"position": 1, "_id": 0}, sort=[("position", -1)])
        return int(head["position"]) if head else 0

    async def find_by_idempotency_key(self, key: str) -> LogRecord | None:
        with translated():
            document = await self._log.find_one({"idempotencyKey": key})
        return from_document(document) if document else None

    # chat pages and snapshots ----------------------------------------------

    async def read_chat_page(self, stream: str, limit: int, before: str | None = None) -> list[LogRecord] | None:
        query: Document = {"stream": stream, "version": {"$exists": True}, **_CHAT}
        with translated():
            if before is not None:
                found = await self._log.find_one(
                    {**query, "events": {"$elemMatch": {"type": "chat_message", "data.messageId": before}}},
                    {"version": 1, "_id": 0},
                )
                if found is None:
                    return None
                query["version"] = {"$exists": True, "$lt": found["version"]}
            if limit <= 0:
                return []
            cursor = self._log.find(query).sort("version", -1).limit(limit)
            documents: list[Document] = await cursor.to_list(None)
        return [from_document(document) for document in reversed(documents)]

    async def find_chat_message(self, stream: str, message_id: str) -> LogRecord | None:
        query: Document = {
            "stream": stream,
            "version": {"$exists": True},
            "events": {"$elemMatch": {"type": "chat_message", "data.messageId": message_id}},
        }
        with translated():
            document = await self._log.find_one(query)
        return from_document(document) if document else None

    async def count_chat_messages(
        self, stream: str, after_version: int, not_by: str, limit: int, excluding: Collection[str] = ()
    ) -> int:
        query: Document = {"stream": stream, "version": {"$gt": after_version}, **_CHAT, "userId": {"$ne": not_by}}
        if excluding:
            deleted = {"$elemMatch": {"type": "chat_message", "data.messageId": {"$in": list(excluding)}}}
            query["$nor"] = [{"events": deleted}]
        with translated():
            return int(await self._log.count_documents(query, limit=limit))

    async def read_notifications(self, user_id: str, after_position: int = 0, limit: int = 1000) -> list[SlimRecord]:
        # one branch per partial index of m0004, each naming its filter (the planner merges them by position)
        branches = [
            {"events.type": kind, "events": {"$elemMatch": {"type": kind, "data.userId": user_id}}}
            for kind in NOTIFICATION_EVENTS
        ]
        return await self._find_slim({"$or": branches, "position": {"$gt": after_position}}, "position", limit)

    @property
    def _snapshots(self) -> AsyncCollection[Document]:
        return self._database()["snapshots"]

    async def save_snapshot(self, snapshot: TripSnapshot) -> None:
        document = {
            "_id": f"{snapshot.stream}:{snapshot.version}",
            "stream": snapshot.stream,
            "version": snapshot.version,
            "schema": snapshot.schema,
            "state": snapshot.state,
        }
        with translated():
            newest = await self._snapshots.find_one(
                {"stream": snapshot.stream}, {"version": 1, "_id": 0}, sort=[("version", -1)]
            )
            if newest is not None and newest["version"] >= snapshot.version:
                return
            try:
                await self._snapshots.insert_one(document)
            except DuplicateKeyError:
                return  # another node saved this version first
            await self._snapshots.delete_many({"stream": snapshot.stream, "version": {"$lt": snapshot.version}})

    async def load_snapshot(self, stream: str, schema: str) -> TripSnapshot | None:
        with translated():
            found = await self._snapshots.find_one({"stream": stream, "schema": schema}, sort=[("version", -1)])
        return _snapshot(found) if found else None

    async def read_snapshots(self, after_stream: str = "", limit: int = 1000) -> list[TripSnapshot]:
        # older snapshots of a stream may linger a moment after a newer one is saved: the newest wins
        newest: dict[str, TripSnapshot] = {}
        with translated():
            cursor = self._snapshots.find({"stream": {"$gt": after_stream}}).sort([("stream", 1), ("version", -1)])
            async for document in cursor:
                stream = document["stream"]
                if stream not in newest:
                    if len(newest) == limit:
                        break
                    newest[stream] = _snapshot(document)
        return list(newest.values())


def _snapshot(document: Document) -> TripSnapshot:
    return TripSnapshot(document["stream"], int(document["version"]), document["schema"], document["state"])
