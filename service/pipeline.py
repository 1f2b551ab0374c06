"""The one command pipeline: every command, on every store, through one path.

::

    Request + command --Pipeline.submit--> Handle
        stream commands (a trip's):  take the stream's turn (in the order submitted) ->
            load the state (this node's queued appends folded in) -> decide ->
            enqueue the record (the store's group commit) -> submit returns: the
            connection's next command may start; then, as the caller awaits
            Handle.outcome: durable -> fold into the read side -> react (deliveries,
            notifications) in version order -> the outcome
    Pipeline.record(request, events): a command outside any stream (room signals,
        sessions, admin actions, notifications): its decider is trivial, the record
        goes the same way (append, fold, react)
    Pipeline.refuse(request, refusal): the one place a refused command is recorded

A lost race for a stream's next version (another node appended it first) takes
every later append of this node to that stream down with it (the stores promise
that); the commands are then decided again *in the order they were submitted*
(``_Lane``), so one connection's commands never overtake each other, on any
number of nodes.  A store that does not answer within ``store_timeout`` seconds
refuses with ``UNAVAILABLE``; a stream's state is read before its turn is taken, so
no turn waits on a store that does not answer.  Once a store call has failed so, the
breaker (``service/breaker.py``) refuses the next ones at once, one append at a time
trying the store, until one is written: every command is answered within the timeout
while the store is down, however many a connection sends.  The key store (what a record's
personal data is sealed with) is waited for apart, before a command's turn, within the same
timeout: when it does not answer, that command alone is refused (``KeyStoreUnavailable``), and
the breaker stays as it was.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import random
from collections.abc import Awaitable, Coroutine, Generator, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol, TypeVar

from domain.errors import CommandRefused, ErrorCode
from domain.trip_decider import TripCommand, decide, evolve
from domain.trip_events import (
    ChangeNotified,
    ChatMessagePosted,
    DecidedEvent,
    NotificationCreated,
    event_from_json,
    event_to_json,
)
from domain.trip_limits import DEFAULT_TRIP_LIMITS, TripLimits
from domain.trip_model import Trip
from eventlog.ports import DuplicateCommand, EventStore, StoreUnavailable, VersionConflict
from eventlog.records import ACCEPTED, REFUSED, LogRecord, new_record
from projections.read_side import ReadSide
from service.breaker import StoreBreaker
from service.clock import Clock, iso, parse_iso
from service.ids import ObjectIdFactory
from service.privacy import RecordSealer, seals_network
from service.refusal_payload import bounded_payload

log = logging.getLogger("travelsense.pipeline")
T = TypeVar("T")

MAX_ATTEMPTS = 32
CONFLICT_BACKOFF = 0.002  # seconds, times the attempt, at most CONFLICT_BACKOFF_MAX, randomised
CONFLICT_BACKOFF_MAX = 0.02
IDEMPOTENCY_WINDOW_SECONDS = 24 * 3600
STORE_TIMEOUT = 1.0


class KeyStoreUnavailable(CommandRefused):
    """The key store did not answer for the keys a command's record is sealed with: that
    command is refused ``UNAVAILABLE``; the event log's breaker is not told (the log may
    answer well), and the refusal is not recorded (its record would wait on the same keys)."""

    def __init__(self) -> None:
        super().__init__(ErrorCode.UNAVAILABLE, "the key store is unavailable, retry")


# refusals whose payload is never logged: oversized, unreadable, or a credential
_PAYLOAD_NOT_LOGGED = frozenset({ErrorCode.PAYLOAD_TOO_LARGE, ErrorCode.BAD_REQUEST})
_CREDENTIAL_COMMANDS = frozenset({"refresh_token"})


@dataclass(frozen=True, slots=True)
class Origin:
    """Who sent a command, and through what."""

    source: str  # "ws", "rest" or "system"
    user_id: str | None = None
    role: str | None = None
    session_id: str | None = None


@dataclass(frozen=True, slots=True)
class Request:
    """A command as it arrived: who sent it, its name in the log, and what it asked."""

    origin: Origin
    command: str
    payload: Any = None
    ref: str | None = None
    trip_id: str | None = None
    idempotency_key: str | None = None
    meta: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    record: LogRecord
    trip: Trip | None
    duplicate: bool = False  # a repeat of an accepted command: answered with the original


class Handle:
    """A submitted command, once it has its place in its stream (or is answered): from
    then on the connection's next command may start and still takes effect after it.
    The caller awaits ``outcome``, once, at once (the session does, in the frame's own
    task): awaiting it runs the rest (durable, folded, reacted to), or raises the refusal.
    A command placed in its stream but never awaited would hold its stream's later
    reactions back."""

    __slots__ = ("outcome",)

    def __init__(self, outcome: Awaitable[Outcome]) -> None:
        self.outcome = outcome

    def __await__(self) -> Generator[Any, None, Outcome]:
        return self.outcome.__await__()


class _DecideAgain(Exception):
    """An append of this node's that the state would include failed: decide again, in line."""


class _Placed(NamedTuple):
    future: asyncio.Future[LogRecord]  # the append, durable once done
    decided: Trip | None  # the stream's state after it
    published_before: asyncio.Future[None] | None  # the previous append of this node's, reacted to
    published: asyncio.Future[None]  # this one, reacted to


class Reactions(Protocol):
    """What happens because a record was committed (deliveries, notifications)."""

    async def committed(self, record: LogRecord) -> None: ...


def refusal_json(refusal: CommandRefused) -> dict[str, Any]:
    """A refusal as the log keeps it (the one encoder)."""
    out: dict[str, Any] = {"code": refusal.code.value, "message": refusal.message}
    if refusal.details is not None:
        out["details"] = refusal.details
    return out


def idempotency_key(user_id: str | None, trip_id: str | None, command: str, ref: str | None) -> str | None:
    """A repeated ``ref`` is the same command only from the same user, on the same trip, for the same event."""
    if ref is None or user_id is None:
        return None
    return f"{user_id}:{trip_id or '-'}:{command}:{ref}"


def _failed(append: asyncio.Future[LogRecord]) -> bool:
    """Whether a queued append is settled and did not make it into the log."""
    return append.done() and (append.cancelled() or append.exception() is not None)


class _Lane:
    """This node's commands on one stream, in the order they were submitted.

    Every command takes a ticket.  A command may decide only when it holds the lowest
    ticket without a place in the store's queue ("unplaced"), so a command whose
    append failed goes back in line *before* every later one.  ``state`` is the
    stream's state with every queued append folded in, valid while none failed.
    """

    __slots__ = ("_busy", "_inflight", "_next", "_unplaced", "_waiters", "live", "published", "state", "state_valid")

    def __init__(self) -> None:
        self._next = 0
        self._unplaced: list[int] = []  # a heap
        self._inflight: dict[int, asyncio.Future[LogRecord]] = {}  # queued, not yet folded into the read side
        self._waiters: dict[int, asyncio.Future[None]] = {}
        self._busy = False
        self.state: Trip | None = None
        self.state_valid = False
        self.published: asyncio.Future[None] | None = None  # done once the newest queued append has reacted
        self.live = 0

    def issue(self) -> int:
        ticket = self._next
        self._next += 1
        heapq.heappush(self._unplaced, ticket)
        self.live += 1
        return ticket

    def _refresh(self) -> None:
        """Appends that failed go back in line (their successors failed with them)."""
        if not self._inflight:
            return
        # a failed append fails every later one of the stream (the stores promise it):
        # if the newest did not fail, none did
        newest = next(reversed(self._inflight.values()))
        if not _failed(newest):
            return
        for ticket, future in list(self._inflight.items()):
            if _failed(future):
                self.unplace(ticket)

    def unplace(self, ticket: int) -> None:
        if self._inflight.pop(ticket, None) is not None:
            heapq.heappush(self._unplaced, ticket)
            self.state_valid = False

    async def turn(self, ticket: int) -> None:
        while True:
            self._refresh()
            if not self._busy and self._unplaced and self._unplaced[0] == ticket:
                self._busy = True
                return
            waiter = asyncio.get_running_loop().create_future()
            self._waiters[ticket] = waiter
            try:
                await waiter
            finally:
                self._waiters.pop(ticket, None)

    def _wake(self) -> None:
        if not self._waiters:
            return
        self._refresh()
        if self._unplaced:
            waiter = self._waiters.get(self._unplaced[0])
            if waiter is not None and not waiter.done():
                waiter.set_result(None)

    def place(self, ticket: int, future: asyncio.Future[LogRecord], state: Trip | None) -> None:
        """The turn's command is queued in the store: the next one decides on ``state``."""
        self._take_out(ticket)
        self._inflight[ticket] = future
        self.state, self.state_valid = state, True
        self._busy = False
        self._wake()

    def pass_turn(self) -> None:
        """The turn ends without a place (refused, answered without a stream event, or to wait)."""
        self._busy = False
        self._wake()

    def pending(self) -> list[asyncio.Future[LogRecord]]:
        return list(self._inflight.values())

    def applied(self, ticket: int) -> None:
        """The ticket's record is in the read side: the read side's state includes it."""
        self._inflight.pop(ticket, None)

    def retire(self, ticket: int) -> None:
        future = self._inflight.pop(ticket, None)
        if future is not None and (not future.done() or _failed(future)):
            self.state_valid = False  # its effect is in ``state`` but not in the log
        self._take_out(ticket)
        self.live -= 1
        self._wake()

    def _take_out(self, ticket: int) -> None:
        if ticket in self._unplaced:
            self._unplaced.remove(ticket)
            heapq.heapify(self._unplaced)


class Pipeline:
    def __init__(
        self,
        store: EventStore,
        read_side: ReadSide,
        reactions: Reactions,
        clock: Clock,
        new_id: ObjectIdFactory,
        *,
        store_timeout: float = STORE_TIMEOUT,
        trip_limits: TripLimits = DEFAULT_TRIP_LIMITS,
        sealer: RecordSealer | None = None,
        breaker: StoreBreaker | None = None,
    ) -> None:
        self._store = store
        self._read_side = read_side
        self._reactions = reactions
        self._clock = clock
        self._new_id = new_id
        self._store_timeout = store_timeout
        self._trip_limits = trip_limits
        self._lanes: dict[str, _Lane] = {}
        self._sealer = sealer  # None: personal data is logged as it came (tests of other parts)
        self._breaker = breaker if breaker is not None else StoreBreaker()

    # records --------------------------------------------------------------------

    def now(self) -> str:
        return iso(self._clock.now())

    def build(self, request: Request, outcome: str, *, at: str, **fields: Any) -> LogRecord:
        """The record of a command made at ``at`` (the time its keys were made ready at: the
        clock is read once), its personal data sealed (``service/privacy.py``)."""
        return self._record_of(self._fields(request, outcome, at=at, **fields))

    def _record_of(self, fields: dict[str, Any]) -> LogRecord:
        if self._sealer is not None:
            try:
                self._sealer.seal_fields(fields)
            except StoreUnavailable:  # a key could not be written (``ready`` waited for it first)
                raise KeyStoreUnavailable from None
        return new_record(**fields)

    def _fields(self, request: Request, outcome: str, *, at: str, **fields: Any) -> dict[str, Any]:
        meta = request.meta
        if request.origin.role is not None:
            meta = {"role": request.origin.role, **(meta or {})}
        return {
            "record_id": self._new_id(),
            "at": at,
            "source": request.origin.source,
            "command": request.command,
            "outcome": outcome,
            "user_id": request.origin.user_id,
            "session_id": request.origin.session_id,
            "trip_id": request.trip_id,
            "payload": request.payload,
            "ref": request.ref,
            "meta": meta,
            **fields,
        }

    async def record(self, request: Request, events: Sequence[dict[str, Any]] = ()) -> LogRecord:
        """An accepted command outside any stream: appended, folded, reacted to."""
        # not bounded here: an append given up on might still be written (the stores fail fast themselves)
        at = await self._keys_ready(request)
        probe = self._breaker.admit()  # refused at once while the store does not answer
        record = await self._enqueue(self.build(request, ACCEPTED, events=tuple(events), at=at), probe)
        self._read_side.apply(record)
        await self._reactions.committed(record)
        return record

    async def refuse(self, request: Request, refusal: CommandRefused) -> LogRecord | None:
        """Record a refused command (the only place one is); never raises: the refusal is
        answered whether or not its record could be written (one the key store did not
        answer for is not: its record would wait on the same keys)."""
        if isinstance(refusal, KeyStoreUnavailable):
            return None
        payload = request.payload
        if refusal.code in _PAYLOAD_NOT_LOGGED or request.command in _CREDENTIAL_COMMANDS:
            payload = None
        payload = bounded_payload(payload)  # a large one: its size and digest
        try:
            at = await self._keys_ready(request)
            probe = self._breaker.admit()
            fields = self._fields(request, REFUSED, error=refusal_json(refusal), payload=payload, at=at)
            record = self._record_of(fields)
            written = self._enqueue(record, probe)
            if probe:  # the store does not answer: the refusal is answered now, and recorded if it does
                return None
            return await written
        except StoreUnavailable:
            self._breaker.unrecorded += 1  # counted, and told once per outage (``StoreBreaker``)
            return None
        except KeyStoreUnavailable:  # its personal data cannot be sealed now: not recorded
            return None
        except Exception:
            log.warning("could not record a refused %r", request.command, exc_info=True)
            return None

    async def _keys_ready(self, request: Request) -> str:
        """The time the request's record is made at, once the keys it is sealed with are read or
        written ahead, off the event loop (a person or a day this node has not held yet): building
        it then meets no key store.  Taken again after a wait (the day, and its key, may have turned)."""
        at = self.now()
        while (wait := self._keys_wait(request, at)) is not None:
            await wait
            at = self.now()
        return at

    def _keys_wait(self, request: Request, at: str) -> Awaitable[None] | None:
        """What to await before the request's record is made at ``at``: the read or write of the
        keys it is sealed with, bounded by the store timeout; None when they are held (then no
        coroutine is made: the hot path)."""
        if self._sealer is None:
            return None
        wait = self._sealer.ready(request.origin.user_id, request.meta, at)
        return None if wait is None else self._keys_bounded(wait)

    def _enqueue(self, record: LogRecord, probe: bool) -> asyncio.Future[LogRecord]:
        """Queue an append once the breaker admitted it (``probe``: what ``admit`` said)."""
        future = self._store.enqueue(record)
        self._breaker.watch(future, probe)
        return future

    # stream commands ----------------------------------------------------------------

    async def submit(self, request: Request, command: TripCommand) -> Handle:
        """Start a trip command; see ``Handle``.

        The command takes its place in line (a ticket) at once, then is decided and
        queued in the store here, in the caller's task, so the connection's next frame
        may start as soon as this returns, without waiting for another task to be run;
        commands submitted one after another keep their order.  What follows (durable,
        read side, reactions, decided again after a lost race) runs as the caller awaits
        ``Handle.outcome``, in its own task: no task per command.
        """
        trip_id = request.trip_id
        assert trip_id is not None
        loop = asyncio.get_running_loop()
        lane = self._lanes.get(trip_id)
        if lane is None:
            lane = self._lanes[trip_id] = _Lane()
        ticket = lane.issue()
        try:
            first = await self._place(lane, ticket, request, command)
        except CommandRefused as refusal:
            self._leave(lane, ticket, trip_id)
            refused: asyncio.Future[Outcome] = loop.create_future()
            refused.set_exception(refusal)
            return Handle(refused)
        except BaseException:
            self._leave(lane, ticket, trip_id)
            raise
        if isinstance(first, Outcome):
            self._leave(lane, ticket, trip_id)
            answered: asyncio.Future[Outcome] = loop.create_future()
            answered.set_result(first)
            return Handle(answered)
        return Handle(self._complete(lane, ticket, request, command, first))

    async def run(self, request: Request, command: TripCommand) -> Outcome:
        return await (await self.submit(request, command)).outcome

    def _leave(self, lane: _Lane, ticket: int, trip_id: str) -> None:
        lane.retire(ticket)
        if lane.live == 0 and self._lanes.get(trip_id) is lane:
            del self._lanes[trip_id]

    async def _place(self, lane: _Lane, ticket: int, request: Request, command: TripCommand) -> _Placed | Outcome:
        """Decide the command in its turn and queue its record in the store: its place in
        the stream; or the answer when it changes nothing (or repeats an earlier one)."""
        trip_id = request.trip_id
        assert trip_id is not None
        while True:
            # read before taking the turn (a store read may wait for its timeout); in the
            # turn the state is in memory
            if not self._read_side.holds(trip_id):
                await self._bounded(self._read_side.trip(trip_id, fresh=False))
            # the record's day, for its network key (the clock is read only when it has one)
            dated = self._sealer is not None and seals_network(request.meta)
            ready_at = self.now() if dated else ""
            if (wait := self._keys_wait(request, ready_at)) is not None:  # (no coroutine when held)
                await wait
            await lane.turn(ticket)
            placed: _Placed | None = None
            try:
                try:
                    state = await self._state(lane, trip_id)
                except _DecideAgain:
                    continue
                try:
                    events = decide(state, command, self._trip_limits)
                except CommandRefused:
                    # decided on appends not yet durable: a refusal stands only on durable ones
                    if not await self._durable(lane):
                        continue  # one failed: it is decided again first, then this one
                    earlier = await self._earlier(request)
                    if earlier is not None:  # a repeat: answered with the original
                        return Outcome(earlier, state, duplicate=True)
                    raise
                if not events:  # nothing changes (a member added again): the same rule as a refusal
                    if not await self._durable(lane):
                        continue
                    noop = state
                    break
                stream_event = events[0]
                assert not isinstance(stream_event, NotificationCreated | ChangeNotified)  # the stream event first
                at = self.now()
                # the day turned in the wait for the turn: that day's network key, read or made now
                if dated and at[:10] != ready_at[:10] and (wait := self._keys_wait(request, at)) is not None:
                    await wait
                    at = self.now()
                probe = self._breaker.admit()  # refused at once while the store does not answer
                record = self._stream_record(request, state, events, at)
                if self._sealer is not None and not isinstance(stream_event, ChatMessagePosted):
                    # sealed: the state keeps what the log keeps (a chat message changes only its version)
                    stream_event = event_from_json(record.events[0])
                future = self._enqueue(record, probe)
                decided = evolve(state, stream_event, record.version or 0, record.at, by=record.user_id)
                published_before = lane.published
                published = lane.published = asyncio.get_running_loop().create_future()
                lane.place(ticket, future, decided)
                placed = _Placed(future, decided, published_before, published)
                return placed
            finally:
                if placed is None:
                    lane.pass_turn()
        # nothing changes: recorded outside the stream, once the turn has passed
        earlier = await self._earlier(request)
        if earlier is not None:
            return Outcome(earlier, noop, duplicate=True)
        return Outcome(await self.record(request), noop)

    async def _complete(
        self, lane: _Lane, ticket: int, request: Request, command: TripCommand, placed: _Placed
    ) -> Outcome:
        """Once the record is durable: fold it, react to it in version order.  A lost race
        puts the command back in line, before every later one, and decides it again."""
        trip_id = request.trip_id
        assert trip_id is not None
        try:
            conflicts = 0
            while True:
                future, decided, published_before, published = placed
                try:
                    stored = await future
                except VersionConflict:
                    lane.unplace(ticket)
                    published.set_result(None)
                    conflicts += 1
                    if conflicts >= MAX_ATTEMPTS:
                        raise CommandRefused(ErrorCode.UNAVAILABLE, "the trip is too busy, retry") from None
                    await self._after_conflict(trip_id, conflicts)
                    again = await self._place(lane, ticket, request, command)
                    if isinstance(again, Outcome):
                        return again
                    placed = again
                    continue
                except DuplicateCommand:
                    published.set_result(None)
                    earlier = await self._earlier(request)
                    if earlier is None:
                        raise
                    return Outcome(earlier, self._read_side.trips.get(trip_id), duplicate=True)
                except BaseException:
                    published.set_result(None)
                    raise
                try:
                    if published_before is not None and not published_before.done():
                        await published_before  # reactions follow version order
                    self._read_side.apply(stored)
                    lane.applied(ticket)
                    await self._reactions.committed(stored)
                finally:
                    published.set_result(None)
                return Outcome(stored, decided)
        finally:
            self._leave(lane, ticket, trip_id)

    async def _durable(self, lane: _Lane) -> bool:
        """Wait until this node's queued appends to the stream are settled; False when one
        failed (what was decided on them must be decided again, after it)."""
        pending = lane.pending()
        if not pending:
            return True
        await self._bounded(asyncio.wait(pending))
        return not any(_failed(f) for f in pending)

    async def _state(self, lane: _Lane, trip_id: str) -> Trip | None:
        """The state to decide on: this node's queued appends folded in, else the read side's."""
        pending = lane.pending()
        if pending and lane.state_valid:
            return lane.state
        if not pending and self._read_side.holds(trip_id):
            return await self._read_side.trip(trip_id, fresh=False)  # from memory: nothing to bound
        if pending:  # earlier appends, durable or about to be, not yet folded: read them from the log
            await self._bounded(asyncio.wait(pending))
            if any(_failed(f) for f in pending):
                raise _DecideAgain  # a lower ticket must go first
            return await self._bounded(self._read_side.catch_up_trip(trip_id))
        return await self._bounded(self._read_side.trip(trip_id, fresh=False))

    def _stream_record(
        self, request: Request, state: Trip | None, events: tuple[DecidedEvent, ...], at: str
    ) -> LogRecord:
        return self.build(
            request,
            ACCEPTED,
            at=at,
            events=tuple(event_to_json(event) for event in events),
            stream=request.trip_id,
            version=(state.version if state else 0) + 1,
            idempotency_key=request.idempotency_key,
        )

    async def _after_conflict(self, trip_id: str, attempt: int) -> None:
        """Lost a race for the trip's next version to another node: wait a random moment
        (so that one node cannot lose every race to nodes that append back to back),
        then read what the winners wrote."""
        await asyncio.sleep(random.uniform(0, min(CONFLICT_BACKOFF * (attempt + 1), CONFLICT_BACKOFF_MAX)))
        await self._bounded(self._read_side.catch_up_trip(trip_id))

    async def _earlier(self, request: Request) -> LogRecord | None:
        """The accepted record of an earlier command with the same idempotency key, if recent."""
        key = request.idempotency_key
        if key is None:
            return None
        found = await self._bounded(self._store.find_by_idempotency_key(key))
        if found is None:
            return None
        age = (self._clock.now() - parse_iso(found.at)).total_seconds()
        return found if age <= IDEMPOTENCY_WINDOW_SECONDS else None

    async def _keys_bounded(self, wait: Awaitable[object]) -> None:
        """A wait on the key store (``RecordSealer.ready``), bounded by the store timeout: when
        the key store does not answer, this command alone is refused; the event log's breaker
        is not told (the log may answer well: the next command goes to it)."""
        try:
            await asyncio.wait_for(wait, self._store_timeout)
        except (TimeoutError, StoreUnavailable):
            raise KeyStoreUnavailable from None

    async def _bounded(self, work: Awaitable[T]) -> T:
        """A store call that may wait (a server being selected, a lock): refused after the
        timeout, and at once while the breaker is open."""
        if self._breaker.open:
            if isinstance(work, Coroutine):
                work.close()  # never started
            self._breaker.check()
        try:
            return await asyncio.wait_for(work, self._store_timeout)
        except TimeoutError:
            unavailable = StoreUnavailable(f"the store did not answer within {self._store_timeout:g} s")
            self._breaker.failed(unavailable)
            raise unavailable from None
        except StoreUnavailable as exc:
            self._breaker.failed(exc)
            raise
