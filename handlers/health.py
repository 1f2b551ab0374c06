"""Health as orchestrators ask for it.

* ``/livez``: the process and its event loop answer (this handler ran); 200
  unless the node is shutting down.  Nothing external is checked, so a Redis or
  store blip never gets a node restarted.
* ``/readyz``: the node can serve: the store answers and its last append did not
  fail for want of it within ``WRITES_WINDOW`` (required: 503 if not: a full disk
  answers a ping but takes no write);
  Redis is reported ``degraded`` without failing, since a node keeps serving
  its own sockets without it.  Each check has ``READY_TIMEOUT`` at most, so the
  answer comes within a second whatever the store does.
* ``/healthz``: as before: 200 once the store (its writes included) and the bus
  answer, 503 naming what does not (kept for existing probes), within a second.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from typing import Protocol

from handlers.base import ApiHandler
from handlers.bounded import RestEdge
from service.metrics import AppendState, MeteredStore

READY_TIMEOUT = 0.8  # the checks run at once: every probe answers within a second
WRITES_WINDOW = 30.0  # seconds a failed append counts against readiness (a later good one clears it)


async def answers(ping: Awaitable[None], timeout: float) -> bool:
    try:
        await asyncio.wait_for(ping, timeout)
    except Exception:  # an error or a timeout: either way it does not answer
        return False
    return True


def writes_ok(last: AppendState, now: float) -> bool:
    """Whether the store takes writes, as far as the last append tells."""
    return last.ok or now - last.at > WRITES_WINDOW


class Answering(Protocol):
    """The bus, as health checks see it."""

    async def ping(self) -> None: ...


class StoreAndBusHandler(ApiHandler):
    def initialize(self, edge: RestEdge, store: MeteredStore, bus: Answering) -> None:
        self.edge = edge
        self.store = store
        self.bus = bus


class HealthHandler(StoreAndBusHandler):
    async def get(self) -> None:
        store, bus = await asyncio.gather(
            answers(self.store.ping(), READY_TIMEOUT), answers(self.bus.ping(), READY_TIMEOUT)
        )
        failing = [name for name, ok in (("store", store), ("bus", bus)) if not ok]
        if not writes_ok(self.store.last_append, time.monotonic()):
            failing.append("store writes")
        if self.edge.lifecycle.draining:
            failing.append("shutting down")
        if failing:
            self.send_json({"status": "unavailable", "failing": failing}, 503)
        else:
            self.send_json({"status": "ok"})


class LiveHandler(ApiHandler):
    def initialize(self, edge: RestEdge) -> None:
        self.edge = edge

    async def get(self) -> None:
        if self.edge.lifecycle.draining:
            self.send_json({"status": "shutting down"}, 503)
        else:
            self.send_json({"status": "ok"})


class ReadyHandler(StoreAndBusHandler):
    async def get(self) -> None:
        store, bus = await asyncio.gather(
            answers(self.store.ping(), READY_TIMEOUT), answers(self.bus.ping(), READY_TIMEOUT)
        )
        writes = writes_ok(self.store.last_append, time.monotonic())
        checks = {
            "store": "ok" if store else "failing",
            "writes": "ok" if writes else "failing",
            "bus": "ok" if bus else "degraded",
        }
        if self.edge.lifecycle.draining:
            self.send_json({"status": "shutting down", "checks": checks}, 503)
        elif not (store and writes):
            self.send_json({"status": "unavailable", "checks": checks}, 503)
        else:
            self.send_json({"status": "ok" if bus else "degraded", "checks": checks})
