"""The session retention job, on one node at a time (a lease in the store).

Every ``sweep_every`` seconds it records the sessions of dead nodes as lost
(``sessions_lost``: their records become ``disconnected``); every ``interval``
seconds it also blanks the IP and user agent of session records older than
``pii_days`` and compacts disconnected ones older than ``keep_days`` into counts
per day.  Each run is counted (``travelsense_session_retention_runs_total``,
``travelsense_session_retention_total`` by action) and logged in one line.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from prometheus_client import CollectorRegistry, Counter

from eventlog.session_port import SessionRecords
from service.clock import Clock, iso
from service.sessions import SessionService

log = logging.getLogger("travelsense.retention")
LEASE = "session-retention"
SWEEP_SECONDS = 30.0  # how often dead nodes' sessions are looked for
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
        sweep_every: float = SWEEP_SECONDS,
    ) -> None:
        self._records = records
        self._sessions = sessions
        self._clock = clock
        self._holder = holder
        self._interval = interval
        self._pii = timedelta(days=pii_days)
        self._keep = timedelta(days=keep_days)
        self._sweep_every = min(sweep_every, interval)
        self._last_run: datetime | None = None  # the last blank-and-compact run while holding the lease
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
        """A sweep, and a blank-and-compact run when one is due, if this node holds the
        lease (None: another does)."""
        now = self._clock.now()
        lease_until = now + timedelta(seconds=max(self._sweep_every, 1.0) * 2)
        if not await self._records.take_lease(LEASE, self._holder, iso(now), iso(lease_until)):
            self._last_run = None  # another node runs it; when this one takes over, it runs at once
            return None
        lost = await self._sessions.sweep()
        if self._last_run is not None and (now - self._last_run).total_seconds() < self._interval:
            if lost:
                self._counted.labels("lost").inc(lost)
                log.info("session retention: %d lost with their node", lost, extra={"lost": lost})
            return RetentionRun(lost, 0, 0)
        self._last_run = now
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
        """Run every ``sweep_every`` seconds until cancelled; a failed run is logged and retried next time."""
        while True:
            try:
                await self.run_once()
            except Exception:
                log.exception("session retention run failed; next in %.0f s", self._sweep_every)
            await asyncio.sleep(self._sweep_every)
