"""Event upcasters: old event shapes lifted to the current ones as the log is read.

An event's schema version is the ``schemaVersion`` of the record that holds it
(see ``eventlog/records.py``).  When a release changes the shape of an event
type, it bumps ``SCHEMA_VERSION`` and registers here one small pure function per
changed type, keyed by ``(event type, the version it lifts from)``: it takes one
event ``{"type", "data"}`` in the old shape and returns it in the next version's
shape, without touching its argument.  Types that did not change between two
versions need no function.  ``eventlog.records.from_document`` applies them, so
every reader (projections, REST, recovery, analysts) sees current shapes only,
and a log written by an older release replays into the current model.

Registered so far: none.  Schema version 2 added the hash chain to records and
left every event type's shape as version 1 wrote it.

Pure: no I/O, no driver, no clock (``eventlog`` imports this module).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

Event = dict[str, Any]
Upcaster = Callable[[Event], Event]

UPCASTERS: dict[tuple[str, int], Upcaster] = {}


def upcaster(event_type: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
    """Register ``fn`` as lifting ``event_type`` events from ``from_version`` to ``from_version + 1``."""

    def register(fn: Upcaster) -> Upcaster:
        key = (event_type, from_version)
        if key in UPCASTERS:
            raise ValueError(f"an upcaster for {event_type} from version {from_version} is registered already")
        UPCASTERS[key] = fn
        return fn

    return register


def event_schema_version(
    event_type: str, current: int, registry: Mapping[tuple[str, int], Upcaster] = UPCASTERS
) -> int:
    """The version in which ``event_type`` last changed shape (1 when it never did)."""
    changed = [version + 1 for (kind, version) in registry if kind == event_type and version < current]
    return max(changed, default=1)


def upcast_event(
    event: Event, from_version: int, to_version: int, registry: Mapping[tuple[str, int], Upcaster] = UPCASTERS
) -> Event:
    """``event`` (written at ``from_version``) in the shape of ``to_version``."""
    for version in range(from_version, to_version):
        lift = registry.get((event.get("type", ""), version))
        if lift is not None:
            event = lift(event)
    return event


def upcast_events(
    events: tuple[Event, ...],
    from_version: int,
    to_version: int,
    registry: Mapping[tuple[str, int], Upcaster] = UPCASTERS,
) -> tuple[Event, ...]:
    """The events in the shape of ``to_version``; ``events`` itself when nothing had to change."""
    if not registry or from_version >= to_version:
        return events
    lifted = tuple(upcast_event(event, from_version, to_version, registry) for event in events)
    if all(new is old for new, old in zip(lifted, events, strict=True)):
        return events
    return lifted
