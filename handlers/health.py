"""Readiness: 200 once the store and the bus answer, 503 naming what does not."""

from __future__ import annotations

import asyncio

from handlers.base import ApiHandler

CHECK_TIMEOUT = 3.0


class HealthHandler(ApiHandler):
    async def get(self) -> None:
        failing = []
        for name, part in (("store", self.services.store), ("bus", self.services.bus)):
            try:
                await asyncio.wait_for(part.ping(), CHECK_TIMEOUT)
            except Exception:
                failing.append(name)
        if self.services.lifecycle.draining:
            failing.append("shutting down")
        if failing:
            self.send_json({"status": "unavailable", "failing": failing}, 503)
        else:
            self.send_json({"status": "ok"})
