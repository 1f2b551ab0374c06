"""The one thing the log holds: a record per inbound command, with its outcome.

An accepted command on a trip carries the single stream event it produced and
that event's ``version`` (its ``seq``) in the trip's stream.  Every other record
(refused commands, room signals, connections, admin actions) has no version.

Schema versions.  ``schemaVersion`` says which release's format a record was
written in:

1. the first release;
2. every record also carries its hash-chain link in ``extra`` (``prevHash``,
   ``hash``, and ``chain``/``chainSeq`` outside trip streams; see
   ``eventlog/chain.py``).

An event has no version field of its own: its schema version is that of the
record holding it.  ``from_document``, which every adapter reads through, lifts
the events of older records to the current shapes with the upcasters of
``eventlog/upcasters.py``; the events as stored stay available to the hash
chain in ``stored_events``.

A ``SlimRecord`` is what projections read of a record, and nothing else: no
payload, meta, ref or hash-chain fields, the error as its code, and the events
in their current shapes.  Long folds (``ReadSide.rebuild``, ``replay``) read
these (``eventlog.ports.SlimReads``), so they neither decode nor keep what no
projection needs.  Projections take any ``RecordView``: a ``LogRecord`` or a
``SlimRecord``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

from domain.frozen import builder, replacer
from eventlog.upcasters import upcast_events

JSON = Any

ACCEPTED = "accepted"
REFUSED = "refused"
SCHEMA_VERSION = 2
FIRST_SCHEMA_VERSION = 1  # what a document without ``schemaVersion`` is taken to be


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
    schema_version: int = SCHEMA_VERSION  # the format it was written in (events read back are current)
    position: int = 0  # assigned by the store, increasing in append order
    extra: dict[str, JSON] = field(default_factory=dict)  # adapter-specific (hash chain)
    # The events as stored, when reading lifted them to newer shapes (None: ``events`` are as stored).
    stored_events: tuple[JSON, ...] | None = field(default=None, compare=False, repr=False)

    def stored_at(self, position: int, **extra: JSON) -> LogRecord:
        return self.but(position=position, extra={**self.extra, **extra})

    def but(self, **changes: Any) -> LogRecord:
        """A copy with ``changes`` (``dataclasses.replace``, faster: a store makes two per append)."""
        return _replace_record(self, **changes)

    @property
    def stream_event(self) -> JSON:
        """The trip-stream event this record holds, if it holds one."""
        return self.events[0] if self.version is not None and self.events else None

    @property
    def error_code(self) -> str | None:
        """The code of the error a refused record carries (None: no error, or one without a code)."""
        return error_code(self.error)


def error_code(error: JSON) -> str | None:
    """An error's code, if it has a string one."""
    code = error.get("code") if isinstance(error, dict) else None
    return code if isinstance(code, str) else None


class RecordView(Protocol):
    """What projections read of a record (``LogRecord`` and ``SlimRecord`` both are one)."""

    @property
    def position(self) -> int: ...
    @property
    def at(self) -> str: ...
    @property
    def command(self) -> str: ...
    @property
    def outcome(self) -> str: ...
    @property
    def user_id(self) -> str | None: ...
    @property
    def session_id(self) -> str | None: ...
    @property
    def trip_id(self) -> str | None: ...
    @property
    def stream(self) -> str | None: ...
    @property
    def version(self) -> int | None: ...
    @property
    def error_code(self) -> str | None: ...
    @property
    def events(self) -> Sequence[JSON]: ...
    @property
    def stream_event(self) -> JSON: ...


class SlimRecord(NamedTuple):
    """A record as projections read it (see the module's doc); the fields in a store's column order."""

    position: int
    at: str
    command: str
    outcome: str
    user_id: str | None
    session_id: str | None
    trip_id: str | None
    stream: str | None
    version: int | None
    error_code: str | None
    schema_version: int  # the format it was written in (``events`` are current)
    events: Sequence[JSON]  # [{"type", "data"}], lifted to the current shapes

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


_KNOWN = frozenset({wire for _, wire in _FIELDS} | {"_id"})


def to_document(record: LogRecord) -> dict[str, JSON]:
    """The record as a JSON document (``extra`` merged in).

    A new top-level dict; nested values (payload, events, ...) are the record's
    own, not copies: read them, do not change them.
    """
    document: dict[str, JSON] = {
        "recordId": record.record_id,
        "at": record.at,
        "source": record.source,
        "command": record.command,
        "outcome": record.outcome,
        "userId": record.user_id,
        "sessionId": record.session_id,
        "tripId": record.trip_id,
        "payload": record.payload,
        "ref": record.ref,
        "error": record.error,
        "events": list(record.events),
        "stream": record.stream,
        "version": record.version,
        "idempotencyKey": record.idempotency_key,
        "meta": record.meta,
        "schemaVersion": record.schema_version,
        "position": record.position,
    }
    if record.extra:
        document.update(record.extra)
    return document


def _field_setters() -> Any:
    """The slot setters of every ``LogRecord`` field, in declaration order.

    ``from_document`` runs for every record any adapter reads, so it fills a new
    record through these instead of the frozen dataclass's ``__init__`` (which
    sets each field through ``object.__setattr__``): the same record, in about a
    third of the time.  It has to name every field, which is checked here.
    """
    names = (
        "record_id", "at", "source", "command", "outcome", "user_id", "session_id", "trip_id", "payload", "ref",
        "error", "events", "stream", "version", "idempotency_key", "meta", "schema_version", "position", "extra",
        "stored_events",
    )  # fmt: skip
    if tuple(LogRecord.__dataclass_fields__) != names:
        raise RuntimeError("LogRecord's fields changed: update from_document")
    return tuple(getattr(LogRecord, name).__set__ for name in names)


(
    _record_id, _at, _source, _command, _outcome, _user_id, _session_id, _trip_id, _payload, _ref,
    _error, _events, _stream, _version, _idempotency_key, _meta, _schema_version, _position, _extra,
    _stored_events,
) = _field_setters()  # fmt: skip
_new = object.__new__
_replace_record = replacer(LogRecord)
_build_record = builder(LogRecord)  # ``LogRecord(**fields)``, faster
INT64 = 2**63


def new_record(**fields: JSON) -> LogRecord:
    """A new record, its ``error`` and ``meta`` made storable (``storable``): a refusal's
    details echo what a client sent, and every refusal must be recorded on every store."""
    error = fields.get("error")
    if error is not None:
        fields["error"] = storable(error)
    meta = fields.get("meta")
    if meta is not None:
        fields["meta"] = storable(meta)
    return _build_record(**fields)


def storable(value: JSON) -> JSON:
    """``value`` with nothing a store or the hash chain refuses: keys with NUL, starting
    with ``$`` or holding ``.`` are percent-escaped (``%`` too, so it can be undone),
    integers past 64 bits and non-finite numbers become text, lone surrogates escapes."""
    if isinstance(value, dict):
        return {_storable_key(key): storable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [storable(item) for item in value]
    if isinstance(value, str):
        return value if value.isascii() else _no_surrogates(value)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return value if -INT64 <= value < INT64 else str(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    return str(value)


def _no_surrogates(text: str) -> str:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def _storable_key(key: object) -> str:
    text = _no_surrogates(key) if isinstance(key, str) else str(key)
    if "%" in text or "." in text or "\x00" in text or text.startswith("$"):
        text = text.replace("%", "%25").replace(".", "%2E").replace("\x00", "%00")
        if text.startswith("$"):
            text = "%24" + text[1:]
    return text


def lift_events(events: Sequence[JSON], schema_version: int) -> Sequence[JSON]:
    """A record's events as stored, in the current shapes (the same object when nothing changed)."""
    if schema_version < SCHEMA_VERSION and events:
        return upcast_events(tuple(events), schema_version, SCHEMA_VERSION)
    return events


def from_document(document: dict[str, JSON]) -> LogRecord:
    """A stored document as a record, its events lifted to the current shapes."""
    get = document.get
    schema_version = get("schemaVersion") or FIRST_SCHEMA_VERSION
    events = tuple(get("events") or ())
    stored_events = None
    lifted = lift_events(events, schema_version)
    if lifted is not events:
        events, stored_events = tuple(lifted), events
    extra_keys = document.keys() - _KNOWN
    record: LogRecord = _new(LogRecord)
    _record_id(record, document["recordId"])
    _at(record, document["at"])
    _source(record, document["source"])
    _command(record, document["command"])
    _outcome(record, document["outcome"])
    _user_id(record, get("userId"))
    _session_id(record, get("sessionId"))
    _trip_id(record, get("tripId"))
    _payload(record, get("payload"))
    _ref(record, get("ref"))
    _error(record, get("error"))
    _events(record, events)
    _stream(record, get("stream"))
    _version(record, get("version"))
    _idempotency_key(record, get("idempotencyKey"))
    _meta(record, get("meta"))
    _schema_version(record, schema_version)
    _position(record, get("position") or 0)
    _extra(record, {key: document[key] for key in sorted(extra_keys)} if extra_keys else {})
    _stored_events(record, stored_events)
    return record


_new_slim = tuple.__new__


def slim_record(row: Sequence[JSON]) -> SlimRecord:
    """A ``SlimRecord`` from its fields in order, the events as stored (lifted here)."""
    if row[10] < SCHEMA_VERSION and row[11]:
        row = (*row[:11], lift_events(row[11], row[10]))
    return _new_slim(SlimRecord, row)  # type: ignore[no-any-return]


def slim_from_document(document: dict[str, JSON]) -> SlimRecord:
    """A stored document as a ``SlimRecord``, its events lifted to the current shapes."""
    get = document.get
    return slim_record(
        (
            get("position") or 0,
            document["at"],
            document["command"],
            document["outcome"],
            get("userId"),
            get("sessionId"),
            get("tripId"),
            get("stream"),
            get("version"),
            error_code(get("error")),
            get("schemaVersion") or FIRST_SCHEMA_VERSION,
            get("events") or [],
        )
    )
