"""Admin controls of the realtime layer, the audit view of the log, and the
security events the log keeps (docs/openapi.yaml).

Every admin action is one record in the log (who, what, when, outcome),
appended before anything is sent or answered.  Across nodes, the connection
directory says who is connected and the bus carries broadcasts and disconnects.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from domain.announcements import announce
from domain.errors import CommandRefused, ErrorCode
from domain.rate_limit import Bucket, BucketRule, take
from eventlog.ports import EventStore, RecordFilter
from eventlog.records import to_document
from service.admission import ConnectAttempts
from service.announcements import broadcast_view
from service.broadcaster import Broadcaster
from service.clock import Clock
from service.directory import ConnectionDirectory
from service.metrics import Metrics
from service.notifications import NotificationService
from service.pipeline import Origin, Pipeline, Request
from service.session import CLOSE_ADMIN

DISCONNECT_REASON = "disconnected by an admin"
log = logging.getLogger("travelsense.security")


@dataclass(frozen=True, slots=True)
class AuditQuery:
    trip_id: str | None = None
    user_id: str | None = None
    command: str | None = None
    since: str | None = None  # ISO 8601 UTC, inclusive
    until: str | None = None  # ISO 8601 UTC, exclusive
    after: int = 0
    limit: int = 100

    def filter(self) -> RecordFilter:
        return RecordFilter(
            trip_id=self.trip_id,
            user_id=self.user_id,
            commands=(self.command,) if self.command else None,
            since=self.since,
            until=self.until,
        )

    def as_payload(self) -> dict[str, Any]:
        names = {
            "trip_id": "tripId",
            "user_id": "userId",
            "command": "type",
            "since": "from",
            "until": "to",
            "after": "after",
            "limit": "limit",
        }
        return {wire: getattr(self, name) for name, wire in names.items() if getattr(self, name) is not None}


class AdminService:
    def __init__(
        self,
        *,
        directory: ConnectionDirectory,
        broadcaster: Broadcaster,
        pipeline: Pipeline,
        notifications: NotificationService,
        store: EventStore,
        new_id: Callable[[], str],
        metrics: Metrics,
    ) -> None:
        self._directory = directory
        self._broadcaster = broadcaster
        self._pipeline = pipeline
        self._notifications = notifications
        self._store = store
        self._new_id = new_id
        self._metrics = metrics

    async def connections(self, origin: Origin) -> dict[str, Any]:
        connections = await self._directory.list()
        await self._pipeline.record(
            Request(origin, "admin_list_connections"),
            ({"type": "connections_listed", "data": {"total": len(connections)}},),
        )
        self._metrics.admin_action("list_connections", "accepted")
        return {"total": len(connections), "connections": connections}

    async def broadcast(self, origin: Origin, body: dict[str, Any], *, sender_name: str | None) -> dict[str, Any]:
        """``body`` is checked already (``schemas.check_body("broadcast", ...)``); the frame names the
        admin (``origin``'s user and ``sender_name``), and the broadcast is kept as an announcement
        until it expires, for users who connect later (``service/announcements.py``)."""
        broadcast_id = self._new_id()
        delivered = len(await self._directory.list())
        assert origin.user_id is not None
        announcement = announce(broadcast_id, body, origin.user_id, sender_name, self._pipeline.now())
        record = await self._pipeline.record(
            Request(origin, "admin_broadcast", body),
            (
                {
                    "type": "broadcast_sent",
                    "data": {"broadcastId": broadcast_id, "type": body["type"], "delivered": delivered},
                },
                announcement,
            ),
        )
        # the frame as a later connection gets it (its timestamp: the announcement's, decided before the
        # record), from the record: its personal data sealed on the bus, opened by each node's hub
        await self._broadcaster.to_all("broadcast", broadcast_view(record.events[1]["data"]))
        self._metrics.admin_action("broadcast", "accepted")
        return {"broadcastId": broadcast_id, "delivered": delivered}

    async def disconnect(self, origin: Origin, user_id: str) -> dict[str, Any]:
        connections = await self._directory.count_user(user_id)
        if connections == 0:
            raise CommandRefused(ErrorCode.NOT_FOUND, "the user is not connected on any node")
        await self._pipeline.record(
            Request(origin, "admin_disconnect", {"userId": user_id}),
            (
                {
                    "type": "user_disconnected",
                    "data": {"userId": user_id, "connections": connections, "code": CLOSE_ADMIN},
                },
            ),
        )
        await self._broadcaster.disconnect(user_id, CLOSE_ADMIN, DISCONNECT_REASON)
        self._metrics.admin_action("disconnect", "accepted")
        return {"disconnected": connections}

    async def notify(self, origin: Origin, body: dict[str, Any]) -> dict[str, Any]:
        """Store a notification (command ``notify``) and push it to the user's live connections."""
        delivered = await self._directory.count_user(body["userId"])
        notification_id, _ = await self._notifications.notify(origin, body)
        self._metrics.admin_action("notify", "accepted")
        return {"notificationId": notification_id, "delivered": delivered}

    async def audit(self, origin: Origin, query: AuditQuery) -> dict[str, Any]:
        records = await self._store.read_all(query.after, query.limit, query.filter())
        await self._pipeline.record(
            Request(origin, "admin_audit_query", query.as_payload()),
            ({"type": "audit_read", "data": {"count": len(records)}},),
        )
        self._metrics.admin_action("audit_query", "accepted")
        return {
            "events": [to_document(record) for record in records],
            "next": records[-1].position if len(records) == query.limit else None,
        }


AGGREGATE_COMMAND = "security_events_aggregated"
OTHER_SOURCES = "sources:other"


@dataclass
class _Folded:
    """The refusals of one source within one window that were not written one by one."""

    origin: Origin
    meta: dict[str, Any]
    first_at: str
    due: float  # monotonic time the aggregate is written
    count: int = 0
    commands: dict[str, int] = field(default_factory=dict)
    codes: dict[str, int] = field(default_factory=dict)

    def add(self, command: str, code: str, ip: str) -> None:
        self.count += 1
        self.commands[command] = self.commands.get(command, 0) + 1
        self.codes[code] = self.codes.get(code, 0) + 1
        ips: list[str] = self.meta.setdefault("ips", [])
        if ip not in ips and len(ips) < MAX_IPS_NAMED:
            ips.append(ip)


MAX_IPS_NAMED = 20


class SecurityEvents:
    """Security events (bad tokens, refused handshakes, rate-limited requests) as refused
    records in the log, which no flood can blind.

    Each source (the user when the caller is signed in, else the client address) may
    have ``source_burst`` records written one by one, then ``source_per_second``; the
    whole node ``burst``, then ``per_second``.  A refusal past either allowance is
    folded into its source's aggregate: one record (``security_events_aggregated``)
    per source per ``window_seconds``, with the count, the commands and the codes, so
    nothing is dropped unseen and a flood costs one write per source per window.
    Past ``max_sources`` sources in a window, the rest share one aggregate.
    """

    def __init__(
        self,
        pipeline: Pipeline,
        clock: Clock,
        metrics: Metrics,
        *,
        burst: int = 200,
        per_second: float = 50.0,
        source_burst: int = 10,
        source_per_second: float = 1.0,
        window_seconds: float = 10.0,
        max_sources: int = 1_000,
    ) -> None:
        self._pipeline = pipeline
        self._clock = clock
        self._metrics = metrics
        self._rule = BucketRule(burst, per_second)
        self._bucket = Bucket.full(self._rule, clock.monotonic())
        self._source_rule = BucketRule(source_burst, source_per_second)
        self._sources = ConnectAttempts()
        self._window = window_seconds
        self._max_sources = max_sources
        self._folded: dict[str, _Folded] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._writing: set[asyncio.Task[None]] = set()

    async def record(self, origin: Origin, command: str, refusal: CommandRefused, meta: dict[str, Any]) -> None:
        now = self._clock.monotonic()
        ip = str(meta.get("ip", ""))
        source = f"user:{origin.user_id}" if origin.user_id else f"ip:{ip}"
        if self._sources.take(source, self._source_rule, now) is None:
            self._bucket, wait = take(self._bucket, self._rule, now)
            if wait is None:
                await self._pipeline.refuse(Request(origin, command, meta=meta), refusal)
                return
        self._metrics.security_events_aggregated.inc()
        self._fold(source, origin, ip, now).add(command, refusal.code.value, ip)

    def _fold(self, source: str, origin: Origin, ip: str, now: float) -> _Folded:
        folded = self._folded.get(source)
        if folded is None:
            if len(self._folded) >= self._max_sources:
                source, origin = OTHER_SOURCES, Origin(origin.source)
                folded = self._folded.get(source)
            if folded is None:
                meta: dict[str, Any] = {"source": source}
                folded = self._folded[source] = _Folded(origin, meta, self._pipeline.now(), now + self._window)
                self._arm(self._window)
        return folded

    def _arm(self, delay: float) -> None:
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(delay, self._due)

    def _due(self) -> None:
        self._timer = None
        task = asyncio.ensure_future(self.flush(self._clock.monotonic()))
        self._writing.add(task)
        task.add_done_callback(self._writing.discard)

    async def flush(self, now: float | None = None) -> None:
        """Write the aggregates whose window has ended (all of them when ``now`` is None)."""
        due = [s for s, f in self._folded.items() if now is None or f.due <= now]
        for source in due:
            folded = self._folded.pop(source)
            refusal = CommandRefused(
                ErrorCode.RATE_LIMITED,
                f"{folded.count} more security events from this source",
                {
                    "count": folded.count,
                    "commands": folded.commands,
                    "codes": folded.codes,
                    "from": folded.first_at,
                    "to": self._pipeline.now(),
                },
            )
            try:
                await self._pipeline.refuse(Request(folded.origin, AGGREGATE_COMMAND, meta=folded.meta), refusal)
            except Exception:
                log.warning("could not record %d aggregated security events of %s", folded.count, source)
        if self._folded:
            self._arm(max(0.0, min(f.due for f in self._folded.values()) - self._clock.monotonic()))

    async def close(self) -> None:
        """At shutdown: what was folded is written now."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._writing:
            await asyncio.wait(set(self._writing))
        await self.flush()
