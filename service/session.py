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
from domain.sanitize import sanitize
from eventlog.ports import StoreUnavailable
from eventlog.records import LogRecord
from service import logs
from service.auth import Identity, InvalidToken, TokenVerifier
from service.clock import Clock, iso_from_epoch
from service.frames import encode, error_frame, stream_broadcast
from service.hub import Connection, Hub
from service.metrics import Metrics
from service.recorder import Origin, Recorder
from service.rooms import RoomService
from service.runner import ordering_point
from service.trips import TripService

log = logging.getLogger("travelsense.session")

CLOSE_GOING_AWAY = 1001
CLOSE_IDLE = 4000
CLOSE_TOKEN_EXPIRED = 4001
CLOSE_ADMIN = 4003
CLOSE_POLICY = 4008
CLOSE_TOO_SLOW = 4009


class ConnectAttempts:
    """Per-user token buckets for WebSocket handshakes on this node (429 when empty).

    A bucket that has had time to refill completely holds no information, so it is
    dropped once more than ``max_tracked`` users are remembered.
    """

    def __init__(self, max_tracked: int = 10_000) -> None:
        self._buckets: dict[str, Bucket] = {}
        self._max_tracked = max_tracked
        self._prune_at = max_tracked

    def take(self, user_id: str, rule: BucketRule, now: float) -> int | None:
        """Spend one attempt; None when allowed, else the ms until the next one is."""
        bucket = self._buckets.get(user_id) or Bucket.full(rule, now)
        self._buckets[user_id], wait_ms = take(bucket, rule, now)
        if len(self._buckets) > self._prune_at and rule.refill_per_second > 0:
            refill = rule.burst / rule.refill_per_second
            self._buckets = {user: b for user, b in self._buckets.items() if now - b.updated < refill}
            self._prune_at = max(self._max_tracked, 2 * len(self._buckets))  # amortised O(1) per attempt
        return wait_ms


class Admissions:
    """Handshakes let in but not yet in the hub (their ``connect`` record is being
    written).  The connection caps count them too, so that a burst of simultaneous
    handshakes cannot pass a cap together."""

    def __init__(self) -> None:
        self.total = 0
        self._users: dict[str, int] = {}
        self._ips: dict[str, int] = {}

    def for_user(self, user_id: str) -> int:
        return self._users.get(user_id, 0)

    def for_ip(self, ip: str) -> int:
        return self._ips.get(ip, 0)

    def admit(self, user_id: str, ip: str) -> None:
        self.total += 1
        self._users[user_id] = self._users.get(user_id, 0) + 1
        self._ips[ip] = self._ips.get(ip, 0) + 1

    def settled(self, user_id: str, ip: str) -> None:
        """The handshake is in the hub now, or failed."""
        self.total -= 1
        for counts, key in ((self._users, user_id), (self._ips, ip)):
            left = counts.get(key, 0) - 1
            if left > 0:
                counts[key] = left
            else:
                counts.pop(key, None)


@dataclass(frozen=True, slots=True)
class SessionServices:
    trips: TripService
    rooms: RoomService
    hub: Hub
    recorder: Recorder
    verifier: TokenVerifier
    clock: Clock
    limits: Limits
    metrics: Metrics = field(default_factory=Metrics)
    attempts: ConnectAttempts = field(default_factory=ConnectAttempts)
    admissions: Admissions = field(default_factory=Admissions)


# client event -> the ClientSession method that handles it (one table, not a dict per session)
_HANDLERS = {
    "join_trip_room": "_join",
    "leave_trip_room": "_leave",
    "trip_update": "_trip_update",
    "chat_message": "_chat",
    "typing": "_typing",
    "presence_update": "_presence",
    "refresh_token": "_refresh",
}

# frames whose handling may overlap with the connection's next ones (see ``ClientSession.submit``)
_PIPELINED = frozenset({"chat_message", "trip_update"})


async def _after(before: asyncio.Future[None] | None) -> None:
    """Wait until the connection's previous frame is handled (its outcome does not matter)."""
    if before is not None and not before.done():
        await asyncio.wait((before,))


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


def _is_text(value: str) -> bool:
    """Whether ``value`` is Unicode text: a JSON escape can smuggle in a lone surrogate,
    which no reply and no log record could carry."""
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return True


class ClientSession:
    _handlers: ClassVar[dict[str, str]] = _HANDLERS  # client event -> method name, shared by every session

    def __init__(self, services: SessionServices, conn: Connection, identity: Identity) -> None:
        self._s = services
        self.conn = conn
        self.identity = identity
        limits = services.limits
        now = services.clock.monotonic()
        self._rule = BucketRule(limits.rate_burst, limits.rate_per_second)
        self._typing_rule = BucketRule(limits.typing_burst, limits.typing_per_second)
        self._bucket = Bucket.full(self._rule, now)
        self._typing_bucket = Bucket.full(self._typing_rule, now)
        self._limited_at: deque[float] | None = None  # made on the first refusal: most sessions never have one
        self._limited_logged = False
        self._last_frame = now
        self._timers: list[asyncio.TimerHandle] = []
        self._tail: asyncio.Task[None] | None = None  # the newest frame's handling (see ``submit``)
        self._token_timers: list[asyncio.TimerHandle] = []

    @property
    def origin(self) -> Origin:
        return Origin("ws", self.conn.user_id, self.conn.role, self.conn.session_id)

    # lifecycle ----------------------------------------------------------------

    async def start(self) -> None:
        logs.bind(session_id=self.conn.session_id)
        s = self._s
        await s.recorder.accepted(
            self.origin,
            "connect",
            meta={"ip": self.conn.ip, "userAgent": self.conn.user_agent, "hidden": self.conn.hidden},
            events=({"type": "connected", "data": {"hidden": self.conn.hidden}},),
        )
        self.conn.send(
            encode(
                "connected",
                {
                    "userId": self.conn.user_id,
                    "sessionId": self.conn.session_id,
                    "timestamp": self.conn.connected_at,
                },
            )
        )
        # Only now may deliveries reach it: `connected` is always the first frame.
        s.hub.add(self.conn)
        self._arm_token_timers()
        self._arm_idle_timer(s.limits.idle_timeout_seconds)

    async def stop(self, code: int | None, reason: str | None) -> None:
        logs.bind(session_id=self.conn.session_id)
        for timer in (*self._timers, *self._token_timers):
            timer.cancel()
        s = self._s
        try:
            await s.rooms.leave_all(self.conn)
        finally:
            s.hub.remove(self.conn)
            try:
                await s.recorder.accepted(
                    self.origin,
                    "disconnect",
                    events=({"type": "disconnected", "data": {"code": code, "reason": reason}},),
                )
            except Exception:
                log.warning("could not record the disconnect of session %s", self.conn.session_id)

    def _arm_idle_timer(self, delay: float) -> None:
        self._timers = [asyncio.get_running_loop().call_later(delay, self._check_idle)]

    def _check_idle(self) -> None:
        idle_for = self._s.clock.monotonic() - self._last_frame
        timeout = self._s.limits.idle_timeout_seconds
        if idle_for >= timeout:
            self.conn.outlet.close(CLOSE_IDLE, "idle timeout")
        else:
            self._arm_idle_timer(timeout - idle_for)

    def _arm_token_timers(self) -> None:
        for timer in self._token_timers:
            timer.cancel()
        loop = asyncio.get_running_loop()
        left = self.identity.expires_at - self._s.clock.now().timestamp()
        warn_in = max(0.0, left - self._s.limits.token_warning_seconds)
        # one timer at a time (the warning arms the expiry): a connection holds less for its whole life
        self._token_timers = [loop.call_later(warn_in, self._token_expiring)]

    def _token_expiring(self) -> None:
        self.conn.send(encode("token_expiring", {"expiresAt": iso_from_epoch(self.identity.expires_at)}))
        left = self.identity.expires_at - self._s.clock.now().timestamp()
        self._token_timers = [asyncio.get_running_loop().call_later(max(0.0, left), self._token_expired)]

    def _token_expired(self) -> None:
        self.conn.outlet.close(CLOSE_TOKEN_EXPIRED, "token expired")

    # frames -------------------------------------------------------------------

    def submit(self, raw: str | bytes) -> tuple[asyncio.Task[None], asyncio.Future[None]]:
        """Start handling a frame: its task, and a future set once the connection's
        next frame may start.  A trip command (``chat_message``, ``trip_update``)
        lets it start once the command has its place in its trip's stream (queued
        for the next group commit), so one connection's commands share commits and
        still take effect in the order sent; any other frame first waits for every
        frame before it to finish, and lets the next start when it has finished."""
        loop = asyncio.get_running_loop()
        passed: asyncio.Future[None] = loop.create_future()
        task = loop.create_task(self.receive(raw, passed, self._tail))
        self._tail = task
        return task, passed

    async def receive(
        self, raw: str | bytes, passed: asyncio.Future[None] | None = None, before: asyncio.Future[None] | None = None
    ) -> None:
        def pass_on() -> None:
            if passed is not None and not passed.done():
                passed.set_result(None)

        try:
            await self._receive(raw, pass_on, before)
        finally:
            pass_on()

    async def _receive(
        self, raw: str | bytes, pass_on: Callable[[], None], before: asyncio.Future[None] | None
    ) -> None:
        s = self._s
        self._last_frame = s.clock.monotonic()
        logs.bind(session_id=self.conn.session_id)
        self.conn.last_activity = s.clock.now()
        event: str | None = None
        ref: str | None = None
        payload: Any = None
        try:
            try:
                event, data, ref = self._parse(raw)
                self._rate_limit(event)
                name = self._handlers.get(event)
                if name is None:
                    raise CommandRefused(ErrorCode.UNKNOWN_EVENT, f"unknown event {event!r}")
                handler: Callable[[dict[str, Any], str | None], Awaitable[None]] = getattr(self, name)
                payload = sanitize(data, s.limits)
                if event in _PIPELINED:
                    ordering_point.set(pass_on)
                else:
                    await _after(before)
                await handler(payload, ref)
            except _Refused as early:
                event, ref = early.event, early.ref
                raise early.refusal from None
        except CommandRefused as refusal:
            await _after(before)  # answers leave in the order the frames came
            await self._refuse(refusal, event, ref, payload)
        except StoreUnavailable:
            await _after(before)
            s.metrics.error("ws", ErrorCode.UNAVAILABLE)
            self.conn.send(
                error_frame(
                    CommandRefused(ErrorCode.UNAVAILABLE, "the event log is unavailable: nothing was accepted, retry"),
                    event,
                    ref,
                )
            )
        except Exception:
            log.exception("event %r failed in session %s", event, self.conn.session_id)
            await _after(before)
            s.metrics.error("ws", ErrorCode.INTERNAL)
            self.conn.send(error_frame(CommandRefused(ErrorCode.INTERNAL, "internal error"), event, ref))
        s.metrics.message_in(event)

    def _parse(self, raw: str | bytes) -> tuple[str, dict[str, Any], str | None]:
        size = len(raw.encode() if isinstance(raw, str) else raw)
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
        try:
            frame = _loads(raw)
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise _Refused(CommandRefused(ErrorCode.BAD_REQUEST, "frame is not JSON"), None, None) from None
        if not isinstance(frame, dict):
            raise _Refused(CommandRefused(ErrorCode.BAD_REQUEST, "frame is not a JSON object"), None, None)
        event = frame.get("event")
        event = event if isinstance(event, str) and _is_text(event) else None
        ref = frame.get("ref")
        if "ref" in frame and not (isinstance(ref, str) and 1 <= len(ref) <= 64 and _is_text(ref)):
            raise _Refused(
                CommandRefused(ErrorCode.BAD_REQUEST, "ref must be a string of 1 to 64 characters"), event, None
            )
        if event is None:
            raise _Refused(CommandRefused(ErrorCode.BAD_REQUEST, "event must be a string"), None, ref)
        data = frame.get("data")
        if not isinstance(data, dict):
            raise _Refused(CommandRefused(ErrorCode.BAD_REQUEST, "data must be an object"), event, ref)
        return event, data, ref

    def _rate_limit(self, event: str) -> None:
        now = self._s.clock.monotonic()
        if event == "typing":
            self._typing_bucket, wait_ms = take(self._typing_bucket, self._typing_rule, now)
        else:
            self._bucket, wait_ms = take(self._bucket, self._rule, now)
        if wait_ms is None:
            self._limited_logged = False
            return
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
            await self._record_refusal(refusal, event, ref, payload)
        finally:
            self.conn.send(error_frame(refusal, event, ref))  # answered once it is in the log

    async def _record_refusal(self, refusal: CommandRefused, event: str | None, ref: str | None, payload: Any) -> None:
        if refusal.recorded:
            return
        if refusal.code == ErrorCode.RATE_LIMITED:
            # one record per burst of refusals: a flood must not flood the log
            if self._limited_logged:
                return
            self._limited_logged = True
        if refusal.code in (ErrorCode.PAYLOAD_TOO_LARGE, ErrorCode.BAD_REQUEST) or event == "refresh_token":
            payload = None  # oversized, unreadable, or a credential: never logged
        trip_id = payload.get("tripId") if isinstance(payload, dict) else None
        try:
            await self._s.recorder.refused(
                self.origin,
                event or "(none)",
                refusal,
                payload=payload,
                ref=ref,
                trip_id=trip_id if isinstance(trip_id, str) and len(trip_id) == 24 else None,
            )
        except Exception:
            log.warning("could not record a refused %r in session %s", event, self.conn.session_id)

    # events -----------------------------------------------------------------------

    def _in_room(self, data: dict[str, Any]) -> str:
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

    async def _trip_update(self, data: dict[str, Any], ref: str | None) -> None:
        trip_id = self._in_room(data)
        payload = schemas.check_event("trip_update", data)
        update = schemas.check_update(payload["updateType"], payload["data"])
        outcome = await self._s.trips.update(self.origin, self.identity, trip_id, payload, update, ref)
        if outcome.duplicate:
            self._replay_to_sender(outcome.record, ref)

    async def _chat(self, data: dict[str, Any], ref: str | None) -> None:
        trip_id = self._in_room(data)
        payload = schemas.check_event("chat_message", data)
        outcome = await self._s.trips.chat(self.origin, self.identity, trip_id, payload, ref)
        if outcome.duplicate:
            self._replay_to_sender(outcome.record, ref)
        else:
            await self._s.rooms.chat_sent(self.conn, trip_id)

    def _replay_to_sender(self, record: LogRecord, ref: str | None) -> None:
        frame = stream_broadcast(record)
        if frame is not None:
            self.conn.send(encode(*frame, ref))

    async def _typing(self, data: dict[str, Any], ref: str | None) -> None:
        self._in_room(data)
        payload = schemas.check_event("typing", data)
        await self._s.rooms.typing(self.conn, self.origin, payload, ref)

    async def _presence(self, data: dict[str, Any], ref: str | None) -> None:
        self._in_room(data)
        payload = schemas.check_event("presence_update", data)
        await self._s.rooms.presence(self.conn, self.origin, payload, ref)

    async def _refresh(self, data: dict[str, Any], ref: str | None) -> None:
        payload = schemas.check_event("refresh_token", data)
        try:
            fresh = self._s.verifier.verify(payload["token"])
        except InvalidToken as exc:
            raise CommandRefused(ErrorCode.INVALID_TOKEN, f"token refused: {exc}") from None
        if fresh.user_id != self.identity.user_id:
            raise CommandRefused(ErrorCode.INVALID_TOKEN, "the new token names another user")
        await self._s.recorder.accepted(
            self.origin,
            "refresh_token",
            payload={"expiresAt": fresh.expires_at},
            ref=ref,
            events=({"type": "token_refreshed", "data": {"expiresAt": fresh.expires_at}},),
        )
        self.identity = fresh
        self._arm_token_timers()
        self.conn.send(encode("token_refreshed", {"expiresAt": iso_from_epoch(fresh.expires_at)}, ref))
