"""The key store as a MongoDB collection of its own, ``data_keys``, through the
driver's synchronous client (see ``eventlog/key_port.py`` for why the calls are
synchronous: a cache stands in front).  ``{_id: keyId, subject, material,
createdAt}``, indexed by subject."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Collection, Iterator
from typing import Any

import pymongo
from bson.binary import Binary
from pymongo import ASCENDING, DESCENDING, MongoClient
from pymongo.errors import PyMongoError

from eventlog.key_port import DataKey
from eventlog.mongo_store import DEFAULT_DATABASE, url_sets
from eventlog.ports import StoreUnavailable
from eventlog.sqlite_keys import new_keys, now_iso

DATA_KEYS = "data_keys"
# How long a call waits for the server: these calls are made on the event loop (behind the cache),
# so never longer than the service's store timeout (``--store-timeout``, 1 s by default) to find the
# server, and only a moment while it is known down (the last call failed).  A read that failed is
# not retried either (a retry waits a server selection): the caller is told at once.
SERVER_SELECTION_TIMEOUT_MS = 1000
DOWN_TIMEOUT = 0.05
Document = dict[str, Any]


def _key(document: Document) -> DataKey:
    return DataKey(document["_id"], document["subject"], bytes(document["material"]), document["createdAt"])


class MongoKeyStore:
    def __init__(
        self, url: str, *, database: str | None = None, read_only: bool = False, **client_options: Any
    ) -> None:
        options = dict(client_options)
        if not url_sets(url, "serverSelectionTimeoutMS"):
            options.setdefault("serverSelectionTimeoutMS", SERVER_SELECTION_TIMEOUT_MS)
        if not url_sets(url, "retryReads"):
            options.setdefault("retryReads", False)
        self._client: MongoClient[Document] = MongoClient(url, **options)
        name = database or self._client.get_default_database(DEFAULT_DATABASE).name
        self._keys = self._client[name][DATA_KEYS]
        self._indexed = read_only  # the analyst commands make no index: they write nothing
        self._down = False  # the last call failed

    @contextlib.contextmanager
    def _answering(self) -> Iterator[None]:
        """A call to the server: ``StoreUnavailable`` when it does not answer, at once
        (``DOWN_TIMEOUT``) while it is known down."""
        try:
            with pymongo.timeout(DOWN_TIMEOUT if self._down else None):
                yield
        except PyMongoError as error:
            self._down = True
            raise StoreUnavailable(f"the key store did not answer: {error}") from None
        self._down = False

    def _collection(self) -> Any:
        if not self._indexed:
            with self._answering():
                self._keys.create_index([("subject", ASCENDING), ("createdAt", ASCENDING)])
            self._indexed = True
        return self._keys

    def key_for(self, subject: str) -> DataKey:
        with self._answering():
            found = self._collection().find_one({"subject": subject}, sort=[("createdAt", DESCENDING)])
        return _key(found) if found is not None else self.create(subject, 1)[0]

    def create(self, subject: str, count: int) -> list[DataKey]:
        keys = new_keys(subject, count, now_iso())
        documents = [
            {"_id": k.key_id, "subject": k.subject, "material": Binary(k.material), "createdAt": k.created_at}
            for k in keys
        ]
        with self._answering():
            self._collection().insert_many(documents, ordered=True)
        return keys

    def find(self, key_ids: Collection[str]) -> dict[str, DataKey]:
        if not key_ids:
            return {}
        with self._answering():
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
