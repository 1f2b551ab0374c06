"""One client connection's protocol: parse a frame, check it, run it, answer.

The WebSocket handler only moves bytes; everything a frame means is here.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import orjson

from config import Limits
from domain import schemas
from domain.errors import CommandRefused, ErrorCode
from domain.rate_limit import Bucket, BucketRule, take
from domain.raw_document import envelope_of, over_bound
from domain.sanitize import sanitize, usable_name
from domain.trip_model import can_view
from eventlog.ports import StoreError, StoreUnavailable
from eventlog.records import LogRecord
from eventlog.session_port import SessionRecords
from service import logs
from service.announcements import AnnouncementService
from service.auth import Identity, InvalidToken, TokenVerifier
from service.clock import Clock, iso_from_epoch
from service.frames import encode, error_data, stream_broadcast, unchanged_reactions
from service.hub import Connection, Hub
from service.metrics import Metrics
from service.pipeline import Handle, Origin, Pipeline, Request
from service.resume import ResumeAsk, SessionResumer
from service.rooms import RoomService
from service.takeover import SessionTakeover
from service.trips import TripService

log = logging.getLogger("travelsense.session")

CLOSE_GOING_AWAY = 1001
CLOSE_ABNORMAL = 1006
CLOSE_IDLE = 4000
CLOSE_TOKEN_EXPIRED = 4001
CLOSE_ADMIN = 4003
CLOSE_POLICY = 4008
CLOSE_TOO_SLOW = 4009


@dataclass(frozen=True, slots=True)
class SessionServices:
    """What one connection's protocol uses."""

    trips: TripService
    rooms: RoomService
    hub: Hub
    pipeline: Pipeline
    verifier: TokenVerifier
    clock: Clock
    limits: Limits
    announcements: AnnouncementService
    metrics: Metrics = field(default_factory=Metrics)
    node: str = ""  # this process instance, as session records name it
    resumer: SessionResumer | None = None  # None: sessions are never resumed (no token is issued)
    session_records: SessionRecords | None = None  # where users' saved presence choices are read (None: nowhere)
    takeover: SessionTakeover | None = None  # how a resume takes its session over (None: it is not)
    # the connections' rate rules, made once here rather than by each connection
    rule: BucketRule = field(init=False)
    typing_rule: BucketRule = field(init=False)

    def __post_init__(self) -> None:
        limits = self.limits
        object.__setattr__(self, "rule", BucketRule(limits.rate_burst, limits.rate_per_second))
        object.__setattr__(self, "typing_rule", BucketRule(limits.typing_burst, limits.typing_per_second))


# client event -> the ClientSession method that handles it (one table, not a dict per session)
_HANDLERS = {
    "join_trip_room": "_join",
    "leave_trip_room": "_leave",
    "trip_update": "_trip_update",
    "chat_message": "_chat",
    "edit_message": "_edit_message",
    "delete_message": "_delete_message",
    "add_reaction": "_add_reaction",
    "remove_reaction": "_remove_reaction",
    "mark_chat_read": "_mark_chat_read",
    "typing": "_typing",
    "presence_update": "_presence",
    "refresh_token": "_refresh",
    "undo": "_revert",
    "redo": "_revert_redo",
    "presence_visibility": "_visibility",
}

# frames whose handling may overlap with the connection's next ones (see ``ClientSession.submit``):
# their handlers return the pipeline's ``Handle``
_PIPELINED = frozenset(
    {"chat_message", "trip_update", "undo", "redo", "edit_message", "delete_message", "add_reaction", "remove_reaction"}
)
_REACTIONS = frozenset({"add_reaction", "remove_reaction"})
FRAME_ENVELOPE = 3  # a frame's own members (event, data, ref), beside the values of its data


def _release(passed: asyncio.Future[None] | None) -> None:
    """Let the command behind this one go (once)."""
    if passed is not None and not passed.done():
        passed.set_result(None)


async def _after(before: asyncio.Future[None] | None, timeout: float | None = None) -> None:
    """Wait until the connection's previous frame is handled (its outcome does not matter),
    or ``timeout`` seconds at most."""
    if before is not None and not before.done():
        await asyncio.wait((before,), timeout=timeout)


class _Refused(Exception):
    """A refusal before the frame is understood well enough to name its event."""

    def __init__(self, refusal: CommandRefused, event: str | None, ref: str | None) -> None:
        self.refusal, self.event, self.ref = refusal, event, ref


def _loads(raw: str | bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        # orjson stops at 64-bit integers; the standard parser takes any size and
        # the sanitiser refuses what no JSON reader could hold.
        def no_constants(name: str) -> Any:
            raise ValueError(name)

        return json.loads(raw, parse_constant=no_constants)


class ClientSession:
    _handlers: ClassVar[dict[str, str]] = _HANDLERS  # client event -> method name, shared by every session

    def __init__(self, services: SessionServices, conn: Connection, identity: Identity) -> None:
        self._s = services
        self.conn = conn
        self.identity = identity
        now = services.clock.monotonic()
        self._rule = services.rule
        self._typing_rule = services.typing_rule
        self._bucket = Bucket.full(self._rule, now)
        self._typing_bucket = Bucket.full(self._typing_rule, now)
        self._limited_at: deque[float] | None = None  # made on the first refusal: most sessions never have one
        self._limited_logged = False
        self._last_frame = now
        self._idle_timer: asyncio.TimerHandle | None = None
        self._tail: asyncio.Task[None] | None = None  # the newest frame's handling (see ``submit``)
        self._token_timer: asyncio.TimerHandle | None = None  # one at a time: the warning arms the expiry

    @property
    def origin(self) -> Origin:
        return Origin("ws", self.conn.user_id, self.conn.role, self.conn.session_id)

    # lifecycle ----------------------------------------------------------------

    async def start(self, resume: ResumeAsk | None = None) -> None:
        """Open a fresh session, or resume the one ``resume`` names when it may be (``service.resume``)."""
        s = self._s
        if not self.conn.hidden and s.session_records is not None:
            try:  # the user's saved choice; ``presence=hidden`` hides this connection whatever it is
                self.conn.hidden = await s.session_records.hidden(self.conn.user_id)
            except StoreError:
                log.warning("could not read a saved presence choice: the connection is shown")
        resumed = None
        if resume is not None and s.resumer is not None:
            fresh_id = self.conn.session_id
            try:
                resumed = await s.resumer.resumable(self.conn.user_id, resume.token)
                if resumed is not None and s.takeover is not None:
                    self.conn.session_id = resumed.session_id
                    await s.takeover.claim(self.conn)
            except StoreError:
                log.warning("could not look up or claim a session to resume: a fresh one is opened")
                self.conn.session_id, resumed = fresh_id, None
        if resumed is not None and resume is not None:
            self.conn.session_id = resumed.session_id
            await self._resume(resumed.rooms, resume.last_seqs)
            return
        logs.bind(session_id=self.conn.session_id)
        meta = {"ip": self.conn.ip, "userAgent": self.conn.user_agent, "hidden": self.conn.hidden, "node": s.node}
        await s.pipeline.record(
            Request(self.origin, "connect", meta=meta), ({"type": "connected", "data": {"hidden": self.conn.hidden}},)
        )
        # broadcasts sent while this user was away, not read yet: read before `connected` is sent and
        # the hub counts the connection, so that nothing awaits between the two (a drain closes every
        # connection that has had its `connected`; the admission counts each once); a broadcast sent
        # meanwhile reaches it on its next connect
        waiting = await s.announcements.waiting(self.conn.user_id)
        self.conn.send(encode("connected", self._connected(resumed=False)))
        # Only now may deliveries reach it: `connected` is always the first frame.
        s.hub.add(self.conn)
        for announcement in waiting:
            self.conn.send(s.hub.encode("broadcast", announcement))
        self._arm_token_timers()
        self._arm_idle_timer(s.limits.idle_timeout_seconds)

    def _connected(self, *, resumed: bool) -> dict[str, Any]:
        conn, resumer = self.conn, self._s.resumer
        data: dict[str, Any] = {"userId": conn.user_id, "sessionId": conn.session_id, "timestamp": conn.connected_at}
        if resumer is not None:
            data["resumed"] = resumed
            data["resumeToken"] = resumer.token(conn.user_id, conn.session_id)
        return data

    async def _resume(self, rooms: tuple[str, ...], last_seqs: dict[str, int]) -> None:
        """The session comes back: the rooms it may still see are given back (each with what it
        missed), the others are left (``access_revoked``); one ``resume`` record first."""
        logs.bind(session_id=self.conn.session_id)
        s = self._s
        kept: list[str] = []
        revoked: list[str] = []
        for trip_id in rooms:
            trip = await s.trips.state(trip_id)
            (
                kept if trip is not None and can_view(trip, self.identity.user_id, self.identity.is_admin) else revoked
            ).append(trip_id)
        meta = {"ip": self.conn.ip, "userAgent": self.conn.user_agent, "hidden": self.conn.hidden, "node": s.node}
        await s.pipeline.record(
            Request(self.origin, "resume", {"lastSeq": last_seqs}, meta=meta),
            ({"type": "resumed", "data": {"rooms": kept, "revoked": revoked, "hidden": self.conn.hidden}},),
        )
        self.conn.send(encode("connected", {**self._connected(resumed=True), "rooms": kept}))
        s.hub.add(self.conn)
        if self.conn.handed_over is not None:
            return  # a later resume of the session on this node won: this connection is closed
        self._arm_token_timers()
        self._arm_idle_timer(s.limits.idle_timeout_seconds)
        for trip_id in revoked:
            self.conn.send(encode("trip_room_left", {"tripId": trip_id, "reason": "access_revoked"}))
        for trip_id in kept:
            if self.conn.handed_over is not None:
                return  # a later resume took the session over meanwhile: its rooms are its own
            try:
                await s.rooms.reseat(self.conn, self.identity, trip_id, last_seqs.get(trip_id))
            except Exception:
                log.warning("could not give room %s back to session %s", trip_id, self.conn.session_id)
                self.conn.send(encode("trip_room_left", {"tripId": trip_id, "reason": "resume_failed"}))
        if s.takeover is not None:
            await s.takeover.announce(self.conn)

    async def stop(self, code: int | None, reason: str | None) -> None:
        logs.bind(session_id=self.conn.session_id)
        for timer in (self._idle_timer, self._token_timer):
            if timer is not None:
                timer.cancel()
        s = self._s
        try:
            handed_over = self.conn.handed_over
            if handed_over is not None:  # a resume holds the session now: nothing to announce
                # with the rooms it was seated in after the takeover (a reseat under way then)
                await s.rooms.hand_over(
                    self.conn, (*handed_over, *(t for t in self.conn.seats if t not in handed_over))
                )
                for trip_id in list(self.conn.seats):
                    s.hub.exit(self.conn, trip_id)
            else:
                # no close frame (the network went, or pings timed out): a drop, awaiting a resume
                await s.rooms.leave_all(self.conn, dropped=code is None or code == CLOSE_ABNORMAL)
        finally:
            s.hub.remove(self.conn)
            try:
                await s.pipeline.record(
                    Request(self.origin, "disconnect"),
                    ({"type": "disconnected", "data": {"code": code, "reason": reason}},),
                )
            except Exception:
                log.warning("could not record the disconnect of session %s", self.conn.session_id)

    def _arm_idle_timer(self, delay: float) -> None:
        self._idle_timer = asyncio.get_running_loop().call_later(delay, self._check_idle)

    def _check_idle(self) -> None:
        idle_for = self._s.clock.monotonic() - self._last_frame
        timeout = self._s.limits.idle_timeout_seconds
        if idle_for >= timeout:
            self.conn.outlet.close(CLOSE_IDLE, "idle timeout")
        else:
            self._arm_idle_timer(timeout - idle_for)

    def _arm_token_timers(self) -> None:
        if self._token_timer is not None:
            self._token_timer.cancel()
        loop = asyncio.get_running_loop()
        left = self.identity.expires_at - self._s.clock.now().timestamp()
        warn_in = max(0.0, left - self._s.limits.token_warning_seconds)
        # one timer at a time (the warning arms the expiry): a connection holds less for its whole life
        self._token_timer = loop.call_later(warn_in, self._token_expiring)

    def _token_expiring(self) -> None:
        self.conn.send(encode("token_expiring", {"expiresAt": iso_from_epoch(self.identity.expires_at)}))
        left = self.identity.expires_at - self._s.clock.now().timestamp()
        self._token_timer = asyncio.get_running_loop().call_later(max(0.0, left), self._token_expired)

    def _token_expired(self) -> None:
        self.conn.outlet.close(CLOSE_TOKEN_EXPIRED, "token expired")

    # frames -------------------------------------------------------------------

    def submit(
        self, raw: str | bytes, *, refusal: CommandRefused | None = None
    ) -> tuple[asyncio.Task[None], asyncio.Future[None]]:
        """Start handling a frame: its task, and a future set once the connection's
        next frame may start.  A trip command (``chat_message``, ``trip_update``) lets
        it start once the command is queued in its trip's stream (``Pipeline.submit`` returns:
        the pipeline keeps the order, so one connection's commands share commits and
        still take effect in the order sent); any other frame first waits for every
        frame before it to finish, and lets the next start when it has finished."""
        loop = asyncio.get_running_loop()
        passed: asyncio.Future[None] = loop.create_future()
        task = loop.create_task(self.receive(raw, passed, self._tail, refusal))
        self._tail = task
        return task, passed

    async def receive(
        self,
        raw: str | bytes,
        passed: asyncio.Future[None] | None = None,
        before: asyncio.Future[None] | None = None,
        refusal: CommandRefused | None = None,
    ) -> None:
        """Handle a frame; with ``refusal``, refuse it with that whatever it asks (draining).
        ``passed`` is set once the connection's next frame may start (see ``submit``)."""
        s = self._s
        self._last_frame = now = s.clock.monotonic()
        logs.bind(session_id=self.conn.session_id)
        self.conn.last_activity = s.clock.now()
        event: str | None = None
        ref: str | None = None
        payload: Any = None
        try:
            # every frame pays its token first, whatever its answer: a flood of frames refused
            # anyway (unreadable, or while draining) meets the same limit, the same one record
            # per burst and the same 4008 as any other
            try:
                event, data, ref = self._parse(raw)
            except _Refused as unreadable:  # its event and ref as far as they could be read
                event, ref = unreadable.event, unreadable.ref
                self._within_rate(event, now)
                raise unreadable.refusal from None
            self._within_rate(event, now)
            if refusal is not None:
                raise refusal
            name = self._handlers.get(event)
            if name is None:
                raise CommandRefused(ErrorCode.UNKNOWN_EVENT, f"unknown event {event!r}")
            handler: Callable[[dict[str, Any], str | None], Awaitable[Handle | None]] = getattr(self, name)
            if isinstance(data, CommandRefused):  # over the value bound, seen before parsing
                raise data
            payload = sanitize(data, s.limits)
            if event in _PIPELINED:
                handle = await handler(payload, ref)
                assert handle is not None
                _release(passed)
                # durable, and its room (the sender included) got it from the pipeline's reactions
                outcome = await handle.outcome
                record = outcome.record
                if outcome.duplicate:  # a repeat: the original, to the sender alone
                    self._replay_to_sender(record, ref)
                elif record.command == "chat_message" and record.stream is not None:
                    await s.rooms.chat_sent(self.conn, record.stream)  # clears the sender's typing
                elif record.stream is None and record.command in _REACTIONS and outcome.trip is not None:
                    # a reaction that changed nothing (already there, or already gone): the sender alone hears so
                    self.conn.send(s.hub.encode("chat_reactions", unchanged_reactions(outcome.trip, record), ref))
            else:
                await _after(before)
                await handler(payload, ref)
        except CommandRefused as refused:
            await _after(before)  # a refusal leaves after the answers to the frames before it
            await self._refuse(refused, event, ref, payload)
        except StoreUnavailable:
            # nothing was accepted: the next frame may start now, and this one is answered within the
            # store timeout even when a frame before it waits longer for its outcome (an append the
            # store may or may not have written), so that frames do not queue behind each other's waits
            _release(passed)
            await _after(before, s.limits.store_timeout_seconds)
            unavailable = CommandRefused(
                ErrorCode.UNAVAILABLE, "the event log is unavailable: nothing was accepted, retry"
            )
            await self._refuse(unavailable, event, ref, payload)  # recorded if the log takes it again
        except Exception:
            log.exception("event %r failed in session %s", event, self.conn.session_id)
            await _after(before)
            await self._refuse(CommandRefused(ErrorCode.INTERNAL, "internal error"), event, ref, payload)
        finally:
            _release(passed)
        s.metrics.message_in(event)

    def _parse(self, raw: str | bytes) -> tuple[str, dict[str, Any] | CommandRefused, str | None]:
        """The frame's event, data and ref; its data is the refusal ``sanitize`` would give
        when the raw text is over the value bound (and its event and ref can be read)."""
        text = raw.encode() if isinstance(raw, str) else raw
        size = len(text)
        limit = self._s.limits.max_frame_bytes
        if size > limit:
            raise _Refused(
                CommandRefused(
                    ErrorCode.PAYLOAD_TOO_LARGE,
                    f"frame of {size} bytes is over the {limit}-byte limit",
                    {"limit": limit, "size": size},
                ),
                None,
                None,
            )
        over = over_bound(text, self._s.limits, FRAME_ENVELOPE)  # before parsing builds every value
        if over is not None:
            envelope = envelope_of(text)
            # refused as sanitize would, after the same checks (``receive``); an unusable event or ref
            # is left to the parser (raw C0 bytes are not JSON; C1 ones are, and are refused below)
            if envelope is not None and usable_name(envelope[0]) and usable_name(envelope[1] or ""):
                return envelope[0], over, envelope[1]
        try:
            frame = _loads(raw)
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise _Refused(CommandRefused(ErrorCode.BAD_REQUEST, "frame is not JSON"), None, None) from None
        if not isinstance(frame, dict):
            raise _Refused(CommandRefused(ErrorCode.BAD_REQUEST, "frame is not a JSON object"), None, None)
        event = frame.get("event")
        # An ``event`` or ``ref`` with a control character or a lone surrogate (only a JSON escape
        # makes one) is refused, neither echoed nor recorded: ``sanitize`` sees ``data`` only, and
        # one starting with U+001E would be read as a sealed value (``eventlog/sealing.py``).
        # A known event needs no scan: only an unknown one's name is checked before it is echoed.
        event = event if isinstance(event, str) and (event in _HANDLERS or usable_name(event)) else None
        ref = frame.get("ref")
        if "ref" in frame and not (isinstance(ref, str) and 1 <= len(ref) <= 64 and usable_name(ref)):
            message = "ref must be a string of 1 to 64 characters without control characters (but tab and newline)"
            raise _Refused(CommandRefused(ErrorCode.BAD_REQUEST, message), event, None)
        if event is None:
            message = "event must be a string without control characters (but tab and newline)"
            raise _Refused(CommandRefused(ErrorCode.BAD_REQUEST, message), None, ref)
        data = frame.get("data")
        if not isinstance(data, dict):
            raise _Refused(CommandRefused(ErrorCode.BAD_REQUEST, "data must be an object"), event, ref)
        return event, data, ref

    def _within_rate(self, event: str | None, now: float) -> None:
        """Take the frame's token (typing has a bucket of its own), or refuse it."""
        if event == "typing":
            self._typing_bucket, wait_ms = take(self._typing_bucket, self._typing_rule, now)
        else:
            self._bucket, wait_ms = take(self._bucket, self._rule, now)
        if wait_ms is not None:
            self._rate_limited(event, wait_ms, now)
        self._limited_logged = False

    def _rate_limited(self, event: str | None, wait_ms: int, now: float) -> None:
        """Refuse a frame over the connection's rate; a connection refused too often is closed."""
        limits = self._s.limits
        limited = self._limited_at
        if limited is None:
            limited = self._limited_at = deque()
        limited.append(now)
        while limited and limited[0] < now - limits.abuse_window_seconds:
            limited.popleft()
        if len(limited) > limits.abuse_refusals:
            self.conn.outlet.close(CLOSE_POLICY, "rate limits exceeded")
        self._s.metrics.rate_limited("typing" if event == "typing" else "message")
        raise CommandRefused(ErrorCode.RATE_LIMITED, "too many events, slow down", {"retryAfterMs": wait_ms})

    async def _refuse(self, refusal: CommandRefused, event: str | None, ref: str | None, payload: Any) -> None:
        self._s.metrics.error("ws", refusal.code)
        try:
            if self._worth_recording(refusal):
                trip_id = payload.get("tripId") if isinstance(payload, dict) else None
                trip_id = trip_id if isinstance(trip_id, str) and len(trip_id) == 24 else None
                await self._s.pipeline.refuse(Request(self.origin, event or "(none)", payload, ref, trip_id), refusal)
        finally:
            self.conn.send(self._s.hub.encode("error", error_data(refusal, event), ref))  # once it is in the log

    def _worth_recording(self, refusal: CommandRefused) -> bool:
        """One record per burst of rate-limit refusals: a flood must not flood the log."""
        if refusal.code != ErrorCode.RATE_LIMITED:
            return True
        if self._limited_logged:
            return False
        self._limited_logged = True
        return True

    # events -----------------------------------------------------------------------

    def _in_room(self, data: dict[str, Any]) -> str:
        """The room event's trip, once this connection has a seat in it.  A seat's key is a
        valid trip id, so a seated one needs no check; an unseated one is checked first
        (a malformed id is a VALIDATION_ERROR, not NOT_IN_ROOM)."""
        trip_id = data.get("tripId")
        if isinstance(trip_id, str) and trip_id in self.conn.seats:
            return trip_id
        trip_id = schemas.check_trip_id(data)
        self._s.rooms.require_seat(self.conn, trip_id)
        return trip_id

    async def _join(self, data: dict[str, Any], ref: str | None) -> None:
        schemas.check_trip_id(data)
        payload = schemas.check_event("join_trip_room", data)
        await self._s.rooms.join(self.conn, self.origin, self.identity, payload, ref)

    async def _leave(self, data: dict[str, Any], ref: str | None) -> None:
        trip_id = self._in_room(data)
        schemas.check_event("leave_trip_room", data)
        await self._s.rooms.leave(self.conn, self.origin, trip_id, ref)

    async def _trip_update(self, data: dict[str, Any], ref: str | None) -> Handle:
        trip_id = self._in_room(data)
        payload = schemas.check_event("trip_update", data)
        update = schemas.check_update(payload["updateType"], payload["data"])
        return await self._s.trips.update(self.origin, self.identity, trip_id, payload, update, ref)

    async def _revert(self, data: dict[str, Any], ref: str | None, kind: str = "undo") -> Handle:
        trip_id = self._in_room(data)
        payload = schemas.check_event(kind, data)
        return await self._s.trips.revert(self.origin, self.identity, trip_id, kind, payload, ref)

    async def _revert_redo(self, data: dict[str, Any], ref: str | None) -> Handle:
        return await self._revert(data, ref, "redo")

    async def _chat(self, data: dict[str, Any], ref: str | None) -> Handle:
        trip_id = self._in_room(data)
        payload = schemas.check_event("chat_message", data)
        return await self._s.trips.chat(self.origin, self.identity, trip_id, payload, ref)

    async def _edit_message(self, data: dict[str, Any], ref: str | None) -> Handle:
        trip_id = self._in_room(data)
        payload = schemas.check_event("edit_message", data)
        return await self._s.trips.edit_message(self.origin, self.identity, trip_id, payload, ref)

    async def _delete_message(self, data: dict[str, Any], ref: str | None) -> Handle:
        trip_id = self._in_room(data)
        payload = schemas.check_event("delete_message", data)
        return await self._s.trips.delete_message(self.origin, self.identity, trip_id, payload, ref)

    async def _add_reaction(self, data: dict[str, Any], ref: str | None) -> Handle:
        trip_id = self._in_room(data)
        payload = schemas.check_event("add_reaction", data)
        return await self._s.trips.react(self.origin, self.identity, trip_id, payload, ref, add=True)

    async def _remove_reaction(self, data: dict[str, Any], ref: str | None) -> Handle:
        trip_id = self._in_room(data)
        payload = schemas.check_event("remove_reaction", data)
        return await self._s.trips.react(self.origin, self.identity, trip_id, payload, ref, add=False)

    async def _mark_chat_read(self, data: dict[str, Any], ref: str | None) -> None:
        """Answered by the record's reactions: ``chat_read`` to every device of the user (this one with ``ref``)."""
        trip_id = schemas.check_trip_id(data)
        payload = schemas.check_event("mark_chat_read", data)
        await self._s.trips.mark_read(self.origin, self.identity, trip_id, payload["seq"], ref)

    def _replay_to_sender(self, record: LogRecord, ref: str | None) -> None:
        frame = stream_broadcast(record)
        if frame is not None:
            self.conn.send(self._s.hub.encode(*frame, ref))

    async def _typing(self, data: dict[str, Any], ref: str | None) -> None:
        self._in_room(data)
        payload = schemas.check_event("typing", data)
        await self._s.rooms.typing(self.conn, self.origin, payload, ref)

    async def _presence(self, data: dict[str, Any], ref: str | None) -> None:
        self._in_room(data)
        payload = schemas.check_event("presence_update", data)
        await self._s.rooms.presence(self.conn, self.origin, payload, ref)

    async def _visibility(self, data: dict[str, Any], ref: str | None) -> None:
        payload = schemas.check_event("presence_visibility", data)
        await self._s.rooms.set_hidden(self.conn, self.origin, payload["hidden"], ref)

    async def _refresh(self, data: dict[str, Any], ref: str | None) -> None:
        payload = schemas.check_event("refresh_token", data)
        try:
            fresh = self._s.verifier.verify(payload["token"])
        except InvalidToken as exc:
            raise CommandRefused(ErrorCode.INVALID_TOKEN, f"token refused: {exc}") from None
        if fresh.user_id != self.identity.user_id:
            raise CommandRefused(ErrorCode.INVALID_TOKEN, "the new token names another user")
        changed = (fresh.role, fresh.name) != (self.identity.role, self.identity.name)
        await self._s.pipeline.record(
            Request(self.origin, "refresh_token", {"expiresAt": fresh.expires_at}, ref),
            ({"type": "token_refreshed", "data": {"expiresAt": fresh.expires_at}},),
        )
        self.identity = fresh
        self.conn.role, self.conn.name = fresh.role, fresh.name  # records from now on carry the new identity
        self._arm_token_timers()
        self.conn.send(encode("token_refreshed", {"expiresAt": iso_from_epoch(fresh.expires_at)}, ref))
        if changed:
            await self._recheck_rooms()

    async def _recheck_rooms(self) -> None:
        """The identity changed: leave every room it may no longer be in (``access_revoked``).
        The refresh is answered already: a failure here is logged, and the seat stays until
        the next check (a refresh, or the removal's own revocation)."""
        for trip_id in list(self.conn.seats):
            try:
                trip = await self._s.trips.state(trip_id)
                if trip is None or not can_view(trip, self.identity.user_id, self.identity.is_admin):
                    await self._s.rooms.revoke(self.conn, trip_id)
            except Exception:
                log.warning("could not re-check room %s of session %s", trip_id, self.conn.session_id)
