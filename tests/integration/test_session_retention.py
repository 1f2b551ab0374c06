"""The session retention job on both stores (SQLite, MongoDB through the real driver
on nx-27017): sessions of a dead node recorded as lost, IP and user agent blanked
past their period, old disconnected sessions compacted to counts, one holder of
the lease, a metric per run."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from prometheus_client import CollectorRegistry

from app import build
from config import Settings
from eventlog.factory import open_session_records
from eventlog.session_port import CONNECTED, SessionQuery, SessionRecords
from service.container import Services
from service.pipeline import Origin, Request
from service.retention import RetentionRun, SessionRetention

USER = "0" * 23 + "7"


class FixedClock:
    def __init__(self, moment: dt.datetime) -> None:
        self.moment = moment

    def now(self) -> dt.datetime:
        return self.moment

    def monotonic(self) -> float:
        return 0.0


@pytest.fixture(params=["sqlite", "mongo"])
async def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'events.db'}"
    mongo_url: str = request.getfixturevalue("mongo_url")
    database: str = request.getfixturevalue("mongo_database")
    return urlunsplit(urlsplit(mongo_url)._replace(path=f"/{database}"))


@pytest.fixture
async def services(store_url: str) -> AsyncIterator[Services]:
    built = await build(Settings(store_url=store_url, jwt_secret="s" * 32, migrate=True))
    for follower in built.followers:  # the node's own retention job: this test runs its own
        follower.cancel()
    try:
        yield built
    finally:
        for adapter in built.closing:
            await adapter.close()
        await built.bus.close()
        await built.store.close()


@pytest.fixture
async def records(services: Services, store_url: str) -> AsyncIterator[SessionRecords]:
    opened = open_session_records(store_url)
    await opened.open()
    yield opened
    await opened.close()


async def connect(services: Services, session_id: str, node: str) -> None:
    origin = Origin("ws", USER, "user", session_id)
    meta = {"ip": "203.0.113.9", "userAgent": "Browser/2", "hidden": False, "node": node}
    await services.pipeline.record(Request(origin, "connect", meta=meta), ({"type": "connected", "data": {}},))


async def disconnect(services: Services, session_id: str) -> None:
    origin = Origin("ws", USER, "user", session_id)
    await services.pipeline.record(
        Request(origin, "disconnect"), ({"type": "disconnected", "data": {"code": 1001, "reason": None}},)
    )


def job(
    services: Services,
    records: SessionRecords,
    clock: FixedClock,
    holder: str,
    registry: CollectorRegistry | None = None,
) -> SessionRetention:
    return SessionRetention(
        records,
        services.sessions,
        clock,
        registry or CollectorRegistry(),
        holder=holder,
        interval=60,
        pii_days=30,
        keep_days=90,
    )


async def test_a_run_records_dead_nodes_sessions_lost_blanks_old_ones_and_compacts_ended_ones(
    services: Services, records: SessionRecords
) -> None:
    node = services.session.node
    await connect(services, "ended", node)
    await disconnect(services, "ended")
    await connect(services, "live", node)
    await connect(services, "ghost", "dead-node.0bad")
    await services.read_side.drain()
    later = FixedClock(dt.datetime.now(dt.UTC) + dt.timedelta(days=100))
    registry = CollectorRegistry()
    retention = job(services, records, later, node, registry)

    run = await retention.run_once()
    await services.read_side.drain()
    assert await retention.run_once() == RetentionRun(0, 0, 0)  # a sweep only: blanking is not due yet
    later.moment += dt.timedelta(seconds=61)
    # the same holder renews its lease; the ghost, recorded lost "100 days" before the job's clock,
    # is compacted by this run or the next (its lost record is folded in the background)
    again = await retention.run_once()

    assert run is not None and again is not None
    assert (run.lost, run.blanked, again.lost, again.blanked) == (1, 3, 0, 0)
    assert run.compacted + again.compacted == 2
    [live] = await records.find(SessionQuery())
    assert (live.session_id, live.status, live.ip, live.user_agent) == ("live", CONNECTED, "", "")
    assert sum((await records.counts()).values()) == 2
    assert registry.get_sample_value("travelsense_session_retention_total", {"action": "compacted"}) == 2
    assert registry.get_sample_value("travelsense_session_retention_total", {"action": "lost"}) == 1


async def test_one_node_at_a_time_runs_the_job(services: Services, records: SessionRecords) -> None:
    clock = FixedClock(dt.datetime.now(dt.UTC))
    first = job(services, records, clock, "node-a.1")
    second = job(services, records, clock, "node-b.2")
    assert await first.run_once() is not None
    assert await second.run_once() is None
    clock.moment += dt.timedelta(minutes=5)  # the lease (two intervals) has expired: the other takes it
    assert await second.run_once() is not None
    assert await first.run_once() is None
