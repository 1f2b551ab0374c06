"""The key store as a MongoDB collection of its own, ``data_keys``, through the
driver's synchronous client (see ``eventlog/key_port.py`` for why the calls are
synchronous: a cache stands in front).  ``{_id: keyId, subject, material,
createdAt}``, indexed by subject."""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from typing import Any

import pymongo
from bson.binary import Binary
from pymongo import ASCENDING, DESCENDING, MongoClient
from pymongo.errors import BulkWriteError, PyMongoError

from eventlog.key_port import DataKey, KeyStore, new_keys, now_iso
from eventlog.mongo_store import DEFAULT_DATABASE, duplicated_key, url_sets
from eventlog.ports import StoreUnavailable

DATA_KEYS = "data_keys"
# These calls are made on the event loop (behind the cache), so each whole call (finding the
# server, connecting, TLS, the handshake, the round trips) is bounded by the service's store
# timeout (``--store-timeout``, 1 s by default): a server that accepts a connection and then
# hangs costs the loop that long, never more.  While the store is known down (the last call
# failed), a call is refused at once unless the driver's monitor sees a server it can select
# and no call has tried lately: FIRST_PROBE_WAIT after the failure, doubling with each
# failure up to DOWN_PROBE_INTERVAL (a blip costs a moment of refusals; a server that hangs
# costs the loop at most one timeout per interval).  The call that then tries has the whole
# timeout (a remote cluster whose pool the outage cleared has to connect again), so the
# store comes back by itself once the server does.  A read that failed is not retried (a
# retry waits for a server again): the caller is told at once.
STORE_TIMEOUT = 1.0  # seconds
FIRST_PROBE_WAIT = 0.25  # seconds
DOWN_PROBE_INTERVAL = 5.0  # seconds
Document = dict[str, Any]


class Outage:
    """Whether the store is known down, and when a call may next try it.

    The calls come from several threads at once (the event loop, the cache's read-ahead
    and its message-key pool), so each change is made under a lock: of the calls that find
    the probe wait passed, one tries, the others are refused (without it, each could read
    the wait passed before any of them set it again, and all would wait on a server that
    may hang).  The clock is read before the lock is taken."""

    def __init__(self, probe_interval: float, monotonic: Callable[[], float]) -> None:
        self._probe_interval = probe_interval
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self.down = False  # the last call failed
        self._tried_at = 0.0  # when a call last went to the server and failed, or tried while down
        self._probe_wait = FIRST_PROBE_WAIT  # from then until the next call may try

    def may_try(self) -> bool:
        """While down: whether this call is the one to try the server now (the wait doubles)."""
        now = self._monotonic()
        with self._lock:
            if not self.down:
                return True
            if now - self._tried_at < self._probe_wait:
                return False
            self._tried_at = now
            self._probe_wait = min(2 * self._probe_wait, self._probe_interval)
            return True

    def failed(self) -> None:
        now = self._monotonic()
        with self._lock:
            if not self.down:
                self._tried_at = now
                self._probe_wait = min(FIRST_PROBE_WAIT, self._probe_interval)
            self.down = True

    def answered(self) -> None:
        with self._lock:
            self.down = False


def _key(document: Document) -> DataKey:
    return DataKey(document["_id"], document["subject"], bytes(document["material"]), document["createdAt"])


class MongoKeyStore(KeyStore):
    def __init__(
        self,
        url: str,
        *,
        database: str | None = None,
        read_only: bool = False,
        timeout: float = STORE_TIMEOUT,
        probe_interval: float = DOWN_PROBE_INTERVAL,
        monotonic: Callable[[], float] = time.monotonic,
        **client_options: Any,
    ) -> None:
        options = dict(client_options)
        if not url_sets(url, "serverSelectionTimeoutMS"):
            options.setdefault("serverSelectionTimeoutMS", int(timeout * 1000))
        if not url_sets(url, "retryReads"):
            options.setdefault("retryReads", False)
        self._client: MongoClient[Document] = MongoClient(url, **options)
        name = database or self._client.get_default_database(DEFAULT_DATABASE).name
        self._keys = self._client[name][DATA_KEYS]
        self._indexed = read_only  # the analyst commands make no index: they write nothing
        self._timeout = timeout
        self._outage = Outage(probe_interval, monotonic)

    def _refused_at_once(self, *, writes: bool) -> bool:
        """While known down: no server the driver's monitor can select for the call (it looks
        on its own heartbeat), or a call tried within the probe wait."""
        if not self._outage.down:
            return False
        topology = self._client.topology_description
        if not (topology.has_writable_server() if writes else topology.has_readable_server(self._keys.read_preference)):
            return True
        return not self._outage.may_try()

    @contextlib.contextmanager
    def _answering(self, *, writes: bool = True) -> Iterator[None]:
        """A call to the server, bounded whole by the store timeout: ``StoreUnavailable``
        when it does not answer, at once while it is known down (``_refused_at_once``)."""
        if self._refused_at_once(writes=writes or not self._indexed):  # a first call makes the index
            raise StoreUnavailable("the key store is down (its last call failed)")
        try:
            with pymongo.timeout(self._timeout):
                yield
        except PyMongoError as error:
            self._outage.failed()
            raise StoreUnavailable(f"the key store did not answer: {error}") from None
        self._outage.answered()

    def _collection(self) -> Any:
        """The collection, its index made first (called within ``_answering``: one call's budget)."""
        if not self._indexed:
            self._keys.create_index([("subject", ASCENDING), ("createdAt", ASCENDING)])
            self._indexed = True
        return self._keys

    def newest(self, subject: str) -> DataKey | None:
        with self._answering(writes=False):
            found = self._collection().find_one({"subject": subject}, sort=[("createdAt", DESCENDING)])
        return _key(found) if found is not None else None

    def create(self, subject: str, count: int) -> list[DataKey]:
        keys = new_keys(subject, count, now_iso())
        self.add(keys)
        return keys

    def add(self, keys: Sequence[DataKey]) -> None:
        if not keys:
            return
        documents = [
            {"_id": k.key_id, "subject": k.subject, "material": Binary(k.material), "createdAt": k.created_at}
            for k in keys
        ]
        with self._answering():
            try:  # unordered: a key already kept (a write retried) leaves the others to be written
                self._collection().insert_many(documents, ordered=False)
            except BulkWriteError as error:
                details = error.details
                if details.get("writeConcernErrors") or any(
                    duplicated_key(e) is None for e in details.get("writeErrors", ())
                ):
                    raise

    def find(self, key_ids: Collection[str]) -> dict[str, DataKey]:
        if not key_ids:
            return {}
        with self._answering(writes=False):
            return {d["_id"]: _key(d) for d in self._collection().find({"_id": {"$in": list(key_ids)}})}

    def _delete(self, query: Document) -> list[str]:
        with self._answering():
            collection = self._collection()
            ids = [d["_id"] for d in collection.find(query, {"_id": 1})]
            if ids:
                collection.delete_many({"_id": {"$in": ids}})
        return ids

    def destroy(self, subject: str) -> list[str]:
        return self._delete({"subject": subject})

    def destroy_key(self, key_id: str) -> bool:
        return bool(self._delete({"_id": key_id}))

    def destroy_older_than(self, subject_prefix: str, before: str) -> list[str]:
        return self._delete({"subject": {"$regex": "^" + re.escape(subject_prefix)}, "createdAt": {"$lt": before}})

    def close(self) -> None:
        self._client.close()
