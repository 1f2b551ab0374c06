"""A bounded in-memory cache in front of a ``KeyStore`` (itself one).

Keys found are kept for ``ttl`` seconds (least recently used first out past
``capacity``), so a key another process destroyed stops opening here within
``ttl``; a key found missing stays missing (a destroyed key never returns).
Chat message keys come from a pool made ``pool_size`` at a time, refilled in a
thread of its own once half of it is used, so posting a message writes no key
and waits for no write (unless the pool ran dry).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Collection

from eventlog.key_port import DataKey, KeyStore

MESSAGE_SUBJECT = "msg"
CAPACITY = 100_000
TTL = 30.0  # seconds
POOL_SIZE = 1024


class CachedKeyStore:
    def __init__(
        self,
        store: KeyStore,
        *,
        capacity: int = CAPACITY,
        ttl: float = TTL,
        pool_size: int = POOL_SIZE,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._capacity = capacity
        self._ttl = ttl
        self._pool_size = pool_size
        self._monotonic = monotonic
        # oldest first: a plain dict (a hot path), the first out past ``capacity``
        self._by_id: dict[str, tuple[DataKey, float]] = {}
        self._by_subject: OrderedDict[str, tuple[DataKey, float]] = OrderedDict()
        self._missing: OrderedDict[str, None] = OrderedDict()
        self._pool: list[DataKey] = []
        self._refill: threading.Thread | None = None
        self._refilled: list[DataKey] = []  # made by the refill thread, taken by the next ``message_key``
        self.lookups = 0  # round trips to the store (for tests and metrics)

    def _keep(self, key: DataKey, now: float) -> None:
        by_id = self._by_id
        by_id.pop(key.key_id, None)  # kept again: it goes to the back
        by_id[key.key_id] = (key, now + self._ttl)
        if len(by_id) > self._capacity:
            del by_id[next(iter(by_id))]

    def key_for(self, subject: str) -> DataKey:
        now = self._monotonic()
        held = self._by_subject.get(subject)
        if held is not None and held[1] > now:
            return held[0]
        self.lookups += 1
        key = self._store.key_for(subject)
        self._by_subject[subject] = (key, now + self._ttl)
        self._by_subject.move_to_end(subject)
        if len(self._by_subject) > self._capacity:
            self._by_subject.popitem(last=False)
        self._keep(key, now)
        return key

    def message_key(self) -> DataKey:
        """A fresh key for one chat message (from the pool)."""
        if not self._pool and self._refill is not None:
            self._refill.join()  # ran dry while a refill is under way: it is nearly done
        if self._refilled:
            self._pool, self._refilled = self._refilled + self._pool, []
        if not self._pool:  # the first message, or a refill failed: made here
            self.lookups += 1
            self._pool = self._store.create(MESSAGE_SUBJECT, self._pool_size)
        elif len(self._pool) <= self._pool_size // 2 and (self._refill is None or not self._refill.is_alive()):
            self._refill = threading.Thread(target=self._make_more, name="message-keys", daemon=True)
            self._refill.start()
        key = self._pool.pop()
        self._keep(key, self._monotonic())
        return key

    def _make_more(self) -> None:
        try:
            made = self._store.create(MESSAGE_SUBJECT, self._pool_size)
        except Exception:  # the next message makes its own when the pool runs dry
            return
        self._refilled = made  # handed over by one assignment: the loop thread takes it

    def create(self, subject: str, count: int) -> list[DataKey]:
        self.lookups += 1
        keys = self._store.create(subject, count)
        now = self._monotonic()
        for key in keys:
            self._keep(key, now)
        return keys

    def find(self, key_ids: Collection[str]) -> dict[str, DataKey]:
        now = self._monotonic()
        found: dict[str, DataKey] = {}
        wanted: list[str] = []
        for key_id in key_ids:
            held = self._by_id.get(key_id)
            if held is not None and held[1] > now:
                found[key_id] = held[0]
            elif key_id not in self._missing:
                wanted.append(key_id)
        if wanted:
            self.lookups += 1
            fetched = self._store.find(wanted)
            for key_id in wanted:
                key = fetched.get(key_id)
                if key is None:
                    self._forget(key_id)
                else:
                    found[key_id] = key
                    self._keep(key, now)
        return found

    def held(self, key_id: str) -> DataKey | None:
        """The key if held and fresh, None if known destroyed; ``LookupError`` otherwise (see ``find``)."""
        held = self._by_id.get(key_id)
        if held is not None and held[1] > self._monotonic():
            return held[0]
        if key_id in self._missing:
            return None
        raise LookupError(key_id)

    def _forget(self, key_id: str) -> None:
        self._by_id.pop(key_id, None)
        self._missing[key_id] = None
        if len(self._missing) > self._capacity:
            self._missing.popitem(last=False)

    def destroy(self, subject: str) -> list[str]:
        ids = self._store.destroy(subject)
        self._by_subject.pop(subject, None)
        for key_id in ids:
            self._forget(key_id)
        return ids

    def destroy_key(self, key_id: str) -> bool:
        destroyed = self._store.destroy_key(key_id)
        self._forget(key_id)
        self._pool = [key for key in self._pool if key.key_id != key_id]
        return destroyed

    def destroy_older_than(self, subject_prefix: str, before: str) -> list[str]:
        ids = self._store.destroy_older_than(subject_prefix, before)
        for subject in [s for s in self._by_subject if s.startswith(subject_prefix)]:
            del self._by_subject[subject]
        for key_id in ids:
            self._forget(key_id)
        return ids

    def close(self) -> None:
        if self._refill is not None:
            self._refill.join()
        self._store.close()
