"""One contract for every key store adapter (SQLite file, MongoDB collection through the
real driver against nx-27017), bare and behind the bounded cache."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest
from pymongo import MongoClient

from domain.recent import Recent
from eventlog.factory import open_key_store
from eventlog.key_cache import CachedKeyStore
from eventlog.key_port import DataKey, KeyStore, new_keys, now_iso
from eventlog.memory_keys import MemoryKeyStore
from eventlog.mongo_keys import DATA_KEYS, MongoKeyStore
from eventlog.ports import StoreUnavailable
from eventlog.sqlite_keys import SqliteKeyStore, keys_path
from tests.key_stores import PassingKeyStore
from tests.mongo_server import Nx27017, free_port, unique_database

KeyStoreFactory = Callable[[], KeyStore]


@pytest.fixture(params=["sqlite", "mongo", "memory", "sqlite-cached", "mongo-cached"])
def make_keys(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[KeyStoreFactory]:
    opened: list[KeyStore] = []
    kind = request.param.split("-")[0]
    memory = MemoryKeyStore()  # one store: "reopening" it is seeing the same keys

    def make() -> KeyStore:
        bare: KeyStore
        if kind == "memory":
            bare = memory
        elif kind == "sqlite":
            bare = SqliteKeyStore(str(tmp_path / "events.keys.db"))
        else:
            url: str = request.getfixturevalue("mongo_url")
            database: str = request.getfixturevalue("mongo_database")
            bare = MongoKeyStore(url, database=database)
        store = CachedKeyStore(bare) if request.param.endswith("cached") else bare
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


def test_a_subject_keeps_one_key_across_reopening(make_keys: KeyStoreFactory) -> None:
    keys = make_keys()
    first = keys.key_for("user:ada")
    keys.close()  # the cache's key made for a new subject is written once closed, if not before
    assert make_keys().key_for("user:ada") == first
    assert len(first.material) == 32
    assert make_keys().key_for("user:grace").key_id != first.key_id


def test_created_keys_are_distinct_and_found_by_id(make_keys: KeyStoreFactory) -> None:
    keys = make_keys()
    made = keys.create("msg", 5)
    assert len({k.key_id for k in made}) == 5
    assert len({k.material for k in made}) == 5
    found = make_keys().find([made[0].key_id, made[3].key_id, "no-such-key"])
    assert found == {made[0].key_id: made[0], made[3].key_id: made[3]}


def test_destroying_a_subject_destroys_all_its_keys_and_no_other(make_keys: KeyStoreFactory) -> None:
    keys = make_keys()
    ada = keys.key_for("user:ada")
    again = keys.create("user:ada", 1)[0]  # a second key of the same subject (two nodes at once)
    grace = keys.key_for("user:grace")
    assert sorted(keys.destroy("user:ada")) == sorted([ada.key_id, again.key_id])
    assert keys.find([ada.key_id, again.key_id, grace.key_id]) == {grace.key_id: grace}
    assert make_keys().find([ada.key_id, again.key_id]) == {}
    assert keys.key_for("user:ada").key_id not in {ada.key_id, again.key_id}  # a new key after erasure


def test_destroying_one_key(make_keys: KeyStoreFactory) -> None:
    keys = make_keys()
    one, other = keys.create("msg", 2)
    assert keys.destroy_key(one.key_id)
    assert not keys.destroy_key(one.key_id)
    assert keys.find([one.key_id, other.key_id]) == {other.key_id: other}


def test_destroying_by_age_and_subject_prefix(make_keys: KeyStoreFactory) -> None:
    keys = make_keys()
    old_net = keys.key_for("net:2026-12-01")
    person = keys.key_for("user:ada")
    time.sleep(0.002)
    cutoff = keys.create("marker", 1)[0].created_at
    time.sleep(0.002)
    new_net = keys.key_for("net:2026-12-07")
    assert keys.destroy_older_than("net:", cutoff) == [old_net.key_id]
    assert keys.find([old_net.key_id, new_net.key_id, person.key_id]) == {
        new_net.key_id: new_net,
        person.key_id: person,
    }


def test_sqlite_keys_live_beside_the_log_and_leave_no_bytes_once_destroyed(tmp_path: Path) -> None:
    path = keys_path(str(tmp_path / "events.db"))
    assert path == str(tmp_path / "events.keys.db")
    keys = SqliteKeyStore(path)
    doomed = keys.key_for("user:ada")
    kept = keys.key_for("user:grace")
    keys.destroy("user:ada")
    files = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("events.keys.db"))
    keys.close()
    assert doomed.material not in files
    assert kept.material in b"".join(p.read_bytes() for p in tmp_path.iterdir())


def test_mongo_keys_are_a_collection_of_their_own(mongo_url: str, mongo_database: str) -> None:
    keys = MongoKeyStore(mongo_url, database=mongo_database)
    doomed = keys.key_for("user:ada")
    keys.destroy("user:ada")
    keys.close()
    client: MongoClient[dict[str, object]] = MongoClient(mongo_url)
    try:
        database = client[mongo_database]
        assert database.list_collection_names() == [DATA_KEYS]
        assert database[DATA_KEYS].count_documents({}) == 0
        assert doomed.key_id
    finally:
        client.close()


def test_the_cache_meets_the_store_once_per_key_and_is_bounded(tmp_path: Path) -> None:
    now = [0.0]
    cache = CachedKeyStore(SqliteKeyStore(str(tmp_path / "k.db")), capacity=2, ttl=10, monotonic=lambda: now[0])
    ada = cache.key_for("user:ada")
    cache.key_for("user:ada")
    cache.find([ada.key_id])
    assert cache.lookups == 1
    now[0] = 11  # past the ttl: asked again (another process may have destroyed it)
    cache.key_for("user:ada")
    assert cache.lookups == 2
    many = cache.create("msg", 5)
    assert cache.find([k.key_id for k in many]) == {k.key_id: k for k in many}  # 3 were evicted: read again
    assert cache.lookups == 4
    cache.close()


def test_message_keys_come_from_a_pool_refilled_ahead(tmp_path: Path) -> None:
    cache = CachedKeyStore(SqliteKeyStore(str(tmp_path / "k.db")), pool_size=4)
    made = [cache.message_key() for _ in range(10)]
    cache.close()  # waits for a refill under way
    assert len({k.key_id for k in made}) == 10
    reopened = SqliteKeyStore(str(tmp_path / "k.db"))
    assert set(reopened.find([k.key_id for k in made])) == {k.key_id for k in made}  # each durable before use
    reopened.close()


def test_the_cache_reads_keys_ahead_and_then_holds_them(make_keys: KeyStoreFactory) -> None:
    made = make_keys().create("msg", 3)
    destroyed = made[2].key_id
    make_keys().destroy_key(destroyed)
    cache = CachedKeyStore(make_keys())
    ids = [k.key_id for k in made]
    assert cache.unheld(ids) == ids
    asyncio.run(cache.fetch(ids))
    assert cache.lookups == 1 and cache.unheld(ids) == []
    assert cache.held(ids[0]) == made[0] and cache.held(destroyed) is None  # known destroyed: no read
    asyncio.run(cache.fetch(ids))
    assert cache.lookups == 1
    cache.close()


def test_the_cache_is_bounded_by_generations() -> None:
    recent: Recent[int, int] = Recent(4)
    for n in range(100):
        recent.put(n, n)
        assert len(recent) <= 4
    assert recent.get(99) == 99 and recent.get(0) is None
    lately: Recent[str, int] = Recent(4)
    lately.put("read", 1)
    lately.put("unread", 2)  # both in the old generation now
    assert lately.get("read") == 1  # read: young again
    lately.put("new", 3)  # the old generation (the unread one) is dropped
    assert lately.get("read") == 1 and lately.get("unread") is None and lately.get("new") == 3


def test_keys_made_many_at_once_are_destroyed_one_by_one(make_keys: KeyStoreFactory) -> None:
    keys = make_keys()
    made = keys.create("msg", 4)
    assert keys.destroy_key(made[1].key_id) and not keys.destroy_key(made[1].key_id)
    assert make_keys().find([k.key_id for k in made]) == {k.key_id: k for k in made if k is not made[1]}
    for key in (made[0], made[2], made[3]):
        assert keys.destroy_key(key.key_id)
    assert make_keys().find([k.key_id for k in made]) == {}
    more = keys.create("msg", 3)
    assert sorted(keys.destroy("msg")) == sorted(k.key_id for k in more)


def test_a_batch_keys_destroyed_bytes_are_left_nowhere(tmp_path: Path) -> None:
    keys = SqliteKeyStore(str(tmp_path / "events.keys.db"))
    doomed, kept = keys.create("msg", 2)
    keys.destroy_key(doomed.key_id)
    files = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("events.keys.db"))
    keys.close()
    assert doomed.material not in files and kept.material in files


class SlowLink:
    """A TCP relay to a server that holds back each new connection's first answer for
    ``delay`` seconds: a cluster far away, where connecting again (after an outage cleared
    the driver's pool) takes that long.  Threads of its own; ``close`` stops them."""

    def __init__(self, target_port: int, delay: float) -> None:
        self._target_port = target_port
        self._delay = delay
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._open: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed
            try:
                server = socket.create_connection(("127.0.0.1", self._target_port))
            except OSError:
                client.close()  # the server is down: the driver sees the connection fail
                continue
            self._open += [client, server]
            threading.Thread(target=self._pipe, args=(client, server, 0.0), daemon=True).start()
            threading.Thread(target=self._pipe, args=(server, client, self._delay), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket, first_delay: float) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                if first_delay:
                    time.sleep(first_delay)
                    first_delay = 0.0
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        self._listener.close()
        for connection in self._open:
            connection.close()


def _until_answered(keys: KeyStore, subject: str, deadline: float = 60.0) -> str:
    """The key of ``subject`` once the store answers again (the driver's monitor finds a
    restarted server on its own heartbeat, 10 s by default); fails past ``deadline``."""
    give_up = time.monotonic() + deadline
    while True:
        try:
            return keys.key_for(subject).key_id
        except StoreUnavailable:
            if time.monotonic() > give_up:
                raise
            time.sleep(0.2)


def test_mongo_keys_refuse_a_server_that_hangs_and_answer_once_it_wakes(tmp_path: Path) -> None:
    """A server that holds a connection and answers nothing (stopped, not killed) is refused
    within the store timeout given to the factory: the calls run on the event loop."""
    server = Nx27017(tmp_path / "nx")
    url = server.start()
    keys = open_key_store(url + unique_database(), timeout=0.5)
    assert server.process is not None
    pid = server.process.pid
    outcome: list[BaseException | str] = []

    def call() -> None:
        try:
            outcome.append(keys.key_for("user:grace").key_id)
        except BaseException as error:  # the test reports what happened
            outcome.append(error)

    try:
        keys.key_for("user:ada")
        os.kill(pid, signal.SIGSTOP)
        caller = threading.Thread(target=call, daemon=True)
        caller.start()
        # 20 times the store timeout: without it, a call waits for the driver's monitor to give
        # up on the server (connectTimeoutMS, 20 s), the event loop frozen all along
        caller.join(10)
        assert outcome and isinstance(outcome[0], StoreUnavailable), outcome
        with pytest.raises(StoreUnavailable):
            keys.key_for("user:grace")  # known down: refused at once
        os.kill(pid, signal.SIGCONT)
        assert _until_answered(keys, "user:grace")
    finally:
        os.kill(pid, signal.SIGCONT)
        keys.close()
        server.stop()


def test_mongo_keys_come_back_by_themselves_after_an_outage_of_a_far_server(tmp_path: Path) -> None:
    """A killed server is refused; once it restarts, a call has the whole store timeout to
    connect again (here 0.3 s of round trip, slower than a moment), so the keys come back
    without a restart of the node."""
    server = Nx27017(tmp_path / "nx")
    server.start()
    link = SlowLink(server.port, delay=0.3)
    keys = MongoKeyStore(f"mongodb://127.0.0.1:{link.port}/", database=unique_database(), timeout=2.0)
    try:
        ada = keys.key_for("user:ada").key_id
        server.kill()
        with pytest.raises(StoreUnavailable):
            keys.key_for("user:ada")
        with pytest.raises(StoreUnavailable):
            keys.key_for("user:ada")
        server.start(port=server.port)
        assert _until_answered(keys, "user:ada") == ada
    finally:
        keys.close()
        link.close()
        server.stop()


def test_mongo_keys_opened_while_the_server_is_down_answer_once_it_is_up(tmp_path: Path) -> None:
    """A node started during an outage: its first calls (which would make the index) are
    refused, and the keys answer once the server is up."""
    server = Nx27017(tmp_path / "nx")
    port = free_port()
    keys = MongoKeyStore(f"mongodb://127.0.0.1:{port}/", database=unique_database(), timeout=0.5)
    try:
        with pytest.raises(StoreUnavailable):
            keys.key_for("user:ada")
        with pytest.raises(StoreUnavailable):
            keys.key_for("user:ada")
        server.start(port=port)
        assert _until_answered(keys, "user:ada")
    finally:
        keys.close()
        server.stop()


def test_keys_made_by_the_caller_are_added_at_once_and_durably(make_keys: KeyStoreFactory) -> None:
    keys = make_keys()
    assert keys.newest("user:nobody") is None  # nothing is made by asking
    made = new_keys("user:ada", 2, now_iso()) + new_keys("net:2026-12-07", 1, now_iso())
    keys.add(made)
    keys.add(made[:1])  # a key added again (a write retried) is left as it was
    keys.close()
    again = make_keys()
    assert again.find([k.key_id for k in made]) == {k.key_id: k for k in made}
    assert again.newest("net:2026-12-07") == made[2]
    assert again.newest("user:ada") in made[:2]
    assert again.newest("user:nobody") is None


class WritesNoted(PassingKeyStore):
    """The real SQLite key store, noting the thread of every call that writes, and letting a test
    hold the writes back (``gate``)."""

    def __init__(self, store: SqliteKeyStore) -> None:
        super().__init__(store)
        self.writes: list[tuple[int, int]] = []  # (thread, keys written)
        self.gate = threading.Event()
        self.gate.set()
        self.fail: Exception | None = None  # what every write raises, when set (the store down)

    def create(self, subject: str, count: int) -> list[DataKey]:
        self.writes.append((threading.get_ident(), count))
        return self._store.create(subject, count)

    def add(self, keys: Sequence[DataKey]) -> None:
        self.gate.wait(10)
        if self.fail is not None:
            raise self.fail
        self.writes.append((threading.get_ident(), len(keys)))
        self._store.add(keys)


async def test_new_subjects_keys_are_written_off_the_loop_many_at_once(tmp_path: Path) -> None:
    noted = WritesNoted(SqliteKeyStore(str(tmp_path / "k.db")))
    cache = CachedKeyStore(noted)
    noted.gate.clear()  # the first write waits: the keys made meanwhile go in the next one
    made = [cache.key_for(f"user:{n}") for n in range(50)]
    waits = [cache.ready(f"user:{n}") for n in range(50)]
    assert all(wait is not None for wait in waits)  # made, not written yet: a record sealed with one waits
    noted.gate.set()
    assert await asyncio.gather(*[wait for wait in waits if wait is not None]) == made
    assert all(cache.ready(f"user:{n}") is None for n in range(50))
    assert threading.get_ident() not in {thread for thread, _ in noted.writes}
    assert sum(count for _, count in noted.writes) == 50 and len(noted.writes) <= 2
    cache.close()
    reopened = SqliteKeyStore(str(tmp_path / "k.db"))
    assert reopened.find([k.key_id for k in made]) == {k.key_id: k for k in made}
    assert reopened.newest("user:7") == made[7]
    reopened.close()


def test_a_key_being_written_is_waited_for_before_it_seals_a_record(tmp_path: Path) -> None:
    noted = WritesNoted(SqliteKeyStore(str(tmp_path / "k.db")))
    cache = CachedKeyStore(noted)
    noted.gate.clear()
    key = cache.key_for("user:ada")
    threading.Timer(0.05, noted.gate.set).start()
    cache.written(key)  # the last check on the sealing thread: returns once the key is durable
    assert noted.writes and cache.ready("user:ada") is None
    reopened = SqliteKeyStore(str(tmp_path / "k.db"))
    assert reopened.find([key.key_id]) == {key.key_id: key}
    reopened.close()
    cache.close()


async def test_a_key_that_could_not_be_written_is_refused_and_not_used_again(tmp_path: Path) -> None:
    class Down(WritesNoted):
        def add(self, keys: Sequence[DataKey]) -> None:
            raise StoreUnavailable("the key store is down")

    cache = CachedKeyStore(Down(SqliteKeyStore(str(tmp_path / "k.db"))))
    lost = cache.key_for("user:ada")
    wait = cache.ready("user:ada")
    assert wait is not None
    with pytest.raises(StoreUnavailable):
        await wait
    assert cache.key_for("user:ada") != lost  # another key is made for the next record
    cache.close()


async def test_a_subject_held_past_the_ttl_is_read_again_off_the_loop(tmp_path: Path) -> None:
    now = [0.0]
    bare = SqliteKeyStore(str(tmp_path / "k.db"))
    ada = bare.key_for("user:ada")
    reads: list[int] = []

    class Reads(WritesNoted):
        def newest(self, subject: str) -> DataKey | None:
            reads.append(threading.get_ident())
            return super().newest(subject)

    cache = CachedKeyStore(Reads(bare), ttl=10, monotonic=lambda: now[0])
    assert await cache.fetch_key_for("user:ada") == ada
    bare.destroy("user:ada")  # another process erased them
    now[0] = 11
    assert cache.key_for("user:ada") == ada  # still used while read again in a thread
    for _ in range(500):
        key = cache.key_for("user:ada")
        if key != ada:
            break
        await asyncio.sleep(0.01)
    assert key != ada  # found destroyed: a new key, made here and written off the loop
    assert await cache.fetch_key_for("user:ada") == key
    assert threading.get_ident() not in reads
    cache.close()
    reopened = SqliteKeyStore(str(tmp_path / "k.db"))
    assert reopened.newest("user:ada") == key
    reopened.close()


async def test_a_dry_message_key_pool_is_waited_for_off_the_loop(tmp_path: Path) -> None:
    class SlowBatches(WritesNoted):
        def create(self, subject: str, count: int) -> list[DataKey]:
            if self.writes:  # the refills wait for the gate (a disk slow to flush)
                self.gate.wait(10)
            return super().create(subject, count)

    noted = SlowBatches(SqliteKeyStore(str(tmp_path / "k.db")))
    cache = CachedKeyStore(noted, pool_size=4)
    first = cache.message_keys_ready()
    assert first is not None  # the first batch too is made off the loop, awaited before the first message
    await first
    assert cache.message_keys_ready() is None
    noted.gate.clear()
    made = [cache.message_key() for _ in range(4)]  # the first batch; its refill is under way
    wait = cache.message_keys_ready()
    assert wait is not None  # dry: a command waits for the refill before its turn
    noted.gate.set()
    await wait
    assert cache.message_keys_ready() is None
    made.append(cache.message_key())
    assert len({k.key_id for k in made}) == 5
    cache.close()
    assert threading.get_ident() not in {thread for thread, _ in noted.writes}


async def test_a_failed_message_key_refill_is_tried_again_off_the_loop_not_on_it(tmp_path: Path) -> None:
    class Down(WritesNoted):
        def create(self, subject: str, count: int) -> list[DataKey]:
            if self.fail is not None:
                raise self.fail
            return super().create(subject, count)

    noted = Down(SqliteKeyStore(str(tmp_path / "k.db")))
    cache = CachedKeyStore(noted, pool_size=4)
    noted.fail = StoreUnavailable("the key store is down")
    wait = cache.message_keys_ready()
    assert wait is not None
    with pytest.raises(StoreUnavailable):
        await wait
    with pytest.raises(StoreUnavailable):
        cache.message_key()  # not made on the loop instead
    noted.fail = None
    again = cache.message_keys_ready()
    assert again is not None  # tried again, off the loop
    await again
    assert cache.message_key().subject == "msg"
    cache.close()
    assert threading.get_ident() not in {thread for thread, _ in noted.writes}


def test_message_keys_handed_out_are_held_a_while_and_then_read_again(tmp_path: Path) -> None:
    """One key per chat message: the cache holds the last few thousand (their frames are opened
    moments after), not 100,000 objects for the cyclic collector to walk; older ones are read."""
    cache = CachedKeyStore(SqliteKeyStore(str(tmp_path / "k.db")), pool_size=8)
    made = [cache.message_key() for _ in range(64)]
    assert cache.held(made[-1].key_id) == made[-1]  # just handed out: no read
    with pytest.raises(LookupError):
        cache.held(made[0].key_id)  # long ago: only the store can tell
    lookups = cache.lookups
    assert cache.find([made[0].key_id]) == {made[0].key_id: made[0]}
    assert cache.lookups == lookups + 1
    cache.close()


def test_destroy_while_a_write_is_pending_leaves_the_key_destroyed(tmp_path: Path) -> None:
    """A key made here and still being written when its subject is destroyed: the destroy comes
    after the write (never the write after the destroy), and this node no longer opens with it."""
    noted = WritesNoted(SqliteKeyStore(str(tmp_path / "k.db")))
    cache = CachedKeyStore(noted)
    noted.gate.clear()  # the write of the key made below is under way, held back
    key = cache.key_for("user:ada")
    threading.Timer(0.05, noted.gate.set).start()
    assert key.key_id in cache.destroy("user:ada")
    assert cache.held(key.key_id) is None  # known destroyed: nothing opens with it here
    assert cache.key_for("user:ada") != key  # the person's next record gets a new key
    cache.close()
    reopened = SqliteKeyStore(str(tmp_path / "k.db"))
    assert reopened.find([key.key_id]) == {}  # not written again after the destroy
    reopened.close()


async def test_a_key_read_while_its_subject_is_destroyed_is_not_held_again(tmp_path: Path) -> None:
    bare = SqliteKeyStore(str(tmp_path / "k.db"))
    ada = bare.key_for("user:ada")
    read, release = threading.Event(), threading.Event()

    class SlowReads(WritesNoted):
        def newest(self, subject: str) -> DataKey | None:
            found = super().newest(subject)  # found before the destroy, answered after it
            read.set()
            release.wait(10)
            return found

    cache = CachedKeyStore(SlowReads(bare))
    fetch = asyncio.ensure_future(cache.fetch_key_for("user:ada"))
    await asyncio.get_running_loop().run_in_executor(None, read.wait, 10)
    assert cache.destroy("user:ada") == [ada.key_id]
    release.set()
    assert await fetch != ada  # the subject has none now: a new key
    assert cache.held(ada.key_id) is None
    assert cache.find([ada.key_id]) == {}
    cache.close()


async def test_a_key_that_could_not_be_written_is_let_go_of_even_once_dropped_from_the_ids_held(
    tmp_path: Path,
) -> None:
    """The subject's key is let go of by the subject, not found through the keys held by id
    (bounded: they may have dropped it meanwhile), so no record is sealed with it afterwards."""
    noted = WritesNoted(SqliteKeyStore(str(tmp_path / "k.db")))
    others = [key.key_id for key in noted.create("other", 8)]
    cache = CachedKeyStore(noted, capacity=4)
    noted.fail = StoreUnavailable("the key store is down")
    lost = cache.key_for("user:ada")
    wait = cache.ready("user:ada")
    assert wait is not None
    assert len(cache.find(others)) == 8  # held by id meanwhile: ada's key is dropped from them
    with pytest.raises(StoreUnavailable):
        await wait
    noted.fail = None
    assert cache.key_for("user:ada") != lost
    cache.close()


async def test_a_stale_subject_found_without_keys_gets_its_new_key_written_before_the_record(tmp_path: Path) -> None:
    """Read again past the ttl and found without keys (destroyed elsewhere): the new key made here
    is what ``ready`` awaits, so that sealing the record then waits for no write on the loop."""
    now = [0.0]
    bare = SqliteKeyStore(str(tmp_path / "k.db"))
    ada = bare.key_for("user:ada")
    noted = WritesNoted(bare)
    cache = CachedKeyStore(noted, ttl=10, monotonic=lambda: now[0])
    assert await cache.fetch_key_for("user:ada") == ada
    bare.destroy("user:ada")  # another process erased them
    now[0] = 11
    noted.gate.clear()  # the new key's write waits
    assert cache.ready("user:ada") is None  # read again in a thread; the key held is used meanwhile
    for _ in range(500):
        wait = cache.ready("user:ada")
        if wait is not None:
            break
        await asyncio.sleep(0.01)
    assert wait is not None  # found none: a new key, its write awaited before the record's turn
    noted.gate.set()
    key = await wait
    assert key != ada and cache.key_for("user:ada") == key and cache.ready("user:ada") is None
    cache.close()
