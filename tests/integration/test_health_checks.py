"""``/readyz`` answers within its timeout whatever the store does: a store whose
reads are stuck behind a long one is reported failing (503) instead of holding
the probe; ``/livez`` answers all the same."""

from __future__ import annotations

import functools
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest
import tornado.httpclient
import tornado.httpserver
import tornado.netutil

from app import build, make_app, socket_edge
from config import Settings
from eventlog.sqlite_store import SqliteEventStore
from handlers.websocket import RealtimeSocket
from service.container import Services

pytestmark = pytest.mark.integration


@pytest.fixture
async def node(tmp_path: Path) -> AsyncIterator[tuple[Services, str]]:
    services = await build(Settings(store_url=f"sqlite:///{tmp_path}/events.db", jwt_secret="s" * 32))
    [sock] = tornado.netutil.bind_sockets(0, "127.0.0.1")
    server = tornado.httpserver.HTTPServer(make_app(services, functools.partial(RealtimeSocket, socket_edge(services))))
    server.add_sockets([sock])
    try:
        yield services, f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.stop()
        await services.bus.close()
        await services.store.close()


async def get(url: str) -> tuple[int, object]:
    response = await tornado.httpclient.AsyncHTTPClient().fetch(url, raise_error=False, request_timeout=10)
    return response.code, orjson.loads(response.body)


async def test_readyz_reports_a_stuck_store_instead_of_waiting_for_it(node: tuple[Services, str]) -> None:
    services, base = node
    assert await get(f"{base}/readyz") == (
        200,
        {"status": "ok", "checks": {"store": "ok", "writes": "ok", "bus": "ok"}},
    )
    inner = services.store._inner  # type: ignore[attr-defined]  # the SQLite adapter under the metrics wrapper
    assert isinstance(inner, SqliteEventStore)
    release = threading.Event()
    inner._reader.submit(release.wait, 10)  # a long read holds the store's reader
    try:
        assert await get(f"{base}/readyz") == (
            503,
            {"status": "unavailable", "checks": {"store": "failing", "writes": "ok", "bus": "ok"}},
        )
        assert await get(f"{base}/livez") == (200, {"status": "ok"})
    finally:
        release.set()
    assert (await get(f"{base}/readyz"))[0] == 200
