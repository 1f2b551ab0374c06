"""``GET /metrics``: this node's Prometheus metrics, for admins (or anyone when
the node was started with ``--metrics-public``)."""

from __future__ import annotations

from handlers.base import ApiHandler
from service.metrics import CONTENT_TYPE


class MetricsHandler(ApiHandler):
    async def get(self) -> None:
        async def scrape() -> None:
            if not self.services.settings.metrics_public:
                self.require_admin()
            self.set_header("Content-Type", CONTENT_TYPE)
            self.set_status(200)
            self.finish(self.services.metrics.exposition())

        # only refusals are recorded (security events); scrapes are not commands
        await self.answer(scrape, command="metrics_read")
