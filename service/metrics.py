"""Prometheus metrics of one node, in a registry of its own.

``app.build`` makes one ``Metrics`` per application and passes it down; nothing
here registers in prometheus_client's global registry, so tests and several
apps in one process stay apart.  Every label value comes from a closed set
(event names, error codes, close reasons): never a user id, trip id or session
id.

Names as Prometheus users expect them: the application's own under the
``travelsense_`` prefix, the standard ``process_*`` and ``python_gc_*`` /
``python_info`` collectors unprefixed, ``travelsense_build_info``, and no
``_created`` series (they double the series count for nothing a rate() needs).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import platform
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import prometheus_client
from prometheus_client import (
    GC_COLLECTOR,
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    Info,
    PlatformCollector,
    ProcessCollector,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

from domain.errors import ErrorCode
from domain.schemas import CLIENT_EVENTS
from eventlog.ports import EventStore, RecordFilter, StoreUnavailable, TripSnapshot
from eventlog.records import LogRecord, SlimRecord

log = logging.getLogger("travelsense.store")
UNAVAILABLE_LOG_INTERVAL = 10.0  # seconds between two warnings of an unreachable store

CONTENT_TYPE = CONTENT_TYPE_LATEST
NAMESPACE = "travelsense"
ROOT = Path(__file__).resolve().parent.parent

# The standard GC collector reads gc.get_stats(): registered per registry, never globally here.
del GC_COLLECTOR

# Every event the server writes to a socket (docs/asyncapi.yaml); anything else is "other".
SERVER_EVENTS = frozenset(
    {
        "connected",
        "trip_room_joined",
        "trip_room_left",
        "user_joined",
        "user_left",
        "presence_summary",
        "trip_updated",
        "chat_message",
        "chat_message_edited",
        "chat_message_deleted",
        "chat_reactions",
        "chat_read",
        "user_typing",
        "user_viewing",
        "user_presence_updated",
        "token_refreshed",
        "token_expiring",
        "notification",
        "broadcast",
        "error",
        "presence_visibility_set",
    }
)
_CLIENT_EVENTS = frozenset(CLIENT_EVENTS)
_ERROR_CODES = frozenset(code.value for code in ErrorCode) | {"METHOD_NOT_ALLOWED"}
CLOSE_REASONS: dict[int | None, str] = {
    None: "abnormal",
    1000: "normal",
    1001: "going_away",
    1005: "no_status",
    1006: "abnormal",
    1009: "too_big",
    1011: "server_error",
    4000: "idle_timeout",
    4001: "token_expired",
    4003: "admin",
    4008: "policy",
    4009: "too_slow",
    4010: "taken_over",
}
RATE_LIMIT_SCOPES = frozenset({"message", "typing", "connections", "rest"})
_FRAME_PREFIX = b'{"event":"'

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
SESSION_BUCKETS = (1.0, 10.0, 60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0, 14400.0, 43200.0, 86400.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)


def close_reason(code: int | None) -> str:
    return CLOSE_REASONS.get(code, "other")


def frame_event(payload: bytes) -> str:
    """The event name of an encoded server frame (``service.frames.encode`` writes it first)."""
    if payload.startswith(_FRAME_PREFIX):
        end = payload.find(b'"', len(_FRAME_PREFIX))
        if end > 0:
            name = payload[len(_FRAME_PREFIX) : end].decode("ascii", "replace")
            if name in SERVER_EVENTS:
                return name
    return "other"


def build_labels(root: Path = ROOT, revision: str | None = None) -> dict[str, str]:
    """What ``travelsense_build_info`` says: the release (pyproject.toml), the commit when the
    image or checkout tells it (``revision``: ``$BUILD_REVISION``, else ``.git``), and the Python running it."""
    version = "unknown"
    try:
        for line in (root / "pyproject.toml").read_text().splitlines():
            if line.startswith("version"):
                version = line.split("=", 1)[1].strip().strip('"')
                break
    except OSError:
        pass
    return {"version": version, "revision": revision or _revision(root), "python": platform.python_version()}


def _revision(root: Path) -> str:
    try:
        head = (root / ".git").read_text().strip() if (root / ".git").is_file() else ""
        git = Path(head.removeprefix("gitdir: ")) if head.startswith("gitdir: ") else root / ".git"
        ref = (git / "HEAD").read_text().strip()
        if ref.startswith("ref: "):
            ref_path = git / ref[5:]
            common = git / "commondir"
            if not ref_path.exists() and common.exists():  # a worktree: branches live in the main .git
                ref_path = (git / common.read_text().strip()).resolve() / ref[5:]
            ref = ref_path.read_text().strip()
        return ref[:12]
    except OSError:
        return "unknown"


class Metrics:
    def __init__(self, build: Mapping[str, str] | None = None) -> None:
        # process-wide in prometheus_client, and the same answer for every registry of this service
        prometheus_client.disable_created_metrics()  # type: ignore[no-untyped-call]
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        # every series of this node: in its registry, under the product's prefix
        gauge = functools.partial(Gauge, namespace=NAMESPACE, registry=r)
        counter = functools.partial(Counter, namespace=NAMESPACE, registry=r)
        histogram = functools.partial(Histogram, namespace=NAMESPACE, registry=r)
        ProcessCollector(registry=r)
        GCCollector(registry=r)
        PlatformCollector(registry=r)
        Info("build", "The release, commit and Python of this node.", namespace=NAMESPACE, registry=r).info(
            dict(build) if build is not None else build_labels()
        )
        self.loop_lag = gauge(
            "event_loop_lag_seconds",
            "How late the event loop ran a timer, at the last sample (every second).",
        )
        self.projection_lag = gauge(
            "projection_lag_records",
            "Records between the log's head and what this node's read side has folded, at the last sample.",
        )
        self.outbound_bytes = gauge(
            "ws_outbound_queued_bytes",
            "Bytes queued for this node's sockets and not yet taken by the kernel.",
        )
        self.rooms = gauge("rooms", "Trip rooms with a member on this node.")
        self.connections = gauge("ws_connections", "Open WebSocket connections on this node.")

        self.connects = counter("ws_connects", "WebSocket connections opened.")
        self.disconnects = counter(
            "ws_disconnects",
            "WebSocket connections closed, by close reason.",
            ["reason"],
        )
        self.handshake_refusals = counter(
            "ws_handshake_refusals",
            "WebSocket upgrades refused, by HTTP status.",
            ["status"],
        )
        self.session_duration = histogram(
            "ws_session_duration_seconds",
            "How long WebSocket sessions lasted.",
            buckets=SESSION_BUCKETS,
        )
        self.messages_in = counter(
            "ws_messages_in",
            "Client frames received, by event (unknown names: other; unreadable: invalid).",
            ["event"],
        )
        self._in_children: dict[str | None, Any] = {}
        self.messages_out = counter("ws_messages_out", "Frames written to sockets, by event.", ["event"])

        self.errors = counter(
            "realtime_errors",
            "Errors answered, by transport (ws, rest) and error code.",
            ["transport", "code"],
        )
        self.rate_limit_hits = counter(
            "rate_limit_hits",
            "Refusals for going over a rate or connection limit.",
            ["scope"],
        )
        self.delivery_latency = histogram(
            "delivery_latency_seconds",
            "From a command's acceptance to its frames written on this node.",
            buckets=LATENCY_BUCKETS,
        )
        self.bus_lag = histogram(
            "bus_lag_seconds",
            "From publication on the bus to arrival at this node.",
            buckets=LATENCY_BUCKETS,
        )
        self.append_latency = histogram(
            "eventlog_append_seconds",
            "Time for one record to be durably appended.",
            buckets=LATENCY_BUCKETS,
        )
        self.append_batch = histogram(
            "eventlog_append_batch_size",
            "Appends acknowledged together (a group commit, as callers see it).",
            buckets=BATCH_BUCKETS,
        )
        self.admin_actions = counter(
            "admin_actions",
            "Admin API calls, by action and outcome.",
            ["action", "outcome"],
        )
        self.store_unavailable_total = counter(
            "store_unavailable",
            "Appends refused because the event log could not be reached.",
        )
        self._unavailable_logged_at = -UNAVAILABLE_LOG_INTERVAL
        self.store_breaker_open = gauge(
            "store_breaker_open",
            "1 while the event log does not answer and commands are refused at once (service/breaker.py).",
        )
        self.store_breaker_refusals = counter(
            "store_breaker_refusals",
            "Store calls refused at once, without trying the event log, while it did not answer.",
        )
        self.bus_unopened = counter(
            "bus_messages_unopened",
            "Messages from other nodes whose keys could not be read in time: dropped (a room's"
            " record, recovered from the log) or delivered with those values masked (nothing"
            " recovers them).",
            ["outcome"],
        )
        self.security_events_aggregated = counter(
            "security_events_aggregated",
            "Security events written as part of their source's aggregate record, not one by one.",
        )

    # exposition ---------------------------------------------------------------

    def store_unavailable(self) -> None:
        """An append failed for an unreachable store: counted always, logged at most every few seconds."""
        self.store_unavailable_total.inc()
        now = time.monotonic()
        if now - self._unavailable_logged_at >= UNAVAILABLE_LOG_INTERVAL:
            self._unavailable_logged_at = now
            log.warning("the event log is unavailable: commands are refused (UNAVAILABLE)")

    def exposition(self) -> bytes:
        return generate_latest(self.registry)

    def track_connections(self, count: Callable[[], int]) -> None:
        self.connections.set_function(lambda: float(count()))

    def track_hub(self, rooms: Callable[[], int], queued_bytes: Callable[[], int]) -> None:
        """Rooms and outbound queue bytes are read from the hub at scrape time."""
        self.rooms.set_function(lambda: float(rooms()))
        self.outbound_bytes.set_function(lambda: float(queued_bytes()))

    # observations ---------------------------------------------------------------

    def connected(self) -> None:
        self.connects.inc()

    def disconnected(self, code: int | None, seconds: float) -> None:
        self.disconnects.labels(close_reason(code)).inc()
        self.session_duration.observe(max(0.0, seconds))

    def handshake_refused(self, status: int) -> None:
        self.handshake_refusals.labels(str(status)).inc()

    def message_in(self, event: str | None) -> None:
        child = self._in_children.get(event)  # a labelled child looked up once per event name
        if child is None:
            label = "invalid" if event is None else event if event in _CLIENT_EVENTS else "other"
            child = self._in_children[event] = self.messages_in.labels(label)
            if len(self._in_children) > len(_CLIENT_EVENTS) + 16:  # names clients made up: not kept
                self._in_children.clear()
        child.inc()

    def frame_written(self, payload: bytes, count: int = 1) -> None:
        """``count`` sockets were sent ``payload`` (a broadcast is counted once per run)."""
        self.messages_out.labels(frame_event(payload)).inc(count)

    def error(self, transport: str, code: str) -> None:
        self.errors.labels(transport, code if code in _ERROR_CODES else "other").inc()

    def rate_limited(self, scope: str) -> None:
        self.rate_limit_hits.labels(scope if scope in RATE_LIMIT_SCOPES else "other").inc()

    def bus_message(self, message: dict[str, Any]) -> float | None:
        """Observe bus lag; returns the message's acceptance time (epoch seconds) if it has one."""
        accepted = message.get("acceptedAt")
        if not isinstance(accepted, int | float) or isinstance(accepted, bool):
            return None
        self.bus_lag.observe(max(0.0, time.time() - accepted))
        return float(accepted)

    def delivered(self, accepted_at: float) -> None:
        self.delivery_latency.observe(max(0.0, time.time() - accepted_at))

    def bus_message_unopened(self, outcome: str) -> None:
        """``outcome``: ``dropped`` or ``masked`` (``Hub._deliver_behind_keys``)."""
        self.bus_unopened.labels(outcome).inc()

    def admin_action(self, action: str, outcome: str) -> None:
        self.admin_actions.labels(action, outcome).inc()


class MeteredStore:
    """An ``EventStore`` that times appends and sizes the groups they complete in, and
    counts what the store refuses for being unreachable.

    Appends that an adapter acknowledges together (a group commit) resume their
    callers in the same turn of the event loop; the group closes at the next turn, so
    its size is what the adapter committed at once, without the adapter knowing about
    metrics.  ``last_append`` says how the newest append ended and when (readiness).
    """

    def __init__(self, inner: EventStore, metrics: Metrics) -> None:
        self._inner = inner
        self._metrics = metrics
        self._group = 0
        self.fold_page = inner.fold_page
        self.stream_page = inner.stream_page
        self.last_append: AppendState = AppendState()

    def enqueue(self, record: LogRecord) -> asyncio.Future[LogRecord]:
        started = time.perf_counter()
        future = self._inner.enqueue(record)
        future.add_done_callback(lambda done: self._appended(started, done))
        return future

    async def append(self, record: LogRecord) -> LogRecord:
        return await self.enqueue(record)

    def _appended(self, started: float, done: asyncio.Future[LogRecord]) -> None:
        failed = done.cancelled() or isinstance(done.exception(), StoreUnavailable)
        if failed or not self.last_append.ok:  # ok after ok: nothing a reader of it could tell apart
            self.last_append = AppendState(ok=not failed, at=time.monotonic())
        if failed:
            self._metrics.store_unavailable()
            return
        self._metrics.append_latency.observe(time.perf_counter() - started)
        self._group += 1
        if self._group == 1:
            asyncio.get_running_loop().call_soon(self._close_group)

    async def open(self) -> None:
        await self._inner.open()

    def _close_group(self) -> None:
        size, self._group = self._group, 0
        self._metrics.append_batch.observe(size)

    async def read_stream(self, stream: str, after_version: int = 0, limit: int | None = None) -> list[LogRecord]:
        return await self._inner.read_stream(stream, after_version, limit)

    async def read_stream_slim(self, stream: str, after_version: int = 0, limit: int | None = None) -> list[SlimRecord]:
        return await self._inner.read_stream_slim(stream, after_version, limit)

    async def stream_version(self, stream: str) -> int:
        return await self._inner.stream_version(stream)

    async def read_all(
        self, after_position: int = 0, limit: int = 1000, where: RecordFilter | None = None
    ) -> list[LogRecord]:
        return await self._inner.read_all(after_position, limit, where)

    async def read_all_slim(
        self, after_position: int = 0, limit: int = 1000, where: RecordFilter | None = None
    ) -> list[SlimRecord]:
        return await self._inner.read_all_slim(after_position, limit, where)

    async def head_position(self) -> int:
        return await self._inner.head_position()

    async def find_by_idempotency_key(self, key: str) -> LogRecord | None:
        return await self._inner.find_by_idempotency_key(key)

    async def read_chat_page(self, stream: str, limit: int, before: str | None = None) -> list[LogRecord] | None:
        return await self._inner.read_chat_page(stream, limit, before)

    async def find_chat_message(self, stream: str, message_id: str) -> LogRecord | None:
        return await self._inner.find_chat_message(stream, message_id)

    async def count_chat_messages(
        self, stream: str, after_version: int, not_by: str, limit: int, excluding: Collection[str] = ()
    ) -> int:
        return await self._inner.count_chat_messages(stream, after_version, not_by, limit, excluding)

    async def read_notifications(self, user_id: str, after_position: int = 0, limit: int = 1000) -> list[SlimRecord]:
        return await self._inner.read_notifications(user_id, after_position, limit)

    async def save_snapshot(self, snapshot: TripSnapshot) -> None:
        await self._inner.save_snapshot(snapshot)

    async def load_snapshot(self, stream: str, schema: str) -> TripSnapshot | None:
        return await self._inner.load_snapshot(stream, schema)

    async def read_snapshots(self, after_stream: str = "", limit: int = 1000) -> list[TripSnapshot]:
        return await self._inner.read_snapshots(after_stream, limit)

    async def ping(self) -> None:
        await self._inner.ping()

    async def close(self) -> None:
        await self._inner.close()


@dataclass(frozen=True, slots=True)
class AppendState:
    """How the newest append ended: durable (``ok``), or refused for an unreachable store;
    ``at`` is ``time.monotonic()`` then (0: no append yet)."""

    ok: bool = True
    at: float = 0.0
