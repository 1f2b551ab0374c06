"""Writes signed checkpoints of the log (``eventlog/checkpoints.py``) every
``interval`` seconds and once more at shutdown.

The node keeps the accumulator current by reading the log after the position
it covers.  At start it continues from the newest checkpoint in the log signed
with the same key (any node's), else folds the log from the start, in pages, in
the background.  A tick covers the records up to the head seen at the previous
tick, never the newest ones: with MongoDB, a position is reserved before its
record lands, and a record still in flight must not be missing from the fold
(the checkpoint at shutdown waits ``SETTLE`` for the same reason).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from eventlog import checkpoints
from eventlog.checkpoints import Checkpoint
from eventlog.ports import EventStore, RecordFilter
from service.pipeline import Origin, Pipeline, Request

log = logging.getLogger("travelsense.checkpoints")

PAGE = 1000
SETTLE = 0.5  # seconds the shutdown checkpoint waits for appends in flight below the head it covers
SYSTEM = Origin("system", None, None)


class Checkpointer:
    def __init__(self, store: EventStore, pipeline: Pipeline, key: str, node: str, interval: float) -> None:
        self._store = store
        self._pipeline = pipeline
        self._key = key
        self._node = node
        self._interval = interval
        self._position = 0
        self._accumulator = ""
        self._records = 0
        self._signed_position = 0
        self._fresh = 0  # records folded since the last checkpoint, other than checkpoints themselves
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    async def start(self) -> Checkpointer:
        await self._resume()
        if self._interval > 0:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="checkpoints")
        return self

    async def stop(self) -> None:
        """The last checkpoint, covering everything in the log now."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        try:
            head = await self._store.head_position()
            await asyncio.sleep(SETTLE)
            await self.checkpoint(head)
        except Exception as exc:  # the store is away: the previous checkpoint stands
            log.warning("no checkpoint at shutdown: %s", exc)

    async def _resume(self) -> None:
        """Continue from the newest checkpoint signed with this key, if the log has one."""
        newest: Checkpoint | None = None
        after = 0
        where = RecordFilter(commands=(checkpoints.COMMAND,))
        while True:
            page = await self._store.read_all(after, PAGE, where)
            for record in page:
                found = checkpoints.from_json(record.payload) if checkpoints.is_checkpoint(record) else None
                if (
                    found is not None
                    and found.signed_with(self._key)
                    and (newest is None or found.position > newest.position)
                ):
                    newest = found
            if len(page) < PAGE:
                break
            after = page[-1].position
        if newest is not None:
            self._position, self._accumulator, self._records = newest.position, newest.accumulator, newest.records
            self._signed_position = newest.position

    async def _run(self) -> None:
        settled = await self._store.head_position()
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.checkpoint(settled)
                settled = await self._store.head_position()
            except Exception as exc:  # the store is away: try again next time
                log.warning("checkpoint not written: %s", exc)

    async def advance(self, until: int) -> None:
        """Fold the records after the covered position, up to ``until``."""
        while self._position < until:
            page = await self._store.read_all(self._position, PAGE)
            page = [record for record in page if record.position <= until]
            if not page:
                return
            for record in page:
                self._accumulator = checkpoints.fold(self._accumulator, record)
                if not checkpoints.is_checkpoint(record):
                    self._fresh += 1
            self._records += len(page)
            self._position = page[-1].position

    async def checkpoint(self, until: int) -> Checkpoint | None:
        """Fold up to ``until`` and append a signed checkpoint of it (none when nothing but
        checkpoints came since the last one: an idle log is not checkpointed forever)."""
        async with self._lock:
            await self.advance(until)
            if self._position <= self._signed_position or not self._fresh:
                return None
            signed = checkpoints.sign(
                self._key,
                position=self._position,
                accumulator=self._accumulator,
                records=self._records,
                node=self._node,
                at=self._pipeline.now(),
            )
            await self._pipeline.record(Request(SYSTEM, checkpoints.COMMAND, signed.to_json()))
            self._signed_position, self._fresh = self._position, 0
            return signed
