"""The one command runner: load state, decide, append with the expected
version, publish.  A lost race (another node took the version) re-reads the
stream and decides again; the log's unique (stream, version) key is the judge.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from domain.errors import CommandRefused, ErrorCode
from domain.trip_decider import TripCommand, TripEvent, decide, event_to_json, evolve
from domain.trip_model import Trip
from eventlog.ports import DuplicateCommand, VersionConflict
from eventlog.records import LogRecord
from projections.read_side import ReadSide
from service.clock import parse_iso
from service.recorder import Origin, Recorder

MAX_ATTEMPTS = 16
IDEMPOTENCY_WINDOW = dt.timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class Outcome:
    record: LogRecord
    trip: Trip | None
    duplicate: bool = False


@dataclass(frozen=True, slots=True)
class TripRequest:
    origin: Origin
    command_name: str
    trip_id: str
    payload: Any
    ref: str | None = None
    idempotency_key: str | None = None


SideEvents = Callable[[Trip | None, TripEvent], list[dict[str, Any]]]
AfterAppend = Callable[[Outcome], Awaitable[None]]


class StreamLocks:
    """One lock per stream on this node, dropped when nobody holds or waits."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    async def __call__(self, stream: str) -> _Held:
        lock, users = self._locks.get(stream, (asyncio.Lock(), 0))
        self._locks[stream] = (lock, users + 1)
        await lock.acquire()
        return _Held(self, stream, lock)

    def _release(self, stream: str, lock: asyncio.Lock) -> None:
        lock.release()
        _, users = self._locks[stream]
        if users <= 1:
            del self._locks[stream]
        else:
            self._locks[stream] = (lock, users - 1)


class _Held:
    def __init__(self, owner: StreamLocks, stream: str, lock: asyncio.Lock) -> None:
        self._owner, self._stream, self._lock = owner, stream, lock

    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, *exc: object) -> None:
        self._owner._release(self._stream, self._lock)


class TripRunner:
    def __init__(self, recorder: Recorder, read_side: ReadSide) -> None:
        self._recorder = recorder
        self._store = recorder.store
        self._read_side = read_side
        self._locks = StreamLocks()

    async def _earlier(self, key: str | None) -> LogRecord | None:
        if key is None:
            return None
        found = await self._store.find_by_idempotency_key(key)
        if found is None:
            return None
        if self._recorder.clock.now() - parse_iso(found.at) > IDEMPOTENCY_WINDOW:
            return None
        return found

    async def run(
        self,
        request: TripRequest,
        command: TripCommand,
        *,
        side_events: SideEvents | None = None,
        after_append: AfterAppend | None = None,
    ) -> Outcome:
        held = await self._locks(request.trip_id)
        async with held:
            earlier = await self._earlier(request.idempotency_key)
            if earlier is not None:
                return Outcome(earlier, self._read_side.trips.get(request.trip_id), duplicate=True)
            for _ in range(MAX_ATTEMPTS):
                state = await self._read_side.trip(request.trip_id, fresh=False)
                try:
                    events = decide(state, command)
                except CommandRefused as refusal:
                    await self._recorder.refused(
                        request.origin, request.command_name, refusal,
                        trip_id=request.trip_id, payload=request.payload, ref=request.ref,
                    )
                    raise
                try:
                    outcome = await self._append(request, state, events, side_events)
                except VersionConflict:
                    await self._read_side.catch_up_trip(request.trip_id)
                    continue
                except DuplicateCommand:
                    again = await self._earlier(request.idempotency_key)
                    if again is None:
                        raise
                    return Outcome(again, self._read_side.trips.get(request.trip_id), duplicate=True)
                if after_append is not None:
                    await after_append(outcome)
                return outcome
        raise CommandRefused(ErrorCode.UNAVAILABLE, "the trip is too busy, retry")

    async def _append(
        self, request: TripRequest, state: Trip | None, events: tuple[TripEvent, ...], side_events: SideEvents | None
    ) -> Outcome:
        recorder = self._recorder
        if not events:
            record = await recorder.accepted(
                request.origin, request.command_name, trip_id=request.trip_id, payload=request.payload, ref=request.ref
            )
            return Outcome(record, state)
        [event] = events
        version = (state.version if state else 0) + 1
        extra = side_events(state, event) if side_events is not None else []
        record = await recorder.accepted(
            request.origin,
            request.command_name,
            trip_id=request.trip_id,
            payload=request.payload,
            ref=request.ref,
            events=(event_to_json(event), *extra),
            stream=request.trip_id,
            version=version,
            idempotency_key=request.idempotency_key,
        )
        self._read_side.apply(record)
        after = self._read_side.trips.get(request.trip_id)
        if after is None or after.version != version:  # the read side had a gap; fold locally
            after = evolve(state, event, version, record.at)
        return Outcome(record, after)
