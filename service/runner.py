"""The one command runner: load state, decide, append with the expected
version, publish.  A lost race (another node took the version) re-reads the
stream and decides again; the log's unique (stream, version) key is the judge.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from domain.errors import CommandRefused, ErrorCode
from domain.trip_decider import TripCommand, TripEvent, decide, event_to_json, evolve
from domain.trip_limits import DEFAULT_TRIP_LIMITS, TripLimits
from domain.trip_model import Trip
from eventlog.ports import DuplicateCommand, VersionConflict
from eventlog.records import ACCEPTED, LogRecord
from projections.read_side import ReadSide
from service.clock import parse_iso
from service.recorder import Origin, Recorder

MAX_ATTEMPTS = 32
CONFLICT_BACKOFF_MAX = 0.02
CONFLICT_BACKOFF = 0.002  # seconds, times the attempt, at most CONFLICT_BACKOFF_MAX, randomised


async def after_conflict(read_side: ReadSide, trip_id: str, attempt: int) -> None:
    """Lost a race for the trip's next version to another node: wait a random moment
    (so that one node cannot lose every race to nodes that append back to back), then
    read what the winners wrote."""
    await asyncio.sleep(random.uniform(0, min(CONFLICT_BACKOFF * (attempt + 1), CONFLICT_BACKOFF_MAX)))
    await read_side.catch_up_trip(trip_id)


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
Enqueue = Callable[[LogRecord], "asyncio.Future[LogRecord]"]

# Set by whoever must keep commands in order (a connection's session) to hear when a
# command has taken its place in its stream: from then on the next may start.
ordering_point: ContextVar[Callable[[], None] | None] = ContextVar("ordering_point", default=None)


def passed_ordering_point() -> None:
    passed = ordering_point.get()
    if passed is not None:
        passed()


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


class _Chain:
    """This node's appends to one stream that are queued and not yet durable."""

    __slots__ = ("futures", "published", "state")

    def __init__(self) -> None:
        self.state: Trip | None = None  # the stream's state with every queued append folded in
        self.futures: list[asyncio.Future[LogRecord]] = []
        self.published: asyncio.Future[None] | None = None  # set once the newest append is broadcast


class TripRunner:
    def __init__(self, recorder: Recorder, read_side: ReadSide, limits: TripLimits = DEFAULT_TRIP_LIMITS) -> None:
        self._limits = limits
        self._recorder = recorder
        self._store = recorder.store
        self._read_side = read_side
        self._locks = StreamLocks()
        self._chains: dict[str, _Chain] = {}

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
        enqueue: Enqueue | None = getattr(self._store, "enqueue", None)
        if enqueue is None:
            return await self._run_serially(request, command, side_events, after_append)
        return await self._run_pipelined(enqueue, request, command, side_events, after_append)

    async def _run_serially(
        self,
        request: TripRequest,
        command: TripCommand,
        side_events: SideEvents | None,
        after_append: AfterAppend | None,
    ) -> Outcome:
        """The stream's lock is held until the append is durable and broadcast."""
        held = await self._locks(request.trip_id)
        async with held:
            earlier = await self._earlier(request.idempotency_key)
            if earlier is not None:
                return Outcome(earlier, self._read_side.trips.get(request.trip_id), duplicate=True)
            for attempt in range(MAX_ATTEMPTS):
                state = await self._read_side.trip(request.trip_id, fresh=False)
                try:
                    events = decide(state, command, self._limits)
                except CommandRefused as refusal:
                    await self._record_refusal(request, refusal)
                    raise
                try:
                    outcome = await self._append(request, state, events, side_events)
                except VersionConflict:
                    await after_conflict(self._read_side, request.trip_id, attempt)
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

    async def _run_pipelined(
        self,
        enqueue: Enqueue,
        request: TripRequest,
        command: TripCommand,
        side_events: SideEvents | None,
        after_append: AfterAppend | None,
    ) -> Outcome:
        """The stream's lock is held only until the append is queued (group commit).

        The next command on the stream is decided on this node's queued appends
        (``_Chain``), so one connection's commands, or a room's, share commits.
        The store fails every queued successor of a failed append, and a chain
        with a failed append is never decided on again (checked synchronously, on
        the store's futures, before every decision).  Refusals are decided on
        durable state only; broadcasts go out in version order.
        """
        trip_id = request.trip_id
        for attempt in range(MAX_ATTEMPTS):
            held = await self._locks(trip_id)
            async with held:
                # No lookup of the idempotency key up front: the log's unique key on it
                # refuses a repeat (DuplicateCommand, below), and a refusal looks first.
                chain = self._live_chain(trip_id)
                state = chain.state if chain is not None else await self._read_side.trip(trip_id, fresh=False)
                try:
                    events = decide(state, command, self._limits)
                except CommandRefused as refusal:
                    if chain is not None and not all(f.done() for f in chain.futures):
                        await asyncio.wait(chain.futures)  # decided on appends not yet durable: wait, decide again
                        continue
                    earlier = await self._earlier(request.idempotency_key)
                    if earlier is not None:  # a repeat: answered with the original, as if looked up first
                        return Outcome(earlier, self._read_side.trips.get(trip_id), duplicate=True)
                    await self._record_refusal(request, refusal)
                    raise
                if not events:
                    earlier = await self._earlier(request.idempotency_key)
                    if earlier is not None:
                        return Outcome(earlier, self._read_side.trips.get(trip_id), duplicate=True)
                    outcome = await self._append(request, state, events, side_events)
                    if after_append is not None:
                        await after_append(outcome)
                    return outcome
                [event] = events
                record = self._build(request, state, event, side_events)
                version = record.version or 0
                future = enqueue(record)
                if chain is None:
                    chain = self._chains[trip_id] = _Chain()
                chain.state = decided = evolve(state, event, version, record.at)
                chain.futures.append(future)
                published_before, published = chain.published, asyncio.get_running_loop().create_future()
                chain.published = published
                passed_ordering_point()
            try:
                try:
                    stored = await future
                finally:
                    self._settle(trip_id, chain, future)
                if published_before is not None and not published_before.done():
                    await published_before  # broadcasts leave in version order
                self._read_side.apply(stored)
                # the state after this append is the one decided on (evolve is pure and the
                # stored record is the built one): not folded a second time
                outcome = Outcome(stored, decided)
                if after_append is not None:
                    await after_append(outcome)
                return outcome
            except VersionConflict:
                await after_conflict(self._read_side, trip_id, attempt)
                continue
            except DuplicateCommand:
                again = await self._earlier(request.idempotency_key)
                if again is None:
                    raise
                return Outcome(again, self._read_side.trips.get(trip_id), duplicate=True)
            finally:
                if not published.done():
                    published.set_result(None)
        raise CommandRefused(ErrorCode.UNAVAILABLE, "the trip is too busy, retry")

    def _live_chain(self, trip_id: str) -> _Chain | None:
        """This node's queued appends to the stream, unless one of them failed."""
        chain = self._chains.get(trip_id)
        if chain is None:
            return None
        if any(f.done() and (f.cancelled() or f.exception() is not None) for f in chain.futures):
            del self._chains[trip_id]  # decided on a failed append: its successors fail in the store too
            return None
        return chain

    def _settle(self, trip_id: str, chain: _Chain, future: asyncio.Future[LogRecord]) -> None:
        if not future.cancelled() and future.exception() is None:
            chain.futures.remove(future)  # durable: the read side has it from here on
            if not chain.futures and self._chains.get(trip_id) is chain:
                del self._chains[trip_id]
        elif self._chains.get(trip_id) is chain:
            del self._chains[trip_id]

    def _build(
        self, request: TripRequest, state: Trip | None, event: TripEvent, side_events: SideEvents | None
    ) -> LogRecord:
        extra = side_events(state, event) if side_events is not None else []
        record: LogRecord = self._recorder.build(
            request.origin,
            request.command_name,
            ACCEPTED,
            trip_id=request.trip_id,
            payload=request.payload,
            ref=request.ref,
            events=(event_to_json(event), *extra),
            stream=request.trip_id,
            version=(state.version if state else 0) + 1,
            idempotency_key=request.idempotency_key,
        )
        return record

    async def _record_refusal(self, request: TripRequest, refusal: CommandRefused) -> None:
        await self._recorder.refused(
            request.origin,
            request.command_name,
            refusal,
            trip_id=request.trip_id,
            payload=request.payload,
            ref=request.ref,
        )

    async def _append(
        self, request: TripRequest, state: Trip | None, events: tuple[TripEvent, ...], side_events: SideEvents | None
    ) -> Outcome:
        if not events:
            record = await self._recorder.accepted(
                request.origin, request.command_name, trip_id=request.trip_id, payload=request.payload, ref=request.ref
            )
            return Outcome(record, state)
        [event] = events
        record = await self._store.append(self._build(request, state, event, side_events))
        self._read_side.apply(record)
        # the state after the append is the one its event gives (evolve is pure): not read back
        return Outcome(record, evolve(state, event, record.version or 0, record.at))
