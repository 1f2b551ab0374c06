"""Erasing a person (``Erasure``), or one chat message (``MessageShredder``), by destroying
keys (crypto-shredding).

Nothing in the log is rewritten: what was sealed under a destroyed key stays,
still covered by the hash chain (``verify`` intact), and opens as ``MASK``
everywhere data leaves the process (frames, REST answers, exports, the MongoDB
read models).  The in-memory read side holds sealed values, so it needs no
rebuild; the MongoDB read models hold opened values, so they are written again.
The erasure itself is recorded: who erased whom (by id) and when.

Another node may still open the person's data from its key cache for up to
``eventlog.key_cache.TTL`` seconds.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from domain.trip_events import CHAT_MESSAGE_DELETED
from eventlog.key_cache import CachedKeyStore
from eventlog.ports import EventStore, RecordFilter
from eventlog.read_model_port import ReadModelSink, TripView
from eventlog.records import LogRecord
from projections.read_side import ReadSide
from service.pipeline import Origin, Pipeline, Request
from service.privacy import NETWORK_PREFIX, message_key_id, person_subject

PERSON_ERASED = "person_erased"
_PAGE = 1000


class ClosingKeys:
    """The key store among the adapters closed at shutdown."""

    def __init__(self, keys: CachedKeyStore) -> None:
        self._keys = keys

    async def close(self) -> None:
        self._keys.close()


def destroy_network_keys_before(keys: CachedKeyStore, before: datetime) -> int:
    """Retention: destroy the address and user agent keys made before ``before`` (every
    ``ip``/``userAgent`` sealed under them masks from then on); how many were destroyed."""
    return len(keys.destroy_older_than(NETWORK_PREFIX, before.isoformat().replace("+00:00", "Z")))


class Erasure:
    def __init__(
        self,
        keys: CachedKeyStore,
        pipeline: Pipeline,
        store: EventStore,
        read_side: ReadSide,
        sink: ReadModelSink | None,
    ) -> None:
        self._keys = keys
        self._pipeline = pipeline
        self._store = store
        self._read_side = read_side
        self._sink = sink

    async def erase_person(self, origin: Origin, user_id: str, *, by: str | None = None) -> LogRecord:
        """Destroy every key of the person; record who erased them (the origin's user, or
        ``by`` for an operator) and when; mask the mirrored read models."""
        # keys first: an erasure must never be logged while the data still opens; if the log then
        # refuses the record (UNAVAILABLE, recorded by the caller), erasing again records it
        destroyed = self._keys.destroy(person_subject(user_id))
        data: dict[str, Any] = {"userId": user_id, "keysDestroyed": len(destroyed)}
        if by is not None:
            data["by"] = by
        record = await self._pipeline.record(
            Request(origin, "erase_person", {"userId": user_id}), ({"type": PERSON_ERASED, "data": data},)
        )
        if self._sink is not None:
            views = []
            for trip_id in await self._trips_written_by(user_id):
                trip = await self._read_side.trip(trip_id)
                if trip is not None:
                    views.append(TripView(trip_id, trip.version, trip.to_json()))
            await self._sink.erase_person(user_id, views)
        return record

    async def _trips_written_by(self, user_id: str) -> set[str]:
        trips: set[str] = set()
        after = 0
        while True:
            page = await self._store.read_all_slim(after, _PAGE, RecordFilter(user_id=user_id))
            trips.update(r.stream for r in page if r.stream is not None and r.version is not None)
            if len(page) < _PAGE:
                return trips
            after = page[-1].position


class MessageShredder:
    """Destroys one chat message's keys (the chat issue's delete).  Needs no pipeline, so the
    reactions the pipeline is built with can hold it (``shred_deleted_messages``)."""

    def __init__(self, keys: CachedKeyStore, store: EventStore, sink: ReadModelSink | None) -> None:
        self._keys = keys
        self._store = store
        self._sink = sink

    async def destroy_message_key(self, trip_id: str, message_id: str) -> int:
        """Destroy the keys of one chat message: its own key and that of every later event that
        sealed text about it under a key of its own (an edit, a notification's preview); its text
        masks everywhere, in the log too.  How many keys were destroyed (0: none found, or the
        message was logged before messages had keys).  Records nothing itself: the command that
        asked (a delete) is the record."""
        destroyed = 0
        for key_id in await self._message_keys(trip_id, message_id):
            destroyed += self._keys.destroy_key(key_id)
        if destroyed and self._sink is not None:
            await self._sink.erase_message(message_id)
        return destroyed

    @staticmethod
    def deletes_messages(record: LogRecord) -> bool:
        """Whether ``record`` deletes a chat message (``shred_deleted_messages`` has work)."""
        return record.stream is not None and any(event.get("type") == CHAT_MESSAGE_DELETED for event in record.events)

    async def shred_deleted_messages(self, record: LogRecord) -> None:
        """The reaction to a committed record: a deleted chat message's keys are destroyed."""
        for event in record.events:
            if event.get("type") == CHAT_MESSAGE_DELETED and record.stream is not None:
                await self.destroy_message_key(record.stream, event["data"]["messageId"])

    async def _message_keys(self, trip_id: str, message_id: str) -> set[str]:
        keys: set[str] = set()
        after = 0
        while True:  # a scan of the trip's stream: deletes are rare
            page = await self._store.read_stream_slim(trip_id, after, _PAGE)
            for record in page:
                for event in record.events:
                    data = event.get("data") if isinstance(event, dict) else None
                    if isinstance(data, dict) and data.get("messageId") == message_id:
                        keys.update(k for k in map(message_key_id, _texts(data)) if k is not None)
            if len(page) < _PAGE:
                return keys
            after = page[-1].version or 0


def _texts(data: dict[str, Any]) -> list[str]:
    return [value for value in data.values() if isinstance(value, str)]
