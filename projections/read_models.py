"""Read models kept outside the process: what changed, and where it is written.

The in-memory projections (``trips``, ``chat``, ``notifications``) stay the
ones this node serves from.  A ``ReadModelSink`` mirrors them into a database
(``eventlog/mongo_read_models.py``) so other tools can query them.  The log is
the source of truth: the mirrored collections are a derived, rebuildable view,
so a failed write is logged and never fails a command.

``ReadSide`` builds one ``ReadModelChange`` per batch it folded (one record it
appended, or one catch-up) and hands it to a ``ReadModelWriter``, which writes
it in a background task: the command's answer never waits for the mirror.
Every write is conditional on the version or position it carries, so writes
that land out of order, twice or from several nodes never move a view back.

Sessions are not mirrored here: they live in the connection directory (Redis).
"""

from __future__ import annotations

import asyncio
import logging

from eventlog.read_model_port import NotificationRead, ReadModelChange, ReadModelSink, TripView

__all__ = ["NotificationRead", "ReadModelChange", "ReadModelSink", "ReadModelWriter", "TripView"]

log = logging.getLogger("travelsense.read_models")


class ReadModelWriter:
    """Writes changes to a sink in background tasks; errors are logged, never raised."""

    def __init__(self, sink: ReadModelSink) -> None:
        self._sink = sink
        self._tasks: set[asyncio.Task[None]] = set()
        self.failures = 0

    def submit(self, change: ReadModelChange) -> None:
        if not change:
            return
        task = asyncio.get_running_loop().create_task(self._write(change))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _write(self, change: ReadModelChange) -> None:
        try:
            await self._sink.write(change)
        except Exception:
            self.failures += 1
            log.exception("read model write failed (the log stays the source of truth)")

    async def drain(self) -> None:
        """Wait for every write submitted so far."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        await self.drain()
        await self._sink.close()
