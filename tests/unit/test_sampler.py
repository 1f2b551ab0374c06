"""The sampler measures how late the event loop runs a timer (a blocked loop
shows) and the projection lag as records between the log's head and what the
read side folded."""

from __future__ import annotations

import asyncio
import time

from service.metrics import Metrics
from service.sampler import Sampler


async def test_a_blocked_loop_shows_as_lag_and_the_projection_lag_is_head_minus_folded() -> None:
    metrics = Metrics()

    async def head() -> int:
        return 120

    sampler = Sampler(metrics, head, lambda: 100, interval=0.05).start()
    try:
        await asyncio.sleep(0.01)
        time.sleep(0.3)  # the loop is blocked: the sampler's timer fires late
        await asyncio.sleep(0.02)  # the late timer runs first; the next sample is 0.05 s away
        assert metrics.loop_lag._value.get() >= 0.2
        assert metrics.projection_lag._value.get() == 20
    finally:
        await sampler.stop()
