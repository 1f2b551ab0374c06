"""Pipelined appends (``SqliteEventStore.enqueue``): a failed stream record takes
every record of its stream queued behind it down with it, unwritten; records
queued after the failure is known are written as usual."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from eventlog.ports import VersionConflict
from eventlog.records import LogRecord
from eventlog.sqlite_store import SqliteEventStore
from tests.log_records import chat_record

STREAM = "650000000000000000000100"


def record(n: int, version: int, stream: str = STREAM) -> LogRecord:
    return chat_record(f"{n:024x}", stream, version)


async def test_successors_of_a_failed_record_fail_unwritten(tmp_path: Path) -> None:
    path = str(tmp_path / "events.db")
    other = SqliteEventStore(path)  # another node, sharing the file
    ours = SqliteEventStore(path)
    await other.open()
    await ours.open()
    try:
        await ours.append(record(1, 1))
        await other.append(record(2, 2))  # the other node takes version 2
        queued = [ours.enqueue(record(10 + i, 2 + i)) for i in range(3)]  # 2, 3, 4: decided on our version 2
        unrelated = ours.enqueue(record(20, 1, stream="650000000000000000000200"))
        results = await asyncio.gather(*queued, unrelated, return_exceptions=True)
        assert all(isinstance(r, VersionConflict) for r in results[:3]), results
        assert isinstance(results[3], LogRecord)
        versions = [r.version for r in await ours.read_stream(STREAM)]
        assert versions == [1, 2]  # nothing of the broken chain was written
        retry = await ours.enqueue(record(30, 3))  # decided again on the fresh state
        assert retry.version == 3
        assert [r.record_id for r in await ours.read_stream(STREAM)][-1] == f"{30:024x}"
    finally:
        await ours.close()
        await other.close()


async def test_records_queued_behind_a_failed_batch_of_their_stream_fail(tmp_path: Path) -> None:
    store = SqliteEventStore(str(tmp_path / "events.db"))
    await store.open()
    try:
        await store.append(record(1, 1))
        first = store.enqueue(record(2, 1))  # version 1 again: conflicts
        await asyncio.sleep(0)  # its batch is being written; the next waits in the queue
        second = store.enqueue(record(3, 2))
        with pytest.raises(VersionConflict):
            await first
        with pytest.raises(VersionConflict):
            await second
        assert [r.version for r in await store.read_stream(STREAM)] == [1]
    finally:
        await store.close()


def observed_batches(store: SqliteEventStore) -> list[int]:
    """The sizes of the batches the store commits (its own writer, only watched)."""
    sizes: list[int] = []
    write = store._insert_batch

    def watched(records: list[LogRecord]) -> list[LogRecord | Exception]:
        sizes.append(len(records))
        return write(records)

    store._insert_batch = watched  # type: ignore[method-assign]
    return sizes


async def queue_one_per_iteration(
    store: SqliteEventStore, first_version: int, n: int, busy: float = 0.0
) -> list[LogRecord]:
    """One append per loop iteration, each iteration ``busy`` seconds long (deciding a command)."""
    futures = []
    loop = asyncio.get_running_loop()
    for i in range(n):
        until = loop.time() + busy
        while loop.time() < until:
            pass
        futures.append(store.enqueue(record(100 + i, first_version + i)))
        await asyncio.sleep(0)  # the next frame is read in the next loop iteration
    return list(await asyncio.gather(*futures))


@pytest.mark.parametrize(
    ("steady", "busy", "second_commit"),
    # quick iterations: one is waited for (2); a second only if the machine stalled the first past 0.5 ms
    [(10.0, 0.001, (4,)), (0.0, 0.001, (1,)), (10.0, 0.0, (2, 3))],
    ids=["busy loop followed", "not under steady load", "quick iterations not followed"],
)
async def test_under_steady_load_a_commit_follows_a_busy_loop_while_it_queues_appends(
    tmp_path: Path, steady: float, busy: float, second_commit: tuple[int, ...]
) -> None:
    store = SqliteEventStore(str(tmp_path / "events.db"), steady=steady, follow_max=10.0)
    await store.open()
    try:
        sizes = observed_batches(store)
        await store.append(record(1, 1))  # just committed: the node counts as under steady load
        stored = await queue_one_per_iteration(store, 2, 4, busy)
        assert [r.version for r in stored] == [2, 3, 4, 5]
        # following a busy loop, the four appends queued in four (1 ms) iterations share one
        # commit; not under load the first goes alone; with quick iterations (a loop with little
        # to do) the commit waits one iteration only
        assert sizes[0] == 1 and sizes[1] in second_commit
        assert sum(sizes) == 5
    finally:
        await store.close()


async def test_after_a_pause_an_append_commits_at_once_alone(tmp_path: Path) -> None:
    store = SqliteEventStore(str(tmp_path / "events.db"), steady=0.05)
    await store.open()
    try:
        sizes = observed_batches(store)
        await store.append(record(1, 1))
        await asyncio.sleep(0.1)  # longer than ``steady``: no longer under load
        await queue_one_per_iteration(store, 2, 3)
        assert sizes[:2] == [1, 1]
    finally:
        await store.close()
