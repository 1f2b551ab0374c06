"""``python app.py export``: the log, or a part of it, as JSON Lines or CSV.

Streams page by page (the memory it needs is one page, whatever the size of the
log).  The filters are the audit API's: trip, user, record type (the command,
``--type``; the store filters on it), an instant range (``--since`` inclusive,
``--until`` exclusive); ``--event-type`` keeps the records holding an event of
that type (``notification_created``, ``trip_updated``...), checked here, as is
the rest of the filter again for every record the store returns.

A JSON line is the record's document as ``GET /api/audit/events`` gives it
(events in their current shapes, ``position`` and the hash-chain fields
included).  CSV has one column per field; structured fields are JSON text.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import IO, Any

import orjson

from analysts.scan import PAGE
from eventlog.ports import EventStore, RecordFilter
from eventlog.records import LogRecord, to_document
from eventlog.sealing import Opener

FORMATS = ("jsonl", "csv")
CSV_COLUMNS = (
    "position", "recordId", "at", "source", "command", "outcome", "userId", "sessionId", "tripId", "stream",
    "version", "ref", "idempotencyKey", "errorCode", "eventTypes", "payload", "events", "error", "meta",
    "schemaVersion", "chain", "chainSeq", "prevHash", "hash",
)  # fmt: skip
_JSON_COLUMNS = ("payload", "events", "error", "meta")


@dataclass(frozen=True, slots=True)
class ExportFilter:
    trip_id: str | None = None
    user_id: str | None = None
    types: tuple[str, ...] | None = None  # commands
    event_types: tuple[str, ...] | None = None
    since: str | None = None
    until: str | None = None

    def store_filter(self) -> RecordFilter:
        return RecordFilter(
            trip_id=self.trip_id, user_id=self.user_id, commands=self.types, since=self.since, until=self.until
        )

    def keeps(self, record: LogRecord) -> bool:
        """Whether the record matches: every criterion, the store's too (what is written matches,
        whatever a store's query planner made of the filter)."""
        return (
            (self.trip_id is None or record.trip_id == self.trip_id)
            and (self.user_id is None or record.user_id == self.user_id)
            and (self.types is None or record.command in self.types)
            and (self.since is None or record.at >= self.since)
            and (self.until is None or record.at < self.until)
            and (self.event_types is None or any(event.get("type") in self.event_types for event in record.events))
        )


async def matching(
    store: EventStore, where: ExportFilter, progress: Callable[[int], None] | None = None, page: int = PAGE
) -> Any:
    """The records that match, oldest first, a page at a time (an async iterator of records)."""
    position = 0
    store_filter = where.store_filter()
    while True:
        records = await store.read_all(position, page, store_filter)
        if progress is not None:
            progress(len(records))
        for record in records:
            if where.keeps(record):
                yield record
        if len(records) < page:
            return
        position = records[-1].position


def _csv_row(document: dict[str, Any]) -> list[Any]:
    row: list[Any] = []
    for column in CSV_COLUMNS:
        if column == "errorCode":
            error = document.get("error")
            value: Any = error.get("code") if isinstance(error, dict) else None
        elif column == "eventTypes":
            value = " ".join(str(event.get("type")) for event in document.get("events") or ())
        elif column in _JSON_COLUMNS:
            value = document.get(column)
            value = orjson.dumps(value).decode() if value not in (None, [], ()) else None
        else:
            value = document.get(column)
        row.append("" if value is None else value)
    return row


class Writer:
    """Writes records to a text stream in one of ``FORMATS``."""

    def __init__(self, out: IO[str], fmt: str, opener: Opener | None = None) -> None:
        self._opener = opener  # opens sealed personal data (None: written sealed, as the log keeps it)
        if fmt not in FORMATS:
            raise ValueError(f"unknown format {fmt!r}: {', '.join(FORMATS)}")
        self._out = out
        self._csv = csv.writer(out, lineterminator="\n") if fmt == "csv" else None
        if self._csv is not None:
            self._csv.writerow(CSV_COLUMNS)
        self.count = 0

    def write(self, records: Iterable[LogRecord]) -> None:
        for record in records:
            document = to_document(record)
            if self._opener is not None:
                document = self._opener.open(document)
            if self._csv is not None:
                self._csv.writerow(_csv_row(document))
            else:
                self._out.write(orjson.dumps(document).decode())
                self._out.write("\n")
            self.count += 1


async def export(
    store: EventStore,
    where: ExportFilter,
    out: IO[str],
    fmt: str = "jsonl",
    progress: Callable[[int], None] | None = None,
    opener: Opener | None = None,
) -> int:
    """Write the matching records to ``out``; returns how many."""
    writer = Writer(out, fmt, opener)
    async for record in matching(store, where, progress):
        writer.write((record,))
    return writer.count
