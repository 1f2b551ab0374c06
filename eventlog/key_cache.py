"""A bounded in-memory cache in front of a ``KeyStore`` (itself one).

Keys found are kept for ``ttl`` seconds (the least recently used dropped past
``capacity``, half of it at a time: ``Recent``), so a key another process
destroyed stops opening here within ``ttl``; a key found missing is taken as
destroyed for ``ttl`` too (one destroyed here, for good), then read again (it
may have been one another node had just made, not yet written when read).

No key is made or read again on the event loop for a subject it holds: a
subject's key held past ``ttl`` is still used while a thread reads the subject
again (``key_for``), and is replaced by what that read found (a key another
process destroyed is so used for ``ttl`` and one read more: what it sealed then
is as erased).  A subject without any key gets one made here and written by the
key writer, a thread of its own that writes every key made meanwhile in one
commit (``KeyStore.add``); what a record is sealed with is written before the
record is appended: ``ready`` awaits it (``service/pipeline.py``), and ``written``
is the last check, on the thread that seals.  Destroying a subject runs in the
key writer's thread, after any write of its keys under way (``KeyWriter.destroy``),
and a read under way meanwhile does not bring a key destroyed here back.  A subject not held is read on the
calling thread (once; ``fetch_key_for`` reads it in a thread).
Chat message keys come from a pool made ``pool_size`` at a time, refilled in a
thread of its own a whole batch ahead, so posting a message writes no key
and waits for no write (unless the pool is empty: the first batch, or the pool ran
dry; then the command waits for the refill before its turn, off the loop:
``message_keys_ready``, which starts it when none is under way).  ``fetch`` reads keys ahead in
a thread of its own, within ``fetch_timeout``, so that the event loop opens a
message from another node (its own key never seen here) without a read of the
store on the loop (``service/hub.py``, ``Hub.deliver_from_bus``).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Collection, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

from domain.recent import Recent
from eventlog.key_port import DataKey, KeyStore, new_key, now_iso
from eventlog.ports import StoreUnavailable

_Asked = TypeVar("_Asked")
_Read = TypeVar("_Read")

MESSAGE_SUBJECT = "msg"
CAPACITY = 100_000
TTL = 30.0  # seconds
POOL_SIZE = 1024
FETCH_TIMEOUT = 1.0  # seconds: the store timeout (``--store-timeout``) in the service
_SWEEP_PAST = 256  # keys made and not yet seen written: those written are forgotten past this many


class KeyWriter:
    """Keys made on the event loop, written in a thread of its own: every key handed to
    ``write`` while a write is under way goes in the next one, one commit for them all
    (``KeyStore.add``).  ``write`` costs the loop no wait and no store call."""

    def __init__(self, store: KeyStore) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._queued: list[tuple[DataKey, Future[None]]] = []
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="key-writer")

    def write(self, key: DataKey) -> Future[None]:
        """Done once ``key`` is durable (its exception: the write failed)."""
        done: Future[None] = Future()
        with self._lock:
            self._queued.append((key, done))
            first = len(self._queued) == 1
        if first:  # else a write is queued that has not taken them yet: it takes this one too
            self._thread.submit(self._drain)
        return done

    def _drain(self) -> None:
        with self._lock:
            batch, self._queued = self._queued, []
        if not batch:
            return
        try:
            self._store.add([key for key, _ in batch])
        except BaseException as error:
            for _, done in batch:
                done.set_exception(error)
        else:
            for _, done in batch:
                done.set_result(None)

    def destroy(self, subject: str) -> list[str]:
        """Destroy ``subject``'s keys in the store, in the writer's thread: after every write
        under way (a key written after its subject was destroyed would exist again).  A key of
        ``subject`` still queued is not written: its write fails (what it sealed is refused);
        its id is among those returned."""
        return self._thread.submit(self._destroy, subject).result()

    def _destroy(self, subject: str) -> list[str]:
        with self._lock:
            dropped = [(key, done) for key, done in self._queued if key.subject == subject]
            self._queued = [(key, done) for key, done in self._queued if key.subject != subject]
        for _, done in dropped:
            done.set_exception(StoreUnavailable(f"the keys of {subject} were destroyed before this one was written"))
        return [*self._store.destroy(subject), *(key.key_id for key, _ in dropped)]

    def close(self) -> None:
        self._thread.shutdown(wait=True)  # what is queued is written before the store closes


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
        # the message keys handed out lately, apart: one per message, they would fill ``_by_id`` with
        # objects the cyclic collector walks on every pass (~4 µs of CPU per chat message at 100,000)
        # while a message's frames are opened moments after it is sealed; older ones are read again
        self._issued: Recent[str, tuple[DataKey, float]] = Recent(2 * pool_size)
        self._by_subject: OrderedDict[str, tuple[DataKey, float]] = OrderedDict()
        self._missing: OrderedDict[str, float] = OrderedDict()  # key id: until when it is taken as destroyed
        self._writer = KeyWriter(store)
        # keys made here, and their writes, until seen done
        self._unwritten: dict[str, tuple[DataKey, Future[None]]] = {}
        self._rereads: dict[str, Future[DataKey | None]] = {}  # subjects held past the ttl, read again
        self._pool: list[DataKey] = []
        # one thread, started once (starting a thread per refill made the loop wait for it to run)
        self._pool_maker = ThreadPoolExecutor(1, thread_name_prefix="message-keys")
        self._refill: Future[list[DataKey]] | None = None
        self.lookups = 0  # round trips to the store (for tests and metrics)

    def _keep(self, key: DataKey, now: float) -> bool:
        """Hold ``key``; False (not held) when it was destroyed meanwhile (a read under way
        while it was destroyed must not bring it back)."""
        if self._destroyed_here(key.key_id):
            return False
        self._by_id.put(key.key_id, (key, now + self._ttl))
        return True

    def key_for(self, subject: str) -> DataKey:
        now = self._monotonic()
        held = self._by_subject.get(subject)
        if held is not None:
            return held[0] if held[1] > now else self._stale(subject, held[0])
        self.lookups += 1
        key = self._store.newest(subject)
        if key is None:
            key = self._made(subject)
        self._hold_subject(subject, key, now)
        return key

    def _stale(self, subject: str, key: DataKey) -> DataKey:
        """A subject's key held past the ttl: still used while a thread reads the subject again,
        then what that read found (a new key made here when it found none: destroyed elsewhere)."""
        reread = self._rereads.get(subject)
        if reread is None:
            self.lookups += 1
            self._rereads[subject] = self._fetcher.submit(self._store.newest, subject)
            return key
        if not reread.done():
            return key
        del self._rereads[subject]
        try:
            found = reread.result()
        except Exception:  # the store did not answer: read again at the next use
            return key
        if found is None:
            unwritten = self._unwritten.get(key.key_id)
            found = key if unwritten is not None and not unwritten[1].done() else self._made(subject)
        self._hold_subject(subject, found, self._monotonic())
        return found

    def _made(self, subject: str) -> DataKey:
        """A new key of ``subject``, made here and handed to the key writer."""
        if len(self._unwritten) > _SWEEP_PAST:
            self._sweep()
        key = new_key(subject, now_iso())
        self._unwritten[key.key_id] = (key, self._writer.write(key))
        return key

    def _sweep(self) -> None:
        """Forget the writes done; a key whose write failed is no longer held (the next use makes another)."""
        for key_id, (key, write) in list(self._unwritten.items()):
            if write.done():
                del self._unwritten[key_id]
                if write.exception() is not None:
                    self._unhold(key)

    def _entry(self, key_id: str) -> tuple[DataKey, float] | None:
        held = self._by_id.get(key_id)
        return held if held is not None else self._issued.get(key_id)

    def _unhold(self, key: DataKey) -> None:
        """A key made here that could not be written: neither held by id nor as its subject's
        (whether or not ``_by_id`` still holds it: the subject's must go in any case)."""
        self._by_id.pop(key.key_id)
        by_subject = self._by_subject.get(key.subject)
        if by_subject is not None and by_subject[0].key_id == key.key_id:
            del self._by_subject[key.subject]

    def ready(self, subject: str) -> Awaitable[DataKey] | None:
        """None when ``key_for(subject)`` now returns a durable key without a read of the store;
        else what to await first (the read off the loop, or the write of the key made here).
        ``StoreUnavailable`` when the store does not answer within ``fetch_timeout``."""
        held = self._by_subject.get(subject)
        if held is None:
            return self.fetch_key_for(subject)
        # held past the ttl: read again (in a thread), and once read, the key to use from now on
        # (one made here when the read found none): its write is awaited here, not in ``written``
        key = held[0] if held[1] > self._monotonic() else self._stale(subject, held[0])
        if key.key_id not in self._unwritten:
            return None
        return self._written_ahead(key)

    async def _off_loop(self, read: Callable[[_Asked], _Read], asked: _Asked) -> _Read:
        """``read(asked)`` in a fetcher thread, within ``fetch_timeout``: ``StoreUnavailable`` past it
        (the thread's read may still finish; what it read is then not kept)."""
        pending = asyncio.get_running_loop().run_in_executor(self._fetcher, read, asked)
        try:
            return await asyncio.wait_for(pending, self._fetch_timeout)
        except TimeoutError:
            raise self._no_answer() from None

    def _no_answer(self) -> StoreUnavailable:
        return StoreUnavailable(f"the key store did not answer within {self._fetch_timeout:g}s")

    async def _written_ahead(self, key: DataKey) -> DataKey:
        unwritten = self._unwritten.get(key.key_id)
        if unwritten is not None:
            write = unwritten[1]
            if not write.done():
                try:  # shielded: the writer sets the result, whatever this wait does
                    await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(write)), self._fetch_timeout)
                except TimeoutError:
                    raise self._no_answer() from None
            self._check_written(key, write)
        return key

    def written(self, key: DataKey) -> None:
        """Returns once ``key`` is durable: at once for every key but one made here whose write
        is under way, which this waits for on the calling thread (``ready`` awaited first makes
        that rare).  ``StoreUnavailable`` when it could not be written."""
        unwritten = self._unwritten.get(key.key_id)
        if unwritten is None:
            return
        write = unwritten[1]
        try:
            write.result(self._fetch_timeout)
        except TimeoutError:
            raise self._no_answer() from None
        except Exception:
            pass  # told by ``_check_written``
        self._check_written(key, write)

    def _check_written(self, key: DataKey, write: Future[None]) -> None:
        self._unwritten.pop(key.key_id, None)
        error = write.exception()
        if error is not None:
            self._unhold(key)
            raise StoreUnavailable(f"a new key could not be written: {error}")

    async def fetch_key_for(self, subject: str) -> DataKey:
        """``key_for`` with the read of the store in a thread (and the key made, for a subject that
        has none, written by the key writer), within ``fetch_timeout``, so that sealing for
        ``subject`` next reads and writes nothing on the event loop.  ``StoreUnavailable`` as ``fetch``."""
        now = self._monotonic()
        held = self._by_subject.get(subject)
        if held is not None and held[1] > now:
            return await self._written_ahead(held[0]) if held[0].key_id in self._unwritten else held[0]
        self.lookups += 1
        key = await self._off_loop(self._store.newest, subject)
        if key is not None and self._destroyed_here(key.key_id):
            key = None  # destroyed while it was read: the subject has none now
        held = self._by_subject.get(subject)
        if key is None:  # none: the key made meanwhile (another command of theirs), else one made now
            key = held[0] if held is not None and held[1] > now else self._made(subject)
        self._hold_subject(subject, key, self._monotonic())
        return await self._written_ahead(key) if key.key_id in self._unwritten else key

    def _hold_subject(self, subject: str, key: DataKey, now: float) -> None:
        if not self._keep(key, now):  # destroyed while it was read: not held again
            return
        self._by_subject[subject] = (key, now + self._ttl)
        self._by_subject.move_to_end(subject)
        if len(self._by_subject) > self._capacity:
            evicted, _ = self._by_subject.popitem(last=False)
            self._rereads.pop(evicted, None)

    def message_key(self) -> DataKey:
        """A fresh key for one chat message (from the pool)."""
        refill = self._refill
        failed: BaseException | None = None
        if refill is not None and (refill.done() or not self._pool):
            # made, or the pool ran dry while a refill is under way (``message_keys_ready`` not awaited)
            self._refill = None
            try:
                self._pool = refill.result() + self._pool
            except Exception as error:
                failed = error
        if not self._pool:
            if failed is not None:  # not tried again here, on the loop: the next ``message_keys_ready`` does
                raise StoreUnavailable(f"message keys could not be made: {failed}")
            # ``message_keys_ready`` not awaited first (it starts the first batch off the loop): made here
            self.lookups += 1
            self._pool = self._store.create(MESSAGE_SUBJECT, self._pool_size)
        if self._refill is None and len(self._pool) <= self._pool_size:
            # a whole batch ahead (the pool holds up to two): a refill has the time of ``pool_size``
            # messages to be written, however slow the disk's flushes are meanwhile
            self._refill = self._pool_maker.submit(self._store.create, MESSAGE_SUBJECT, self._pool_size)
        key = self._pool.pop()
        self._issued.put(key.key_id, (key, self._monotonic() + self._ttl))
        return key

    def message_keys_ready(self) -> Awaitable[object] | None:
        """None when ``message_key`` has a key at hand; else the refill under way (started here
        when none is: the first batch, or the one after a refill failed), to await before, so
        that the pool running dry waits off the event loop, not on it."""
        if self._pool:
            return None
        refill = self._refill
        if refill is not None and refill.done():
            if refill.exception() is None:
                return None  # made: ``message_key`` takes them
            refill = None  # failed: tried again
        if refill is None:
            self.lookups += 1
            refill = self._refill = self._pool_maker.submit(self._store.create, MESSAGE_SUBJECT, self._pool_size)
        return asyncio.shield(asyncio.wrap_future(refill))

    def newest(self, subject: str) -> DataKey | None:
        held = self._by_subject.get(subject)
        if held is not None and held[1] > self._monotonic():
            return held[0]
        self.lookups += 1
        return self._store.newest(subject)

    def add(self, keys: Sequence[DataKey]) -> None:
        self._store.add(keys)
        now = self._monotonic()
        for key in keys:
            self._keep(key, now)

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
            held = self._entry(key_id)
            if held is not None and held[1] > now:
                found[key_id] = held[0]
            elif not self._is_missing(key_id, now):
                wanted.append(key_id)
        if wanted:
            self.lookups += 1
            found.update(self._take(wanted, self._store.find(wanted), now))
        return found

    def _take(self, wanted: list[str], fetched: dict[str, DataKey], now: float) -> dict[str, DataKey]:
        """Hold what a read of ``wanted`` found and note the rest missing: the keys kept."""
        kept: dict[str, DataKey] = {}
        for key_id in wanted:
            key = fetched.get(key_id)
            if key is None:
                self._forget(key_id, now + self._ttl)
            elif self._keep(key, now):
                kept[key_id] = key
        return kept

    def unheld(self, key_ids: Iterable[str]) -> list[str]:
        """Those of ``key_ids`` that only a read of the store can tell about (neither held nor
        known destroyed): what ``find`` would read, and what ``fetch`` reads ahead."""
        now = self._monotonic()
        wanted = []
        for key_id in key_ids:
            held = self._entry(key_id)
            if (held is None or held[1] <= now) and not self._is_missing(key_id, now):
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
        self._take(wanted, await self._off_loop(self._store.find, wanted), self._monotonic())

    def held(self, key_id: str) -> DataKey | None:
        """The key if held and fresh, None if known destroyed; ``LookupError`` otherwise (see ``find``)."""
        held = self._entry(key_id)
        now = self._monotonic()
        if held is not None and held[1] > now:
            return held[0]
        if self._is_missing(key_id, now):
            return None
        raise LookupError(key_id)

    def _is_missing(self, key_id: str, now: float) -> bool:
        until = self._missing.get(key_id)
        return until is not None and until > now

    def _destroyed_here(self, key_id: str) -> bool:
        return self._missing.get(key_id) == float("inf")

    def _forget(self, key_id: str, until: float = float("inf")) -> None:
        """Take ``key_id`` as destroyed: for good (destroyed here), or ``until`` (found missing)."""
        self._by_id.pop(key_id)
        self._issued.pop(key_id)
        self._missing[key_id] = until
        self._missing.move_to_end(key_id)
        if len(self._missing) > self._capacity:
            self._missing.popitem(last=False)

    def destroy(self, subject: str) -> list[str]:
        # in the writer's thread: a key of the subject made here and being written is written
        # first, then destroyed with the others (and one still queued is never written)
        ids = self._writer.destroy(subject)
        held = self._by_subject.pop(subject, None)
        self._rereads.pop(subject, None)
        for key_id in [*ids, held[0].key_id] if held is not None else ids:
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
            self._rereads.pop(subject, None)
        for key_id in ids:
            self._forget(key_id)
        return ids

    def close(self) -> None:
        self._pool_maker.shutdown(wait=True)  # a refill under way is written before the store closes
        self._writer.close()  # and so are the keys made here
        self._fetcher.shutdown(wait=True)
        self._store.close()
