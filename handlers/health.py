"""Health as orchestrators ask for it.

* ``/livez``: the process and its event loop answer (this handler ran); 200
  unless the node is shutting down.  Nothing external is checked, so a Redis or
  store blip never gets a node restarted.
* ``/readyz``: the node can serve: the store answers (required: 503 if not);
  Redis is reported ``degraded`` without failing, since a node keeps serving
  its own sockets without it.  Each check has ``READY_TIMEOUT`` at most, so the
  answer comes within a second whatever the store does.
* ``/healthz``: as before: 200 once the store and the bus answer, 503 naming
  what does not (kept for existing probes).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable

from handlers.base import ApiHandler

CHECK_TIMEOUT = 3.0
READY_TIMEOUT = 0.8  # both checks run at once: /readyz answers within a second


async def answers(ping: Awaitable[None], timeout: float) -> bool:
    try:
        await asyncio.wait_for(ping, timeout)
    except Exception:  # an error or a timeout: either way it does not answer
        return False
    return True


class HealthHandler(ApiHandler):
    async def get(self) -> None:
        failing = []
        for name, part in (("store", self.services.store), ("bus", self.services.bus)):
            if not await answers(part.ping(), CHECK_TIMEOUT):
                failing.append(name)
        if self.services.lifecycle.draining:
            failing.append("shutting down")
        if failing:
            self.send_json({"status": "unavailable", "failing": failing}, 503)
        else:
            self.send_json({"status": "ok"})


class LiveHandler(ApiHandler):
    async def get(self) -> None:
        if self.services.lifecycle.draining:
            self.send_json({"status": "shutting down"}, 503)
        else:
            self.send_json({"status": "ok"})


class ReadyHandler(ApiHandler):
    async def get(self) -> None:
        store, bus = await asyncio.gather(
            answers(self.services.store.ping(), READY_TIMEOUT), answers(self.services.bus.ping(), READY_TIMEOUT)
        )
        checks = {"store": "ok" if store else "failing", "bus": "ok" if bus else "degraded"}
        if self.services.lifecycle.draining:
            self.send_json({"status": "shutting down", "checks": checks}, 503)
        elif not store:
            self.send_json({"status": "unavailable", "checks": checks}, 503)
        else:
            self.send_json({"status": "ok" if bus else "degraded", "checks": checks})
