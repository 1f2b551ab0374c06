"""What both stores' group commits share: a queued append, and the rule that a failed
stream record takes the records of its stream queued behind it down with it."""

from __future__ import annotations

import asyncio

from eventlog.ports import VersionConflict
from eventlog.records import LogRecord


class Pending:
    """An append waiting in a store's queue."""

    __slots__ = ("future", "record")

    def __init__(self, record: LogRecord, future: asyncio.Future[LogRecord]) -> None:
        self.record = record
        self.future = future


def in_stream(record: LogRecord) -> bool:
    return record.stream is not None and record.version is not None


def fail_successors(queue: list[Pending], streams: set[str]) -> list[Pending]:
    """What stays queued once the records of ``streams`` (whose earlier record just failed)
    have failed unwritten with ``VersionConflict``: they may have been decided on it."""
    if not streams:
        return queue
    kept = []
    for pending in queue:
        record = pending.record
        if in_stream(record) and record.stream in streams:
            if not pending.future.done():
                pending.future.set_exception(VersionConflict(record.stream or "", record.version or 0))
        else:
            kept.append(pending)
    return kept
