"""Every WebSocket is a file descriptor: ``--max-connections`` must fit under
``RLIMIT_NOFILE``.  At start the soft limit is raised as far as needed (up to
the hard limit); when even the hard limit is too low, the node takes fewer
connections than asked and says so."""

from __future__ import annotations

import logging
import resource
from dataclasses import dataclass

log = logging.getLogger("travelsense")

HEADROOM = 256  # descriptors besides sockets: the store, Redis, logs, the listening socket, Python's own


@dataclass(frozen=True, slots=True)
class FileLimit:
    soft: int
    hard: int
    max_connections: int  # what fits


def needed(max_connections: int) -> int:
    return max_connections + HEADROOM


def fit(max_connections: int, soft: int, hard: int) -> FileLimit:
    """The soft limit to set and the connections that fit under it (pure)."""
    unlimited = resource.RLIM_INFINITY
    want = needed(max_connections)
    if soft == unlimited or soft >= want:
        return FileLimit(soft, hard, max_connections)
    new_soft = want if hard == unlimited else min(want, hard)
    return FileLimit(new_soft, hard, min(max_connections, max(0, new_soft - HEADROOM)))


def raise_file_limit(max_connections: int) -> int:
    """Raise this process's soft limit to fit ``max_connections``; returns the connections that fit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    fitted = fit(max_connections, soft, hard)
    if fitted.soft != soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (fitted.soft, hard))
        except (ValueError, OSError) as exc:
            fitted = FileLimit(soft, hard, min(max_connections, max(0, soft - HEADROOM)))
            log.warning("cannot raise the open-file limit from %d: %s", soft, exc)
        else:
            log.info("open-file limit raised from %d to %d for %d connections", soft, fitted.soft, max_connections)
    if fitted.max_connections < max_connections:
        log.warning(
            "the open-file limit (%d, hard %d) fits %d connections, not %d: taking at most %d"
            " (raise `ulimit -n` or the container's nofile ulimit)",
            fitted.soft,
            hard,
            fitted.max_connections,
            max_connections,
            fitted.max_connections,
        )
    return fitted.max_connections
