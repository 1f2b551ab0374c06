"""``GET /api/people``'s directory (``service.signin.PeopleDirectory``) and the names in
tickets, on the service layer: the directory lists only the most recently signed-in people
(``--people-kept``), keeps their names sealed under their keys, and an erased person is no
longer listed: forgotten at once where the erasure ran, and masked (so dropped) wherever
else their name was kept."""

from __future__ import annotations

import base64
import datetime as dt
import threading
from collections.abc import AsyncIterator, Collection, Sequence
from pathlib import Path

import pytest

from app import build
from config import Limits, Settings
from eventlog.key_cache import CachedKeyStore
from eventlog.key_port import DataKey
from eventlog.memory_people import MemoryPeopleSeen
from eventlog.memory_tickets import MemorySpentTickets
from eventlog.people_port import SeenPerson
from eventlog.ports import StoreUnavailable
from eventlog.sealing import Opener, is_sealed
from eventlog.sqlite_keys import SqliteKeyStore
from service.auth import Identity
from service.container import Services
from service.pipeline import Origin
from service.privacy import RecordSealer, person_subject
from service.signin import PeopleDirectory, RealtimeTickets
from tests.key_stores import PassingKeyStore

ADA, GRACE, LINUS, ADMIN = (f"{n:024x}" for n in (0xADA, 0x6ACE, 0x1105, 0xAD))


def signed_in(user_id: str, name: str) -> Identity:
    return Identity(user_id, "user", name, 2_000_000_000)


@pytest.fixture
async def services(tmp_path: Path) -> AsyncIterator[Services]:
    settings = Settings(
        store_url=f"sqlite:///{tmp_path / 'events.db'}", jwt_secret="s" * 32, limits=Limits(people_kept=2)
    )
    built = await build(settings)
    try:
        yield built
    finally:
        await built.store.close()


async def test_only_the_most_recently_signed_in_people_are_listed(services: Services) -> None:
    for user_id, name in ((ADA, "Ada"), (GRACE, "Grace"), (LINUS, "Linus")):
        await services.people.met(signed_in(user_id, name))
    assert [p.name for p in await services.people.everyone()] == ["Grace", "Linus"]  # Ada, the least recent, went
    await services.people.met(signed_in(GRACE, "Grace"))
    await services.people.met(signed_in(ADA, "Ada"))
    assert [p.name for p in await services.people.everyone()] == ["Ada", "Grace"]


async def test_an_erased_person_is_no_longer_listed(services: Services) -> None:
    await services.people.met(signed_in(ADA, "Ada"))
    await services.people.met(signed_in(GRACE, "Grace"))
    assert services.erasure is not None
    await services.erasure.erase_person(Origin("rest", ADMIN, "admin"), ADA)
    assert [p.user_id for p in await services.people.everyone()] == [GRACE]


class Now:
    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)

    def monotonic(self) -> float:
        return 0.0


async def test_names_are_kept_sealed_and_an_erased_person_s_masks_and_is_dropped_untold(tmp_path: Path) -> None:
    keys = CachedKeyStore(SqliteKeyStore(str(tmp_path / "events.keys.db")))
    seen = MemoryPeopleSeen(10)  # as another node's directory shares it on Redis
    people = PeopleDirectory(seen, Now(), seal_name=RecordSealer(keys).seal_name_ahead, opener=Opener(keys))
    await people.met(signed_in(ADA, "Ada Lovelace"))
    await people.met(signed_in(GRACE, "Grace"))
    kept = {person.user_id: person.name for person in await seen.recent()}
    assert all(is_sealed(name) and "Ada" not in name for name in kept.values())
    assert [p.name for p in await people.everyone()] == ["Ada Lovelace", "Grace"]

    keys.destroy(person_subject(ADA))  # the erasure, on a node that did not tell this one
    assert [p.name for p in await people.everyone()] == ["Grace"]  # not "[erased]"
    assert [person.user_id for person in await seen.recent()] == [GRACE]  # and forgotten
    keys.close()


class Unreachable:
    async def saw(self, person: SeenPerson, at: float) -> None:
        raise StoreUnavailable("Redis is down")

    async def recent(self) -> list[SeenPerson]:
        raise StoreUnavailable("Redis is down")

    async def forget(self, user_id: str) -> None:
        raise StoreUnavailable("Redis is down")


async def test_a_sign_in_is_noted_at_best_effort_and_the_list_says_it_is_unavailable() -> None:
    people = PeopleDirectory(Unreachable(), Now())
    await people.met(signed_in(ADA, "Ada"))  # a ticket is not refused for it
    with pytest.raises(StoreUnavailable):  # GET /api/people: 503 UNAVAILABLE
        await people.everyone()


async def test_a_ticket_carries_its_buyer_s_name_sealed_and_an_erased_buyer_s_not_at_all(tmp_path: Path) -> None:
    """Tickets go in URLs: the name in one is sealed like the directory's (``RealtimeTickets``)."""
    keys = CachedKeyStore(SqliteKeyStore(str(tmp_path / "events.keys.db")))
    tickets = RealtimeTickets(
        b"shared", MemorySpentTickets(), Now(), seal_name=RecordSealer(keys).seal_name, opener=Opener(keys)
    )
    ada = signed_in(ADA, "Ada Lovelace")
    first, second = tickets.issue(ada), tickets.issue(ada)
    assert b"Lovelace" not in base64.urlsafe_b64decode(first.split(".")[0] + "==")
    assert await tickets.redeem(first) == ada
    keys.destroy(person_subject(ADA))
    assert (await tickets.redeem(second)).name is None  # erased meanwhile: no "[erased]" in the room
    keys.close()


class ThreadsOfReads(PassingKeyStore):
    """The real SQLite key store, noting the thread of each call that reads or makes a key."""

    def __init__(self, store: SqliteKeyStore) -> None:
        super().__init__(store)
        self.threads: list[int] = []
        self.writes: list[int] = []  # the keys made by the cache, written many at once

    def key_for(self, subject: str) -> DataKey:
        self.threads.append(threading.get_ident())
        return self._store.key_for(subject)

    def newest(self, subject: str) -> DataKey | None:
        self.threads.append(threading.get_ident())
        return self._store.newest(subject)

    def create(self, subject: str, count: int) -> list[DataKey]:
        self.threads.append(threading.get_ident())
        return self._store.create(subject, count)

    def add(self, keys: Sequence[DataKey]) -> None:
        self.writes.append(threading.get_ident())
        self._store.add(keys)

    def find(self, key_ids: Collection[str]) -> dict[str, DataKey]:
        self.threads.append(threading.get_ident())
        return self._store.find(key_ids)


async def test_signing_in_and_listing_read_no_key_on_the_event_loop_and_list_in_one_read(tmp_path: Path) -> None:
    """A sign-in may make the person's key, and a node with a cold cache (restarted, or the
    names signed in on other nodes) lists people whose keys it never held: both read the
    store in a thread, the list in one read for every name (not one per person)."""
    path = str(tmp_path / "events.keys.db")
    seen = MemoryPeopleSeen(300)
    meeting = ThreadsOfReads(SqliteKeyStore(path))
    keys = CachedKeyStore(meeting)
    people = PeopleDirectory(seen, Now(), seal_name=RecordSealer(keys).seal_name_ahead, opener=Opener(keys))
    everyone = [(f"{0x5EE0000 + n:024x}", f"Person {n:03}") for n in range(300)]
    for user_id, name in everyone:
        await people.met(signed_in(user_id, name))
    keys.close()

    listing = ThreadsOfReads(SqliteKeyStore(path))
    cold = CachedKeyStore(listing)  # another node: none of their keys held
    other = PeopleDirectory(seen, Now(), seal_name=RecordSealer(cold).seal_name_ahead, opener=Opener(cold))
    assert [p.name for p in await other.everyone()] == [name for _, name in everyone]
    cold.close()

    loop = threading.get_ident()
    assert len(meeting.threads) == 300 and loop not in meeting.threads
    assert 1 <= len(meeting.writes) <= 300 and loop not in meeting.writes
    assert len(listing.threads) == 1 and loop not in listing.threads


class KeysDown(ThreadsOfReads):
    def find(self, key_ids: Collection[str]) -> dict[str, DataKey]:
        self.threads.append(threading.get_ident())
        raise StoreUnavailable("the key store is down")


async def test_a_name_whose_key_cannot_be_read_is_left_out_and_not_forgotten(tmp_path: Path) -> None:
    path = str(tmp_path / "events.keys.db")
    seen = MemoryPeopleSeen(10)
    keys = CachedKeyStore(SqliteKeyStore(path))
    people = PeopleDirectory(seen, Now(), seal_name=RecordSealer(keys).seal_name_ahead, opener=Opener(keys))
    await people.met(signed_in(ADA, "Ada"))
    keys.close()
    down = KeysDown(SqliteKeyStore(path))
    cold = CachedKeyStore(down)
    other = PeopleDirectory(seen, Now(), opener=Opener(cold))
    assert await other.everyone() == []  # not listed now (nor read on the event loop)
    assert [person.user_id for person in await seen.recent()] == [ADA]  # but not forgotten either
    assert threading.get_ident() not in down.threads
    cold.close()
