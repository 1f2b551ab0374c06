"""The one thing the log holds: a record per inbound command, with its outcome.

An accepted command on a trip carries the single stream event it produced and
that event's ``version`` (its ``seq``) in the trip's stream.  Every other record
(refused commands, room signals, connections, admin actions) has no version.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

JSON = Any

ACCEPTED = "accepted"
REFUSED = "refused"
SCHEMA_VERSION = 1


@dataclass(frozen=True, slots=True)
class LogRecord:
    record_id: str
    at: str
    source: str  # "ws", "rest" or "system"
    command: str  # the client event or REST command name
    outcome: str  # ACCEPTED or REFUSED
    user_id: str | None = None
    session_id: str | None = None
    trip_id: str | None = None
    payload: JSON = None  # what was asked, after sanitising
    ref: str | None = None
    error: JSON = None  # {"code", "message", "details"?} when refused
    events: tuple[JSON, ...] = ()  # [{"type", "data"}] when accepted
    stream: str | None = None
    version: int | None = None
    idempotency_key: str | None = None
    meta: JSON = None  # role, ip, user agent: admin and audit views only
    schema_version: int = SCHEMA_VERSION
    position: int = 0  # assigned by the store, increasing in append order
    extra: dict[str, JSON] = field(default_factory=dict)  # adapter-specific (hash chain)

    def stored_at(self, position: int, **extra: JSON) -> LogRecord:
        return replace(self, position=position, extra={**self.extra, **extra})

    @property
    def stream_event(self) -> JSON:
        """The trip-stream event this record holds, if it holds one."""
        return self.events[0] if self.version is not None and self.events else None


_FIELDS = (
    ("record_id", "recordId"),
    ("at", "at"),
    ("source", "source"),
    ("command", "command"),
    ("outcome", "outcome"),
    ("user_id", "userId"),
    ("session_id", "sessionId"),
    ("trip_id", "tripId"),
    ("payload", "payload"),
    ("ref", "ref"),
    ("error", "error"),
    ("events", "events"),
    ("stream", "stream"),
    ("version", "version"),
    ("idempotency_key", "idempotencyKey"),
    ("meta", "meta"),
    ("schema_version", "schemaVersion"),
    ("position", "position"),
)


def to_document(record: LogRecord) -> dict[str, JSON]:
    values = asdict(record)
    document = {wire: values[name] for name, wire in _FIELDS}
    document["events"] = list(record.events)
    document.update(record.extra)
    return document


def from_document(document: dict[str, JSON]) -> LogRecord:
    known = {wire for _, wire in _FIELDS}
    values: dict[str, Any] = {name: document.get(wire) for name, wire in _FIELDS if wire in document}
    values["events"] = tuple(document.get("events") or ())
    values.setdefault("schema_version", SCHEMA_VERSION)
    values.setdefault("position", 0)
    extra = {k: v for k, v in document.items() if k not in known and k != "_id"}
    return LogRecord(**values, extra=extra)
