"""``GET /metrics``: this node's Prometheus metrics, for a scraper holding the
metrics token (``METRICS_TOKEN``: it reads metrics and nothing else), for admins,
or for anyone when the node was started with ``--metrics-public``."""

from __future__ import annotations

import hmac

from handlers.base import ApiHandler
from handlers.bounded import RestEdge
from service.metrics import CONTENT_TYPE


class MetricsHandler(ApiHandler):
    def initialize(self, edge: RestEdge, scrape_token: str | None, public: bool) -> None:
        self.edge = edge  # its metrics are the ones exposed
        self.scrape_token = scrape_token
        self.public = public

    def _scrape_token_given(self) -> bool:
        expected = self.scrape_token
        if not expected:
            return False
        scheme, _, token = self.request.headers.get("Authorization", "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), expected.encode())

    async def get(self) -> None:
        async def scrape() -> None:
            if not self.public and not self._scrape_token_given():
                self.require_admin()
            self.set_header("Content-Type", CONTENT_TYPE)
            self.set_status(200)
            self.finish(self.edge.metrics.exposition())

        # only refusals are recorded (security events); scrapes are not commands
        await self.answer(scrape, command="metrics_read")
