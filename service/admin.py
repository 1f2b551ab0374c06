"""Admin controls of the realtime layer, the audit view of the log, and the
security events the log keeps (contract §4, spec "HTTP API Endpoints").

Every admin action is one record in the log (who, what, when, outcome),
appended before anything is sent or answered.  Across nodes, the connection
directory says who is connected and the bus carries broadcasts and disconnects.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from domain.errors import CommandRefused, ErrorCode
from domain.rate_limit import Bucket, BucketRule, take
from eventlog.ports import EventStore, RecordFilter
from eventlog.records import to_document
from service.broadcaster import Broadcaster
from service.clock import Clock
from service.directory import ConnectionDirectory
from service.metrics import Metrics
from service.notifications import NotificationService
from service.pipeline import Origin, Pipeline, Request
from service.session import CLOSE_ADMIN

DISCONNECT_REASON = "disconnected by an admin"


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

    async def broadcast(self, origin: Origin, body: dict[str, Any]) -> dict[str, Any]:
        """``body`` is checked already (``schemas.check_body("broadcast", ...)``)."""
        broadcast_id = self._new_id()
        delivered = len(await self._directory.list())
        record = await self._pipeline.record(
            Request(origin, "admin_broadcast", body),
            (
                {
                    "type": "broadcast_sent",
                    "data": {"broadcastId": broadcast_id, "type": body["type"], "delivered": delivered},
                },
            ),
        )
        await self._broadcaster.to_all(
            "broadcast",
            {
                "broadcastId": broadcast_id,
                "message": body["message"],
                "type": body["type"],
                "timestamp": record.at,
            },
        )
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


class SecurityEvents:
    """Security events (bad tokens, refused handshakes) as refused records in the log.

    They come from callers nobody has authenticated, so a node writes at most
    ``burst`` of them at once and ``per_second`` after that: a flood of bad
    tokens must not become a flood of writes.  What is dropped is counted.
    """

    def __init__(
        self, pipeline: Pipeline, clock: Clock, metrics: Metrics, *, burst: int = 200, per_second: float = 50.0
    ) -> None:
        self._pipeline = pipeline
        self._clock = clock
        self._metrics = metrics
        self._rule = BucketRule(burst, per_second)
        self._bucket = Bucket.full(self._rule, clock.monotonic())

    async def record(self, origin: Origin, command: str, refusal: CommandRefused, meta: dict[str, Any]) -> None:
        self._bucket, wait = take(self._bucket, self._rule, self._clock.monotonic())
        if wait is not None:
            self._metrics.security_records_dropped.inc()
            return
        await self._pipeline.refuse(Request(origin, command, meta=meta), refusal)
