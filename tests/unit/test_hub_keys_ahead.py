"""Messages from other nodes whose keys this node does not hold (a chat message's own key,
always): the keys are read ahead in a thread, never on the event loop, and the bus's order
is kept; a message whose keys cannot be read in time is not opened on the loop."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Collection
from pathlib import Path
from typing import Any

from eventlog.key_cache import CachedKeyStore
from eventlog.key_port import DataKey
from eventlog.ports import StoreUnavailable
from eventlog.records import LogRecord
from eventlog.sealing import MASK, Opener, seal
from eventlog.sqlite_keys import SqliteKeyStore
from service.hub import KEY_RETRIES, Hub
from service.metrics import Metrics
from service.privacy import RecordSealer
from tests.unit.test_hub_resync import Log, room_message, seated, settle


class WatchedKeys(SqliteKeyStore):
    """The SQLite key store, recording the thread of every read (and holding reads back
    while ``gate`` is clear)."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.read_on: list[str] = []
        self.gate = threading.Event()
        self.gate.set()

    def find(self, key_ids: Collection[str]) -> dict[str, DataKey]:
        self.read_on.append(threading.current_thread().name)
        self.gate.wait(5)
        return super().find(key_ids)


def sealed_on_another_node(path: Path, version: int) -> LogRecord:
    """A chat record sealed by another node (its keys made there, none held here)."""
    other = CachedKeyStore(SqliteKeyStore(str(path)))
    record = RecordSealer(other).seal(Log().add(version))
    other.close()
    return record


def from_bus(message: dict[str, Any]) -> dict[str, Any]:
    return {**message, "origin": "node-b"}


async def wait_for(condition: Any) -> None:
    for _ in range(500):
        if condition():
            return
        await asyncio.sleep(0.01)


async def test_keys_are_read_off_the_loop_and_the_bus_order_is_kept(tmp_path: Path) -> None:
    keys_path = tmp_path / "events.keys.db"
    first, second = sealed_on_another_node(keys_path, 1), sealed_on_another_node(keys_path, 2)
    store = WatchedKeys(str(keys_path))
    keys = CachedKeyStore(store)
    hub = Hub(Log(), Metrics(), node_id="n", revocations=asyncio.Queue(), changed=asyncio.Event(), opener=Opener(keys))  # type: ignore[arg-type]
    _, socket = seated(hub, "s1", 0)
    store.gate.clear()  # the store is slow: the first message waits for its keys
    hub.deliver_from_bus(from_bus(room_message(first)))
    hub.deliver_from_bus(from_bus(room_message(second)))  # behind it, though its keys could be read too
    await settle()
    assert socket.frames == []
    store.gate.set()
    await wait_for(lambda: len(socket.frames) == 2)
    assert socket.seqs == [1, 2]
    assert [f["data"]["message"] for f in socket.frames] == ["hi 1", "hi 2"]
    assert store.read_on and not any(name == threading.current_thread().name for name in store.read_on)
    keys.close()


async def test_a_message_whose_keys_do_not_come_in_time_is_not_opened_on_the_loop(tmp_path: Path) -> None:
    keys_path = tmp_path / "events.keys.db"
    record = sealed_on_another_node(keys_path, 1)
    store = WatchedKeys(str(keys_path))
    keys = CachedKeyStore(store, fetch_timeout=0.05)
    hub = Hub(Log(), Metrics(), node_id="n", revocations=asyncio.Queue(), changed=asyncio.Event(), opener=Opener(keys))  # type: ignore[arg-type]
    _, socket = seated(hub, "s1", 0)
    store.gate.clear()
    hub.deliver_from_bus(from_bus(room_message(record)))
    await wait_for(lambda: len(store.read_on) == 1)
    await asyncio.sleep(0.2)  # past the timeout
    assert socket.frames == []
    assert store.read_on == [name for name in store.read_on if name != threading.current_thread().name]
    store.gate.set()
    keys.close()


def sealed_note(path: Path, name: str) -> dict[str, Any]:
    """A message for one user from another node (a read receipt: no ``seq``, nothing in the
    log brings it back), with a name sealed under a key made there."""
    other = CachedKeyStore(SqliteKeyStore(str(path)))
    sealed = seal(name, [other.key_for(f"user:{name}")])
    other.close()
    return from_bus({"kind": "user", "userId": "u1", "event": "chat_read", "data": {"tripId": "t", "name": sealed}})


def plain_note(name: str) -> dict[str, Any]:
    return from_bus({"kind": "user", "userId": "u1", "event": "chat_read", "data": {"tripId": "t", "name": name}})


class KeysDown(WatchedKeys):
    def find(self, key_ids: Collection[str]) -> dict[str, DataKey]:
        self.read_on.append(threading.current_thread().name)
        raise StoreUnavailable("the key store is down")


async def test_a_message_without_seq_whose_keys_come_late_is_read_again_and_kept_in_order(tmp_path: Path) -> None:
    keys_path = tmp_path / "events.keys.db"
    note = sealed_note(keys_path, "Ada")
    store = WatchedKeys(str(keys_path))
    keys = CachedKeyStore(store, fetch_timeout=0.05)
    hub = Hub(Log(), Metrics(), node_id="n", revocations=asyncio.Queue(), changed=asyncio.Event(), opener=Opener(keys))  # type: ignore[arg-type]
    _, socket = seated(hub, "s1", 0)
    store.gate.clear()  # the first read does not come in time
    hub.deliver_from_bus(note)
    hub.deliver_from_bus(plain_note("Grace"))  # behind it
    await wait_for(lambda: len(store.read_on) == 1)
    await asyncio.sleep(0.1)  # past the timeout
    assert socket.frames == []
    store.gate.set()
    await wait_for(lambda: len(socket.frames) == 2)
    assert [f["data"]["name"] for f in socket.frames] == ["Ada", "Grace"]
    assert not any(name == threading.current_thread().name for name in store.read_on)
    keys.close()


async def test_a_message_without_seq_whose_keys_never_come_is_delivered_masked_and_counted(tmp_path: Path) -> None:
    keys_path = tmp_path / "events.keys.db"
    note = sealed_note(keys_path, "Ada")
    store = KeysDown(str(keys_path))
    keys = CachedKeyStore(store)
    metrics = Metrics()
    hub = Hub(Log(), metrics, node_id="n", revocations=asyncio.Queue(), changed=asyncio.Event(), opener=Opener(keys))  # type: ignore[arg-type]
    _, socket = seated(hub, "s1", 0)
    hub.deliver_from_bus(note)
    hub.deliver_from_bus(plain_note("Grace"))
    await wait_for(lambda: len(socket.frames) == 2)
    assert [f["data"]["name"] for f in socket.frames] == [MASK, "Grace"]
    assert len(store.read_on) == 1 + KEY_RETRIES
    assert not any(name == threading.current_thread().name for name in store.read_on)
    assert b'travelsense_bus_messages_unopened_total{outcome="masked"} 1.0' in metrics.exposition()
    keys.close()


async def test_a_room_record_whose_keys_cannot_be_read_is_dropped_and_counted(tmp_path: Path) -> None:
    keys_path = tmp_path / "events.keys.db"
    record = sealed_on_another_node(keys_path, 1)
    store = KeysDown(str(keys_path))
    keys = CachedKeyStore(store)
    metrics = Metrics()
    hub = Hub(Log(), metrics, node_id="n", revocations=asyncio.Queue(), changed=asyncio.Event(), opener=Opener(keys))  # type: ignore[arg-type]
    _, socket = seated(hub, "s1", 0)
    hub.deliver_from_bus(from_bus(room_message(record)))
    dropped = b'travelsense_bus_messages_unopened_total{outcome="dropped"} 1.0'
    await wait_for(lambda: dropped in metrics.exposition())
    assert dropped in metrics.exposition()
    assert socket.frames == []  # its seat fills the gap from the log when a later seq comes
    assert len(store.read_on) == 1  # not read again: the log has it
    keys.close()
