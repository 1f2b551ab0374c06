"""A bounded in-memory cache in front of a ``KeyStore`` (itself one).

Keys found are kept for ``ttl`` seconds (the least recently used dropped past
``capacity``, half of it at a time: ``Recent``), so a key another process
destroyed stops opening here within ``ttl``; a key found missing stays missing
(a destroyed key never returns).
Chat message keys come from a pool made ``pool_size`` at a time, refilled in a
thread of its own once half of it is used, so posting a message writes no key
and waits for no write (unless the pool ran dry).  ``fetch`` reads keys ahead in
a thread of its own, within ``fetch_timeout``, so that the event loop opens a
message from another node (its own key never seen here) without a read of the
store on the loop (``service/hub.py``, ``Hub.deliver_from_bus``).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterable
from concurrent.futures import Future, ThreadPoolExecutor

from domain.recent import Recent as Recent  # re-exported: eventlog/sealing.py imports it from here
from eventlog.key_port import DataKey, KeyStore
from eventlog.ports import StoreUnavailable

MESSAGE_SUBJECT = "msg"
CAPACITY = 100_000
TTL = 30.0  # seconds
POOL_SIZE = 1024
FETCH_TIMEOUT = 1.0  # seconds: the store timeout (``--store-timeout``) in the service


class CachedKeyStore:
    def __init__(
        self,
        store: KeyStore,
        *,
        capacity: int = CAPACITY,
        ttl: float = TTL,
        pool_size: int = POOL_SIZE,
        fetch_timeout: float = FETCH_TIMEOUT,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._fetch_timeout = fetch_timeout
        # reads for ``fetch``: never on the event loop, and not in the loop's default executor
        # (a store that hangs would take its threads from everyone)
        self._fetcher = ThreadPoolExecutor(2, thread_name_prefix="key-fetch")
        self._capacity = capacity
        self._ttl = ttl
        self._pool_size = pool_size
        self._monotonic = monotonic
        self._by_id: Recent[str, tuple[DataKey, float]] = Recent(capacity)
        self._by_subject: OrderedDict[str, tuple[DataKey, float]] = OrderedDict()
        self._missing: OrderedDict[str, None] = OrderedDict()
        self._pool: list[DataKey] = []
        # one thread, started once (starting a thread per refill made the loop wait for it to run)
        self._pool_maker = ThreadPoolExecutor(1, thread_name_prefix="message-keys")
        self._refill: Future[list[DataKey]] | None = None
        self.lookups = 0  # round trips to the store (for tests and metrics)

    def _keep(self, key: DataKey, now: float) -> None:
        self._by_id.put(key.key_id, (key, now + self._ttl))

    def key_for(self, subject: str) -> DataKey:
        now = self._monotonic()
        held = self._by_subject.get(subject)
        if held is not None and held[1] > now:
            return held[0]
        self.lookups += 1
        key = self._store.key_for(subject)
        self._hold_subject(subject, key, now)
        return key

    async def fetch_key_for(self, subject: str) -> DataKey:
        """``key_for`` with the read of the store (and the key made, for a subject that has
        none) in a thread, within ``fetch_timeout``, so that sealing for ``subject`` next
        reads nothing on the event loop.  ``StoreUnavailable`` as ``fetch``."""
        held = self._by_subject.get(subject)
        if held is not None and held[1] > self._monotonic():
            return held[0]
        self.lookups += 1
        read = asyncio.get_running_loop().run_in_executor(self._fetcher, self._store.key_for, subject)
        try:
            key = await asyncio.wait_for(read, self._fetch_timeout)
        except TimeoutError:
            raise StoreUnavailable(f"the key store did not answer within {self._fetch_timeout:g}s") from None
        self._hold_subject(subject, key, self._monotonic())
        return key

    def _hold_subject(self, subject: str, key: DataKey, now: float) -> None:
        self._by_subject[subject] = (key, now + self._ttl)
        self._by_subject.move_to_end(subject)
        if len(self._by_subject) > self._capacity:
            self._by_subject.popitem(last=False)
        self._keep(key, now)

    def message_key(self) -> DataKey:
        """A fresh key for one chat message (from the pool)."""
        refill = self._refill
        if refill is not None and (refill.done() or not self._pool):
            # made, or the pool ran dry while a refill is under way (it is nearly done)
            self._refill = None
            with contextlib.suppress(Exception):  # failed: made below when the pool is dry
                self._pool = refill.result() + self._pool
        if not self._pool:  # the first message, or a refill failed: made here
            self.lookups += 1
            self._pool = self._store.create(MESSAGE_SUBJECT, self._pool_size)
        elif self._refill is None and len(self._pool) <= self._pool_size // 2:
            self._refill = self._pool_maker.submit(self._store.create, MESSAGE_SUBJECT, self._pool_size)
        key = self._pool.pop()
        self._keep(key, self._monotonic())
        return key

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

    def unheld(self, key_ids: Iterable[str]) -> list[str]:
        """Those of ``key_ids`` that only a read of the store can tell about (neither held nor
        known destroyed): what ``find`` would read, and what ``fetch`` reads ahead."""
        now = self._monotonic()
        wanted = []
        for key_id in key_ids:
            held = self._by_id.get(key_id)
            if (held is None or held[1] <= now) and key_id not in self._missing:
                wanted.append(key_id)
        return wanted

    async def fetch(self, key_ids: Iterable[str]) -> None:
        """Read ahead the keys of ``key_ids`` not held, in a thread, so that opening what needs
        them does not read the store on the event loop (a MongoDB round trip, or a wait for a
        server to be selected).  ``StoreUnavailable`` when the store does not answer within
        ``fetch_timeout`` (the thread's read may still finish; its keys are then not kept)."""
        wanted = self.unheld(key_ids)
        if not wanted:
            return
        self.lookups += 1
        read = asyncio.get_running_loop().run_in_executor(self._fetcher, self._store.find, wanted)
        try:
            fetched = await asyncio.wait_for(read, self._fetch_timeout)
        except TimeoutError:
            raise StoreUnavailable(f"the key store did not answer within {self._fetch_timeout:g}s") from None
        now = self._monotonic()
        for key_id in wanted:
            key = fetched.get(key_id)
            if key is None:
                self._forget(key_id)
            else:
                self._keep(key, now)

    def held(self, key_id: str) -> DataKey | None:
        """The key if held and fresh, None if known destroyed; ``LookupError`` otherwise (see ``find``)."""
        held = self._by_id.get(key_id)
        if held is not None and held[1] > self._monotonic():
            return held[0]
        if key_id in self._missing:
            return None
        raise LookupError(key_id)

    def _forget(self, key_id: str) -> None:
        self._by_id.pop(key_id)
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
        self._pool_maker.shutdown(wait=True)  # a refill under way is written before the store closes
        self._fetcher.shutdown(wait=True)
        self._store.close()
