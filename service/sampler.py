"""Samples what a scrape cannot read at once: the event loop's lag (how late a
timer fires) and the projection lag (records between the log's head and what
this node's read side has folded; the read side folds lazily, so a quiet node
that nobody reads from is "behind" by what other nodes wrote, and catches up on
its next read).  One task, started by ``app.serve`` and stopped at shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from service.metrics import Metrics

log = logging.getLogger("travelsense.sampler")

LOOP_INTERVAL = 1.0
PROJECTION_EVERY = 5  # loop samples between two projection-lag samples (a query of the log's head)


class Sampler:
    def __init__(
        self,
        metrics: Metrics,
        head: Callable[[], Awaitable[int]],
        folded: Callable[[], int],
        interval: float = LOOP_INTERVAL,
    ) -> None:
        self._metrics = metrics
        self._head = head
        self._folded = folded
        self._interval = interval
        self._task: asyncio.Task[None] | None = None

    def start(self) -> Sampler:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="metrics-sampler")
        return self

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        samples = 0
        while True:
            planned = loop.time() + self._interval
            await asyncio.sleep(self._interval)
            self._metrics.loop_lag.set(max(0.0, loop.time() - planned))
            samples += 1
            if samples % PROJECTION_EVERY == 1:
                await self.sample_projection_lag()

    async def sample_projection_lag(self) -> None:
        try:
            head = await asyncio.wait_for(self._head(), self._interval)
        except Exception as exc:  # the store is slow or away: the health checks say so; keep the last value
            log.debug("projection lag not sampled: %s", exc)
            return
        self._metrics.projection_lag.set(max(0, head - self._folded()))
