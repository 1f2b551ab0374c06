"""The session retention job: on one node at a time (a lease in the store), every
``interval`` seconds it records the sessions of dead nodes as lost, blanks the IP
and user agent of session records older than ``pii_days`` and compacts
disconnected ones older than ``keep_days`` into counts per day.  Each run is
counted (``travelsense_session_retention_total``) and logged in one line.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import timedelta

from prometheus_client import CollectorRegistry, Counter

from eventlog.session_port import SessionRecords
from service.clock import Clock, iso
from service.sessions import SessionService

log = logging.getLogger("travelsense.retention")
LEASE = "session-retention"
NAMESPACE = "travelsense"


@dataclass(frozen=True, slots=True)
class RetentionRun:
    lost: int
    blanked: int
    compacted: int


class SessionRetention:
    def __init__(
        self,
        records: SessionRecords,
        sessions: SessionService,
        clock: Clock,
        registry: CollectorRegistry,
        *,
        holder: str,
        interval: float,
        pii_days: float,
        keep_days: float,
    ) -> None:
        self._records = records
        self._sessions = sessions
        self._clock = clock
        self._holder = holder
        self._interval = interval
        self._pii = timedelta(days=pii_days)
        self._keep = timedelta(days=keep_days)
        self._counted = Counter(
            "session_retention",
            "Session records changed by the retention job, by what was done (lost, blanked, compacted).",
            ["action"],
            namespace=NAMESPACE,
            registry=registry,
        )
        self._runs = Counter(
            "session_retention_runs",
            "Runs of the session retention job on this node.",
            namespace=NAMESPACE,
            registry=registry,
        )

    async def run_once(self) -> RetentionRun | None:
        """One run, if this node holds the lease (None: another does)."""
        now = self._clock.now()
        lease_until = now + timedelta(seconds=max(self._interval, 1.0) * 2)
        if not await self._records.take_lease(LEASE, self._holder, iso(now), iso(lease_until)):
            return None
        lost = await self._sessions.sweep()
        blanked = await self._records.blank_personal(iso(now - self._pii))
        compacted = await self._records.compact(iso(now - self._keep))
        run = RetentionRun(lost, blanked, compacted)
        self._runs.inc()
        for action, count in (("lost", lost), ("blanked", blanked), ("compacted", compacted)):
            self._counted.labels(action).inc(count)
        log.info(
            "session retention: %d lost with their node, %d blanked, %d compacted",
            lost,
            blanked,
            compacted,
            extra={"lost": lost, "blanked": blanked, "compacted": compacted},
        )
        return run

    async def follow(self) -> None:
        """Run every ``interval`` seconds until cancelled; a failed run is logged and retried next time."""
        while True:
            try:
                await self.run_once()
            except Exception:
                log.exception("session retention run failed; next in %.0f s", self._interval)
            await asyncio.sleep(self._interval)
