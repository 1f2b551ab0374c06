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
from eventlog.records import LogRecord
from eventlog.sealing import Opener
from eventlog.sqlite_keys import SqliteKeyStore
from service.hub import Hub
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
