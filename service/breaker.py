"""The store breaker: while the event log does not answer, commands are refused at once.

::

    closed --an append fails StoreUnavailable, or a store call outlasts the timeout--> open
    open   --an append succeeds (the probe: one at a time)--------------------------> closed

Closed, every store call goes to the store (bounded by the store timeout).  Open, a
read or a wait on the store is refused at once, and so is an append, except one at a
time: the probe, a real append (a command's record, or a refusal's), which closes the
breaker when it is written.  So while the store is down each command is answered
within the store timeout, not one timeout after another: a connection's frames do not
queue behind each other's timeouts.  Nothing refused at once was sent to the store,
so nothing refused is stored.  One warning when it opens, one when it closes.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from eventlog.ports import DuplicateCommand, StoreUnavailable, VersionConflict
from service.metrics import Metrics

log = logging.getLogger("travelsense.store")


class StoreBreaker:
    def __init__(self, metrics: Metrics | None = None) -> None:
        self._metrics = metrics
        self._open_since: float | None = None
        self._probe: asyncio.Future[Any] | None = None  # the one append let through while open
        self._refused = 0  # refused at once in this outage
        self.unrecorded = 0  # refusals whose record could not be written in this outage

    @property
    def open(self) -> bool:
        return self._open_since is not None

    def check(self) -> None:
        """Before a read or a wait on the store: refused at once while open (never a probe)."""
        if self._open_since is not None:
            self._refuse()

    def admit(self) -> bool:
        """Before an append: True when it goes as the probe (the breaker open, no probe
        out; see ``watch``), False when closed; refused at once while a probe is out."""
        if self._open_since is None:
            return False
        if self._probe is not None:
            self._refuse()
        return True

    def watch(self, append: asyncio.Future[Any], probe: bool) -> None:
        """Learn from an append's outcome (``probe``: what ``admit`` said)."""
        if probe:
            self._probe = append
        append.add_done_callback(self._settled)

    def _settled(self, append: asyncio.Future[Any]) -> None:
        if append is self._probe:
            self._probe = None
        if append.cancelled():
            return
        failure = append.exception()
        if isinstance(failure, StoreUnavailable):
            self.failed(failure)
        elif failure is None or isinstance(failure, VersionConflict | DuplicateCommand):
            self.succeeded()  # written, or refused by the store itself: it answers

    def failed(self, why: BaseException) -> None:
        """The store did not answer (``StoreUnavailable``, or a call outlasted the timeout)."""
        if self._open_since is not None:
            return
        self._open_since = time.monotonic()
        self._refused = self.unrecorded = 0
        if self._metrics is not None:
            self._metrics.store_breaker_open.set(1)
        log.warning(
            "the event log does not answer (%s): commands are refused with UNAVAILABLE, one append at a time"
            " trying it, until one is written",
            why,
        )

    def succeeded(self) -> None:
        if self._open_since is None:
            return
        lasted = time.monotonic() - self._open_since
        self._open_since = None
        if self._metrics is not None:
            self._metrics.store_breaker_open.set(0)
        log.warning(
            "the event log answers again after %.1f s: %d commands refused at once meanwhile, %d refusals not recorded",
            lasted,
            self._refused,
            self.unrecorded,
        )

    def _refuse(self) -> None:
        self._refused += 1
        if self._metrics is not None:
            self._metrics.store_breaker_refusals.inc()
        raise StoreUnavailable("the event log does not answer: refused without trying it (a probe is out)")
