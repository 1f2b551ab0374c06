"""The read models as MongoDB collections: ``trips``, ``chat_messages``, ``notifications``.

A ``ReadModelSink`` (``projections/read_models.py``).  Every write is
conditional, so replays, retries, out-of-order background writes and several
nodes writing at once never move a document back:

* ``trips``: ``{_id: tripId, version, state}``.  ``update_one`` matches only a
  document whose ``version`` is lower than the one written; with ``upsert`` a
  document at the same or a newer version makes the insert fail on ``_id``,
  which means "already as new": ignored.
* ``chat_messages``: ``{_id: messageId, tripId, seq, ...view}``.  A message is
  upserted with its text set only on insert; an edit sets the text where no
  newer edit (``editedSeq``) and no delete is, reactions likewise (``reactionsSeq``);
  a delete sets the tombstone and
  unsets the text for good.  So an edit or a delete written before its message
  (background writes land in any order) is never undone by it.
* ``notifications``: ``{_id: notificationId, userId, ..., createdAt, position,
  read}``.  Creating sets the view, and ``read: false`` and the preview only on
  insert; marking read only ever sets ``read: true``, so the two converge in any
  order.  A chat notification's ``preview`` is emptied when its message is deleted.

Indexes come from ``eventlog/migrations/m0002_read_models.py``.  The database is the
URL's (``travelsense`` when it has none) unless ``database`` is given, as for
``MongoEventStore``.
"""

from __future__ import annotations

import contextlib
from typing import Any

from pymongo import AsyncMongoClient, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

from domain.trip_events import CHANGE_REPLACED
from eventlog.mongo_store import (
    DEFAULT_DATABASE,
    DEFAULT_SERVER_SELECTION_TIMEOUT_MS,
    duplicated_key,
    translated,
    url_sets,
)
from eventlog.ports import StoreUnavailable
from eventlog.read_model_port import ReadModelChange, TripView
from eventlog.sealing import MASK, Opener

Document = dict[str, Any]

TRIPS = "trips"
CHAT_MESSAGES = "chat_messages"
NOTIFICATIONS = "notifications"


class MongoReadModels:
    """Writes ``ReadModelChange`` batches into the three read model collections."""

    def __init__(
        self, url: str, *, database: str | None = None, opener: Opener | None = None, **client_options: Any
    ) -> None:
        self._opener = opener  # the collections hold personal data opened (masked once erased)
        self._url = url
        self._database_name = database
        self._client_options = dict(client_options)
        if not url_sets(url, "serverSelectionTimeoutMS"):
            self._client_options.setdefault("serverSelectionTimeoutMS", DEFAULT_SERVER_SELECTION_TIMEOUT_MS)
        self._client: AsyncMongoClient[Document] | None = None
        self._db: AsyncDatabase[Document] | None = None
        self._closed = False

    def _database(self) -> AsyncDatabase[Document]:
        if self._closed:
            raise StoreUnavailable("the read models are closed")
        if self._db is None:
            with translated():
                self._client = AsyncMongoClient(self._url, **self._client_options)
                if self._database_name is not None:
                    self._db = self._client[self._database_name]
                else:
                    self._db = self._client.get_default_database(DEFAULT_DATABASE)
        return self._db

    async def write(self, change: ReadModelChange) -> None:
        if self._opener is not None:
            change = self._opened(change)
        with translated():
            if change.trip is not None:
                await self._write_trip(change.trip.trip_id, change.trip.version, change.trip.state)
            if change.messages or change.message_changes:
                await self._write_messages(change.messages, change.message_changes)
            if change.created or change.reads:
                await self._write_notifications(change)
            if change.deleted_previews:
                await self._database()[NOTIFICATIONS].update_many(
                    {"messageId": {"$in": change.deleted_previews}}, {"$set": {"preview": ""}}
                )

    def _opened(self, change: ReadModelChange) -> ReadModelChange:
        assert self._opener is not None
        trip = change.trip
        if trip is not None and trip.state is not None:
            trip = TripView(trip.trip_id, trip.version, self._opener.open(trip.state))
        return ReadModelChange(
            trip,
            self._opener.open(change.messages),
            self._opener.open(change.created),
            change.reads,
            self._opener.open(change.message_changes),
            change.deleted_previews,
        )

    async def erase_person(self, user_id: str, trips: list[TripView]) -> None:
        """A person was erased: their messages and the previews of them masked, ``trips``
        (the ones they wrote into, their states as the log now opens) written again."""
        with translated():
            database = self._database()
            await database[CHAT_MESSAGES].update_many({"userId": user_id}, {"$set": {"message": MASK, "name": MASK}})
            await database[NOTIFICATIONS].update_many(
                {"fromUserId": user_id, "kind": {"$ne": CHANGE_REPLACED}}, {"$set": {"preview": MASK}}
            )
            # a change notice quotes values on both sides: theirs when they changed something, and
            # the erased person's own when someone replaced them
            await database[NOTIFICATIONS].update_many(
                {"fromUserId": user_id, "kind": CHANGE_REPLACED}, {"$set": {"fromName": MASK, "changes": MASK}}
            )
            await database[NOTIFICATIONS].update_many(
                {"userId": user_id, "kind": CHANGE_REPLACED}, {"$set": {"changes": MASK}}
            )
            for trip in trips:
                state = self._opener.open(trip.state) if self._opener is not None else trip.state
                await database[TRIPS].update_one(
                    {"_id": trip.trip_id}, {"$set": {"version": trip.version, "state": state}}, upsert=True
                )

    async def erase_message(self, message_id: str) -> None:
        """A message's key was destroyed: its text and its notifications' previews masked."""
        with translated():
            database = self._database()
            # a tombstone keeps no text field at all (a delete unsets it)
            await database[CHAT_MESSAGES].update_one(
                {"_id": message_id, "deleted": {"$exists": False}}, {"$set": {"message": MASK}}
            )
            await database[NOTIFICATIONS].update_many({"messageId": message_id}, {"$set": {"preview": MASK}})

    async def _write_trip(self, trip_id: str, version: int, state: Document | None) -> None:
        with contextlib.suppress(DuplicateKeyError):  # a document at this version or a newer one is there
            await self._database()[TRIPS].update_one(
                {"_id": trip_id, "version": {"$lt": version}},
                {"$set": {"version": version, "state": state}},
                upsert=True,
            )

    async def _write_messages(self, messages: list[Document], changes: list[Document]) -> None:
        operations: list[UpdateOne] = []
        for message in messages:
            fixed = {key: value for key, value in message.items() if key != "message"}
            operations.append(
                UpdateOne(
                    {"_id": message["messageId"]},
                    {"$set": fixed, "$setOnInsert": {"message": message["message"]}},
                    upsert=True,
                )
            )
        for change in changes:
            known = {"tripId": change["tripId"], "userId": change["userId"], "messageId": change["messageId"]}
            if "reactions" in change:
                operations.append(
                    UpdateOne(
                        {
                            "_id": change["messageId"],
                            "deleted": {"$exists": False},
                            "$or": [{"reactionsSeq": {"$exists": False}}, {"reactionsSeq": {"$lt": change["seq"]}}],
                        },
                        {
                            "$set": {"reactions": change["reactions"], "reactionsSeq": change["seq"]},
                            "$setOnInsert": {"tripId": change["tripId"], "messageId": change["messageId"]},
                        },
                        upsert=True,
                    )
                )
            elif change.get("deleted"):
                tombstone = {"deleted": True, "deletedBy": change["deletedBy"], "deletedAt": change["deletedAt"]}
                operations.append(
                    UpdateOne(
                        {"_id": change["messageId"]},
                        {
                            "$set": {**known, **tombstone},
                            "$unset": {"message": "", "edited": "", "editedAt": "", "reactions": ""},
                        },
                        upsert=True,
                    )
                )
            else:
                edit = {"message": change["message"], "edited": True, "editedAt": change["editedAt"]}
                operations.append(
                    UpdateOne(
                        {
                            "_id": change["messageId"],
                            "deleted": {"$exists": False},  # only ever set true
                            "$or": [{"editedSeq": {"$exists": False}}, {"editedSeq": {"$lt": change["seq"]}}],
                        },
                        {"$set": {**edit, "editedSeq": change["seq"]}, "$setOnInsert": known},
                        upsert=True,
                    )
                )
        # a filter that does not match an existing document (deleted, or a newer edit) makes its
        # upsert fail on _id: "already newer", skipped; two upserts of one new _id may race: retried once
        for attempt in range(2):
            try:
                await self._database()[CHAT_MESSAGES].bulk_write(operations, ordered=False)
                return
            except BulkWriteError as exc:
                errors = exc.details.get("writeErrors", [])
                if exc.details.get("writeConcernErrors") or any(duplicated_key(e) is None for e in errors):
                    raise
                if attempt:
                    return
                # retried: each operation is idempotent, and one that is "already newer" fails again harmlessly
                failed = {int(e["index"]) for e in errors}
                operations = [op for index, op in enumerate(operations) if index in failed]

    async def _write_notifications(self, change: ReadModelChange) -> None:
        operations: list[UpdateOne] = []
        for created in change.created:
            # the preview only on insert: a deleted message's emptied one is never written back
            view = {key: value for key, value in created.items() if key not in ("read", "preview")}
            first = {"read": False, **({"preview": created["preview"]} if "preview" in created else {})}
            operations.append(
                UpdateOne({"_id": created["notificationId"]}, {"$set": view, "$setOnInsert": first}, upsert=True)
            )
        for read in change.reads:
            operations.append(
                UpdateOne(
                    {"_id": read.notification_id},
                    {"$set": {"read": True, "userId": read.user_id}, "$max": {"readPosition": read.position}},
                    upsert=True,
                )
            )
        # Two upserts of one new _id may race (another node, a replay): the loser retries once, as an update.
        for attempt in range(2):
            try:
                await self._database()[NOTIFICATIONS].bulk_write(operations, ordered=True)
                return
            except BulkWriteError as exc:
                errors = exc.details.get("writeErrors", [])
                if attempt or not errors or any(duplicated_key(e) is None for e in errors):
                    raise
                operations = operations[int(errors[0]["index"]) :]

    async def close(self) -> None:
        self._closed = True
        client, self._client, self._db = self._client, None, None
        if client is not None:
            await client.close()
