"""Personal data in the log (#19): what is sealed, under which keys, and what destroying
a message's key or the old network keys does; on the SQLite log and key store."""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

import domain.trip_events as trip_events
from analysts.verify import verify
from app import build
from config import Settings
from domain.errors import CommandRefused, ErrorCode
from domain.trip_decider import CreateTrip
from domain.trip_events import (
    ActivityAdded,
    ActivityMoved,
    ActivityRemoved,
    ActivityUpdated,
    ChangeNotified,
    ChatMessageDeleted,
    ChatMessageEdited,
    ChatMessagePosted,
    ChatReactionsChanged,
    CollaboratorAdded,
    CollaboratorRemoved,
    ConstraintAdded,
    ConstraintRemoved,
    ConstraintUpdated,
    DayAdded,
    DayRemoved,
    DayUpdated,
    DecidedEvent,
    InvitesRevoked,
    NotificationCreated,
    Reverted,
    TripCreated,
    TripRestored,
    event_to_json,
)
from eventlog.factory import open_store
from eventlog.key_cache import CachedKeyStore
from eventlog.key_port import DataKey
from eventlog.ports import StoreUnavailable
from eventlog.records import ACCEPTED, REFUSED, LogRecord, new_record
from eventlog.sealing import MASK, Opener, key_ids
from eventlog.sqlite_keys import SqliteKeyStore
from projections.read_side import ReadSide
from service.breaker import StoreBreaker
from service.clock import SystemClock
from service.container import Services
from service.erasure import destroy_network_keys_before
from service.ids import ObjectIdFactory
from service.pipeline import Origin, Pipeline, Request
from service.privacy import RecordSealer, person_subject
from tests.contract.test_key_store import WritesNoted
from tests.contract.test_mongo_read_models import FRIEND, OWNER, session, who
from tests.server import ROOT

SECRET = "Zanzibar-secret"
ID = "6b1600000000000000000001"

# one of every event, each with free text wherever it can hold some
SAMPLES: dict[type, DecidedEvent] = {
    TripCreated: TripCreated(
        ID, SECRET, OWNER, (FRIEND,), ({"dayId": ID, "date": "2026-12-01", "title": SECRET, "activities": []},)
    ),
    CollaboratorAdded: CollaboratorAdded(FRIEND),
    CollaboratorRemoved: CollaboratorRemoved(FRIEND),
    InvitesRevoked: InvitesRevoked(),
    DayAdded: DayAdded({"dayId": ID, "date": "2026-12-02", "title": SECRET}),
    DayRemoved: DayRemoved(ID),
    ActivityAdded: ActivityAdded(ID, {"activityId": ID, "title": SECRET, "location": SECRET, "notes": SECRET}),
    ActivityUpdated: ActivityUpdated(ID, ID, {"title": SECRET, "notes": SECRET, "location": SECRET}),
    ActivityRemoved: ActivityRemoved(ID, ID),
    ConstraintAdded: ConstraintAdded(
        {"constraintId": ID, "type": "diet", "value": [SECRET, {"text": SECRET}], "description": SECRET}
    ),
    ConstraintRemoved: ConstraintRemoved(ID),
    ChatMessagePosted: ChatMessagePosted(ID, OWNER, SECRET, SECRET, "text", (FRIEND,)),
    ChatMessageEdited: ChatMessageEdited(ID, OWNER, SECRET, "2026-12-07T02:00:00.000Z"),
    ChatMessageDeleted: ChatMessageDeleted(ID, OWNER, FRIEND, "2026-12-07T02:00:00.000Z"),
    ChatReactionsChanged: ChatReactionsChanged(ID, OWNER, FRIEND, "👍", True, (("👍", (FRIEND,)),)),
    NotificationCreated: NotificationCreated(ID, FRIEND, ID, ID, OWNER, SECRET),
    DayUpdated: DayUpdated(ID, {"title": SECRET}, {"title": {"value": SECRET, "by": FRIEND, "version": 3}}),
    ActivityMoved: ActivityMoved(ID, ID, 0, ID, 1),
    ConstraintUpdated: ConstraintUpdated(
        ID, {"description": SECRET}, {"description": {"value": SECRET, "by": FRIEND, "version": 3}}
    ),
    Reverted: Reverted("undo", 3, ActivityUpdated(ID, ID, {"title": SECRET, "notes": SECRET})),
    TripRestored: TripRestored(
        2,
        ({"dayId": ID, "date": "2026-12-01", "title": SECRET, "activities": [{"activityId": ID, "title": SECRET}]},),
        ({"constraintId": ID, "type": "note", "value": 1, "description": SECRET},),
    ),
    ChangeNotified: ChangeNotified(
        ID,
        FRIEND,
        ID,
        4,
        "activity_updated",
        OWNER,
        SECRET,
        None,
        ({"itemId": ID, "field": "title", "from": SECRET, "to": SECRET, "yourVersion": 3},),
        0,
    ),
}


@pytest.fixture
def keys(tmp_path: Path) -> Iterator[CachedKeyStore]:
    store = CachedKeyStore(SqliteKeyStore(str(tmp_path / "events.keys.db")))
    yield store
    store.close()


def test_every_event_class_has_a_sample_here() -> None:
    """An event class added to domain/trip_events.py fails this until its free text is shown sealed below."""
    classes = {
        value
        for _, value in inspect.getmembers(trip_events, inspect.isclass)
        if dataclasses.is_dataclass(value) and value.__module__ == trip_events.__name__
    }
    assert classes == set(SAMPLES)


@pytest.mark.parametrize("kind", list(SAMPLES), ids=lambda kind: kind.__name__)
def test_no_free_text_of_any_event_is_logged_in_the_clear(kind: type, keys: CachedKeyStore) -> None:
    event = event_to_json(SAMPLES[kind])
    record = new_record(
        record_id=ID, at="2026-12-07T02:00:00.000Z", source="ws", command="x", outcome=ACCEPTED, user_id=OWNER,
        payload={"message": SECRET, "data": {"notes": SECRET}}, events=(event,),
        meta={"ip": "203.0.113.5", "userAgent": SECRET, "role": "user"},
    )  # fmt: skip
    sealed = RecordSealer(keys).seal(record)
    logged = orjson.dumps([sealed.events, sealed.payload, sealed.meta])
    assert SECRET.encode() not in logged and b"203.0.113.5" not in logged
    assert Opener(keys).open(list(sealed.events)) == [event]  # and it opens back to what it was


def test_a_refusal_s_echo_of_the_input_is_sealed(keys: CachedKeyStore) -> None:
    error = {"code": "VALIDATION_ERROR", "message": "bad", "details": {"title": [SECRET]}}
    record = new_record(
        record_id=ID, at="2026-12-07T02:00:00.000Z", source="ws", command="x", outcome=REFUSED, user_id=OWNER,
        payload={"title": SECRET}, error=error,
    )  # fmt: skip
    sealed = RecordSealer(keys).seal(record)
    assert SECRET.encode() not in orjson.dumps([sealed.payload, sealed.error])
    assert sealed.error["code"] == "VALIDATION_ERROR"  # the audit still counts refusals by code


def test_records_without_a_person_are_logged_as_they_came(keys: CachedKeyStore) -> None:
    record = new_record(
        record_id=ID, at="2026-12-07T02:00:00.000Z", source="system", command="checkpoint", outcome=ACCEPTED,
        payload={"title": "kept"},
    )  # fmt: skip
    assert RecordSealer(keys).seal(record) == record


def test_network_keys_destroyed_by_age_mask_addresses_and_agents_only(keys: CachedKeyStore) -> None:
    record = new_record(
        record_id=ID, at="2026-12-07T02:00:00.000Z", source="ws", command="connect", outcome=ACCEPTED, user_id=OWNER,
        payload={"message": SECRET}, meta={"ip": "203.0.113.5", "userAgent": "Agent/1", "hidden": False},
    )  # fmt: skip
    sealed = RecordSealer(keys).seal(record)
    opener = Opener(keys)
    assert opener.open(sealed.meta) == {"ip": "203.0.113.5", "userAgent": "Agent/1", "hidden": False}
    assert destroy_network_keys_before(keys, datetime.now(UTC) - timedelta(days=1)) == 0  # none that old
    assert destroy_network_keys_before(keys, datetime.now(UTC) + timedelta(seconds=1)) == 1
    assert opener.open(sealed.meta) == {"ip": MASK, "userAgent": MASK, "hidden": False}
    assert opener.open(sealed.payload) == {"message": SECRET}  # the person's own key is untouched


@pytest.fixture
async def services(tmp_path: Path) -> AsyncIterator[Services]:
    built = await build(Settings(store_url=f"sqlite:///{tmp_path / 'events.db'}", jwt_secret="s" * 32))
    try:
        yield built
    finally:
        await built.store.close()


async def test_destroying_one_message_s_key_masks_that_message_and_its_previews_only(services: Services) -> None:
    trip_id = await session(services)  # FRIEND says "hi 0", "hi 1", "hi 2"
    assert services.shredder is not None and services.opener is not None
    page = await services.read_side.chat_page(trip_id, 10, None)
    assert page is not None
    victim = page[1]["messageId"]
    assert await services.shredder.destroy_message_key(trip_id, victim) == 1
    assert await services.shredder.destroy_message_key(trip_id, victim) == 0  # gone already
    opened = services.opener.open(await services.read_side.chat_page(trip_id, 10, None))
    assert [m["message"] for m in opened] == ["hi 0", MASK, "hi 2"]
    assert {m["name"] for m in opened} == {"user-2"}  # the author's name is theirs, not the message's
    logged = services.opener.open([r.events for r in await services.store.read_all(0, 10_000)])
    assert "hi 1" not in orjson.dumps(logged).decode() and "hi 0" in orjson.dumps(logged).decode()
    report = await verify(services.store)
    assert report.intact, report


async def test_a_deleted_message_record_shreds_the_message(services: Services) -> None:
    """The reaction the chat issue's delete is wired to (``MessageShredder.shred_deleted_messages``)."""
    trip_id = await session(services)
    assert services.shredder is not None and services.opener is not None
    page = await services.read_side.chat_page(trip_id, 10, None)
    assert page is not None
    deleted = new_record(
        record_id=ID, at="2026-12-07T02:00:00.000Z", source="ws", command="delete_chat_message", outcome=ACCEPTED,
        user_id=FRIEND, stream=trip_id, version=99,
        events=({"type": "chat_message_deleted", "data": {"messageId": page[0]["messageId"]}},),
    )  # fmt: skip
    await services.shredder.shred_deleted_messages(deleted)
    opened = services.opener.open(await services.read_side.chat_page(trip_id, 10, None))
    assert [m["message"] for m in opened] == [MASK, "hi 1", "hi 2"]


async def test_erasing_a_person_masks_their_text_keeps_the_trip_s_shape_and_others_data(services: Services) -> None:
    trip_id = await session(services)  # OWNER made "Porto"; FRIEND chatted and added three days
    assert services.erasure is not None and services.opener is not None
    record = await services.erasure.erase_person(Origin("rest", OWNER, "admin"), FRIEND)
    assert record.events[0] == {"type": "person_erased", "data": {"userId": FRIEND, "keysDestroyed": 1}}
    assert record.user_id == OWNER  # who erased whom, and when (record.at)
    trip = await services.trips.visible_trip(who(OWNER), trip_id)
    shown = services.opener.open(trip.to_json())
    assert shown["title"] == "Porto" and [d["date"] for d in shown["days"]] == [
        "2026-12-01",
        "2026-12-02",
        "2026-12-03",
    ]
    page = services.opener.open(await services.read_side.chat_page(trip_id, 10, None))
    assert [m["message"] for m in page] == [MASK] * 3 and [m["seq"] for m in page] == [2, 4, 6]
    report = await verify(services.store)
    assert report.intact, report


async def test_the_erase_command_erases_a_person_and_records_who_asked(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'events.db'}"
    built = await build(Settings(store_url=url, jwt_secret="s" * 32))
    try:
        await session(built)  # FRIEND says "hi 0".."hi 2"
    finally:
        await built.store.close()
        for closing in built.closing:
            await closing.close()
    erased = subprocess.run(
        [sys.executable, str(ROOT / "app.py"), "erase", "--user", FRIEND, "--store", url, "--by", "dpo"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert erased.returncode == 0, erased.stderr
    assert orjson.loads(erased.stdout)["keysDestroyed"] == 1
    exported = subprocess.run(
        [sys.executable, str(ROOT / "app.py"), "export", "--store", url, "--progress", "off"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert exported.returncode == 0, exported.stderr
    assert "hi 1" not in exported.stdout and MASK in exported.stdout and "Porto" in exported.stdout
    [record] = [orjson.loads(line) for line in exported.stdout.splitlines() if "person_erased" in line]
    assert record["events"] == [{"type": "person_erased", "data": {"userId": FRIEND, "keysDestroyed": 1, "by": "dpo"}}]
    verified = subprocess.run(
        [sys.executable, str(ROOT / "app.py"), "verify", "--store", url], capture_output=True, text=True, check=False
    )
    assert verified.returncode == 0, verified.stdout


def test_a_message_s_preview_is_sealed_once_for_every_member_notified(keys: CachedKeyStore) -> None:
    message = event_to_json(ChatMessagePosted(ID, OWNER, "Ada", SECRET, "text"))
    notes = [event_to_json(NotificationCreated(f"n{i}", f"u{i}", ID, ID, OWNER, SECRET)) for i in range(3)]
    record = new_record(
        record_id=ID, at="2026-12-07T02:00:00.000Z", source="ws", command="chat_message", outcome=ACCEPTED,
        user_id=OWNER, events=(message, *notes),
    )  # fmt: skip
    sealed = RecordSealer(keys).seal(record)
    previews = {event["data"]["preview"] for event in sealed.events[1:]}
    assert len(previews) == 1 and SECRET not in next(iter(previews))
    assert Opener(keys).open(list(sealed.events)) == [message, *notes]


def test_aggregated_security_events_keep_no_address_in_the_clear(keys: CachedKeyStore) -> None:
    record = new_record(
        record_id=ID, at="2026-12-07T02:00:00.000Z", source="ws", command="security_events", outcome=REFUSED,
        meta={"source": "ip:203.0.113.9", "ips": ["203.0.113.9", "198.51.100.4"], "count": 3},
    )  # fmt: skip
    sealed = RecordSealer(keys).seal(record)
    assert b"203.0.113.9" not in orjson.dumps(sealed.meta) and b"198.51.100.4" not in orjson.dumps(sealed.meta)
    assert Opener(keys).open(sealed.meta) == record.meta


class _Quiet:
    async def committed(self, record: LogRecord) -> None:
        return None


async def test_a_new_person_s_record_is_appended_only_once_their_key_is_durable(tmp_path: Path) -> None:
    """Their key is made on the event loop and written by the key writer (no store write on the
    loop); the record sealed with it waits for that write, then is appended."""
    noted = WritesNoted(SqliteKeyStore(str(tmp_path / "events.keys.db")))
    keys = CachedKeyStore(noted)
    store = open_store(f"sqlite:///{tmp_path / 'events.db'}")
    await store.open()
    pipeline = Pipeline(store, ReadSide(store), _Quiet(), SystemClock(), ObjectIdFactory(), sealer=RecordSealer(keys))
    noted.gate.clear()  # the key store's writes wait
    request = Request(Origin("ws", OWNER), "connect", meta={"ip": "203.0.113.5", "userAgent": SECRET})
    recording = asyncio.ensure_future(pipeline.record(request, ({"type": "connected", "data": {}},)))
    await asyncio.sleep(0.2)
    assert not recording.done() and await store.read_all(0, 10) == []  # not appended before its keys
    noted.gate.set()
    record = await recording
    assert [r.record_id for r in await store.read_all(0, 10)] == [record.record_id]
    assert threading.get_ident() not in {thread for thread, _ in noted.writes}
    keys.close()
    await store.close()
    reopened = SqliteKeyStore(str(tmp_path / "events.keys.db"))
    assert Opener(CachedKeyStore(reopened)).open(record.meta) == {"ip": "203.0.113.5", "userAgent": SECRET}


@pytest.mark.parametrize("outage", ["refuses", "hangs"])
async def test_a_key_store_that_does_not_answer_refuses_that_command_only_not_the_event_log(
    tmp_path: Path, outage: str
) -> None:
    """A new person's key cannot be written (the key store refuses, or outlasts the timeout): their
    command is refused UNAVAILABLE, and not recorded; the event log's breaker stays closed, so the
    next command of someone whose key is held is appended as usual."""
    noted = WritesNoted(SqliteKeyStore(str(tmp_path / "events.keys.db")))
    keys = CachedKeyStore(noted)
    held = keys.key_for(person_subject(FRIEND))
    keys.written(held)
    store = open_store(f"sqlite:///{tmp_path / 'events.db'}")
    await store.open()
    breaker = StoreBreaker()
    pipeline = Pipeline(
        store, ReadSide(store), _Quiet(), SystemClock(), ObjectIdFactory(),
        store_timeout=0.2, sealer=RecordSealer(keys), breaker=breaker,
    )  # fmt: skip
    if outage == "refuses":
        noted.fail = StoreUnavailable("the key store is down")
    else:
        noted.gate.clear()
    request = Request(Origin("ws", OWNER), "connect")
    with pytest.raises(CommandRefused) as refused:
        await pipeline.record(request, ({"type": "connected", "data": {}},))
    assert refused.value.code == ErrorCode.UNAVAILABLE and "key store" in refused.value.message
    assert await pipeline.refuse(request, refused.value) is None  # not recorded: it would wait on the same keys
    assert not breaker.open
    record = await pipeline.record(Request(Origin("ws", FRIEND), "connect"), ({"type": "connected", "data": {}},))
    assert [r.record_id for r in await store.read_all(0, 10)] == [record.record_id]
    noted.gate.set()
    keys.close()
    await store.close()


class _Midnight:
    """A clock read first just before midnight, then just after: the day turns between a
    command's keys made ready and its record built."""

    def __init__(self) -> None:
        self.reads = 0

    def now(self) -> datetime:
        self.reads += 1
        before = datetime(2026, 12, 7, 23, 59, 59, 999000, tzinfo=UTC)
        return before if self.reads == 1 else before + timedelta(milliseconds=2)

    def monotonic(self) -> float:
        return 0.0


@pytest.mark.parametrize("path", ["record", "stream"])
async def test_the_network_key_made_ready_is_the_day_the_record_is_sealed_on(tmp_path: Path, path: str) -> None:
    """The day turns between the keys made ready and the record built: the new day's network
    key is read and written off the event loop too, and the record is sealed with it."""
    reads: list[tuple[int, str]] = []

    class Reads(WritesNoted):
        def newest(self, subject: str) -> DataKey | None:
            reads.append((threading.get_ident(), subject))
            return super().newest(subject)

    keys = CachedKeyStore(Reads(SqliteKeyStore(str(tmp_path / "events.keys.db"))))
    store = open_store(f"sqlite:///{tmp_path / 'events.db'}")
    await store.open()
    clock = _Midnight()
    pipeline = Pipeline(store, ReadSide(store), _Quiet(), clock, ObjectIdFactory(), sealer=RecordSealer(keys))
    origin, meta = Origin("ws", OWNER), {"ip": "203.0.113.5"}
    if path == "record":
        record = await pipeline.record(Request(origin, "connect", meta=meta), ({"type": "connected", "data": {}},))
    else:
        trip = CreateTrip(ID, "Lisbon", OWNER, (), (), ())
        record = (await pipeline.run(Request(origin, "create_trip", {}, trip_id=ID, meta=meta), trip)).record
    assert record.at.startswith("2026-12-08")
    assert threading.get_ident() not in {thread for thread, _ in reads}  # no key read on the loop
    assert "net:2026-12-08" in {subject for _, subject in reads}
    assert Opener(keys).open(record.meta) == meta
    keys.close()
    await store.close()


async def test_a_live_name_goes_on_the_bus_only_sealed_with_a_durable_key(tmp_path: Path) -> None:
    """A room signal naming someone whose key is being written waits for that write (off the
    loop): another node reading the key then finds it, and does not mask the name."""
    noted = WritesNoted(SqliteKeyStore(str(tmp_path / "events.keys.db")))
    keys = CachedKeyStore(noted)
    sealer = RecordSealer(keys)
    noted.gate.clear()  # the new person's key is made, its write held back a moment
    threading.Timer(0.05, noted.gate.set).start()
    sealed = await sealer.seal_live({"kind": "room", "event": "typing", "data": {"userId": FRIEND, "name": SECRET}})
    name = sealed["data"]["name"]
    other_node = SqliteKeyStore(str(tmp_path / "events.keys.db"))
    assert name != SECRET and set(other_node.find(key_ids(name))) == set(key_ids(name))
    assert Opener(CachedKeyStore(other_node)).open(name) == SECRET
    keys.close()
