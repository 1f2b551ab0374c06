"""Readiness tells the truth about writes: an append refused for an unreachable store
(a full disk, a closed store) counts against it until a later append succeeds or the
window passes, and is counted in a metric."""

from __future__ import annotations

from pathlib import Path

import pytest

from eventlog.ports import StoreUnavailable
from eventlog.sqlite_store import SqliteEventStore
from handlers.health import WRITES_WINDOW, writes_ok
from service.metrics import AppendState, MeteredStore, Metrics
from tests.log_records import chat_record

STREAM = "650000000000000000000100"


def test_a_failed_append_counts_against_writes_for_the_window_only() -> None:
    assert writes_ok(AppendState(), 100.0)  # no append yet
    assert writes_ok(AppendState(ok=True, at=99.0), 100.0)
    assert not writes_ok(AppendState(ok=False, at=99.0), 100.0)
    assert writes_ok(AppendState(ok=False, at=99.0), 99.0 + WRITES_WINDOW + 1)


async def test_the_metered_store_remembers_an_append_refused_for_an_unreachable_store(tmp_path: Path) -> None:
    metrics = Metrics()
    store = MeteredStore(SqliteEventStore(str(tmp_path / "events.db")), metrics)
    await store.open()
    await store.append(chat_record("1" * 24, STREAM, 1))
    assert store.last_append.ok
    await store.close()  # from now on the store refuses every append as unavailable
    with pytest.raises(StoreUnavailable):
        await store.append(chat_record("2" * 24, STREAM, 2))
    assert not store.last_append.ok and store.last_append.at > 0
    assert b"store_unavailable_total 1.0" in metrics.exposition()
