"""Prometheus metrics of one node, in a registry of its own.

``app.build`` makes one ``Metrics`` per application and passes it down; nothing
here touches prometheus_client's global registry, so tests and several apps in
one process stay apart.  Every label value comes from a closed set (event
names, error codes, close reasons): never a user id, trip id or session id.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

from domain.errors import ErrorCode
from domain.schemas import CLIENT_EVENTS
from eventlog.ports import EventStore, RecordFilter
from eventlog.records import LogRecord

CONTENT_TYPE = CONTENT_TYPE_LATEST

# Every event the server writes to a socket (contract §3); anything else is "other".
SERVER_EVENTS = frozenset(
    {
        "connected",
        "trip_room_joined",
        "trip_room_left",
        "user_joined",
        "user_left",
        "trip_updated",
        "chat_message",
        "user_typing",
        "user_presence_updated",
        "token_refreshed",
        "token_expiring",
        "notification",
        "broadcast",
        "error",
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


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.connections = Gauge("ws_connections", "Open WebSocket connections on this node.", registry=r)
        self.connects = Counter("ws_connects", "WebSocket connections opened.", registry=r)
        self.disconnects = Counter(
            "ws_disconnects", "WebSocket connections closed, by close reason.", ["reason"], registry=r
        )
        self.handshake_refusals = Counter(
            "ws_handshake_refusals", "WebSocket upgrades refused, by HTTP status.", ["status"], registry=r
        )
        self.session_duration = Histogram(
            "ws_session_duration_seconds", "How long WebSocket sessions lasted.", buckets=SESSION_BUCKETS, registry=r
        )
        self.messages_in = Counter(
            "ws_messages_in",
            "Client frames received, by event (unknown names: other; unreadable: invalid).",
            ["event"],
            registry=r,
        )
        self._in_children: dict[str | None, Any] = {}
        self.messages_out = Counter("ws_messages_out", "Frames written to sockets, by event.", ["event"], registry=r)
        self.errors = Counter(
            "realtime_errors",
            "Errors answered, by transport (ws, rest) and error code.",
            ["transport", "code"],
            registry=r,
        )
        self.rate_limit_hits = Counter(
            "rate_limit_hits", "Refusals for going over a rate or connection limit.", ["scope"], registry=r
        )
        self.delivery_latency = Histogram(
            "delivery_latency_seconds",
            "From a command's acceptance to its frames written on this node.",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.bus_lag = Histogram(
            "bus_lag_seconds",
            "From publication on the bus to arrival at this node.",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.append_latency = Histogram(
            "eventlog_append_seconds",
            "Time for one record to be durably appended.",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.append_batch = Histogram(
            "eventlog_append_batch_size",
            "Appends acknowledged together (a group commit, as callers see it).",
            buckets=BATCH_BUCKETS,
            registry=r,
        )
        self.admin_actions = Counter(
            "admin_actions", "Admin API calls, by action and outcome.", ["action", "outcome"], registry=r
        )
        self.security_events_aggregated = Counter(
            "security_events_aggregated",
            "Security events written as part of their source's aggregate record, not one by one.",
            registry=r,
        )

    # exposition ---------------------------------------------------------------

    def exposition(self) -> bytes:
        return generate_latest(self.registry)

    def track_connections(self, count: Callable[[], int]) -> None:
        self.connections.set_function(lambda: float(count()))

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

    def admin_action(self, action: str, outcome: str) -> None:
        self.admin_actions.labels(action, outcome).inc()


class MeteredStore:
    """An ``EventStore`` that times appends and sizes the groups they complete in.

    Appends that an adapter acknowledges together (SQLite's group commit) resume
    their callers in the same turn of the event loop; the group closes at the
    next turn, so its size is what the adapter committed at once, without the
    adapter knowing about metrics.
    """

    def __init__(self, inner: EventStore, metrics: Metrics) -> None:
        self._inner = inner
        self._metrics = metrics
        self._group = 0

    def __getattr__(self, name: str) -> Any:  # adapter-specific extras stay reachable
        found = getattr(self._inner, name)
        if name == "enqueue":  # pipelined appends (``service.runner``) are timed like ``append``
            return self._timed_enqueue(found)
        return found

    def _timed_enqueue(
        self, enqueue: Callable[[LogRecord], asyncio.Future[LogRecord]]
    ) -> Callable[[LogRecord], asyncio.Future[LogRecord]]:
        def timed(record: LogRecord) -> asyncio.Future[LogRecord]:
            started = time.perf_counter()
            future = enqueue(record)
            future.add_done_callback(lambda _: self._appended(started))
            return future

        return timed

    def _appended(self, started: float) -> None:
        self._metrics.append_latency.observe(time.perf_counter() - started)
        self._group += 1
        if self._group == 1:
            asyncio.get_running_loop().call_soon(self._close_group)

    async def open(self) -> None:
        await self._inner.open()

    async def append(self, record: LogRecord) -> LogRecord:
        started = time.perf_counter()
        try:
            return await self._inner.append(record)
        finally:
            self._metrics.append_latency.observe(time.perf_counter() - started)
            self._group += 1
            if self._group == 1:
                asyncio.get_running_loop().call_soon(self._close_group)

    def _close_group(self) -> None:
        size, self._group = self._group, 0
        self._metrics.append_batch.observe(size)

    async def read_stream(self, stream: str, after_version: int = 0, limit: int | None = None) -> list[LogRecord]:
        return await self._inner.read_stream(stream, after_version, limit)

    async def stream_version(self, stream: str) -> int:
        return await self._inner.stream_version(stream)

    async def read_all(
        self, after_position: int = 0, limit: int = 1000, where: RecordFilter | None = None
    ) -> list[LogRecord]:
        return await self._inner.read_all(after_position, limit, where)

    async def find_by_idempotency_key(self, key: str) -> LogRecord | None:
        return await self._inner.find_by_idempotency_key(key)

    async def ping(self) -> None:
        await self._inner.ping()

    async def close(self) -> None:
        await self._inner.close()
