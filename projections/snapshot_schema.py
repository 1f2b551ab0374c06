"""What a trip snapshot was made by, so that a snapshot made by other code is never loaded.

A snapshot is a fold of the log through the upcasters and the domain's
``evolve``; a change to either (or to the snapshot's format, or to the events'
schema version) could fold the same log to another state.  The schema is a
digest of all of them: a deployment that changes any of them ignores the old
snapshots (loads fold from the log again, and write new ones).
"""

from __future__ import annotations

import functools
import hashlib
import inspect

import domain.trip_codec
import domain.trip_collab
import domain.trip_decider
import domain.trip_events
import domain.trip_model
import eventlog.upcasters
from eventlog.records import SCHEMA_VERSION

SNAPSHOT_FORMAT = 1
_FOLDED_BY = (
    domain.trip_decider,
    domain.trip_events,
    domain.trip_model,
    domain.trip_codec,
    eventlog.upcasters,
    domain.trip_collab,
)


@functools.cache
def snapshot_schema() -> str:
    digest = hashlib.sha256(f"{SNAPSHOT_FORMAT}:{SCHEMA_VERSION}".encode())
    for module in _FOLDED_BY:
        digest.update(inspect.getsource(module).encode())
    return f"{SNAPSHOT_FORMAT}.{SCHEMA_VERSION}.{digest.hexdigest()[:16]}"
