"""The single-node bus: delivery messages go straight back to this node."""

from __future__ import annotations

import uuid

from eventlog.ports import BusMessage, Deliver


class InProcessBus:
    def __init__(self, node_id: str | None = None) -> None:
        self.node_id = node_id or uuid.uuid4().hex[:12]
        self._deliver: Deliver | None = None

    async def start(self, deliver: Deliver) -> None:
        self._deliver = deliver

    async def publish(self, message: BusMessage) -> None:
        if self._deliver is not None:
            self._deliver(message)

    async def ping(self) -> None:
        return None

    def metrics(self) -> dict[str, float]:
        return {}

    async def close(self) -> None:
        self._deliver = None
