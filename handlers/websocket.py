"""``GET /ws``: the handshake checks (docs/asyncapi.yaml) and the byte pipe.

Everything a frame means lives in ``service.session``; this handler refuses bad
handshakes before the upgrade, then moves bytes with a bounded outbound queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from typing import Any

import orjson
import tornado.httputil
import tornado.web
import tornado.websocket

from config import Limits
from domain.errors import CommandRefused, ErrorCode
from domain.ids import is_object_id
from handlers.base import error_body
from handlers.frame_writer import DeflatingSocket, FrameWriter, SocketOutbox
from handlers.pinger import Pinger
from service import logs
from service.admin import SecurityEvents
from service.admission import Admission
from service.auth import Identity, InvalidToken, TokenVerifier
from service.clock import Clock, iso
from service.container import Lifecycle
from service.hub import Connection
from service.metrics import Metrics
from service.pipeline import Origin
from service.resume import ResumeAsk
from service.session import CLOSE_TOO_SLOW, ClientSession, SessionServices
from service.signin import RealtimeTickets

log = logging.getLogger("travelsense.ws")
SHUTTING_DOWN = CommandRefused(ErrorCode.UNAVAILABLE, "the server is shutting down: nothing was accepted, retry")


class SocketOutlet(SocketOutbox):
    """Writes frames to one socket (see ``handlers.frame_writer``); a reader too slow
    to keep up is closed (4009) instead of growing this process's memory."""

    __slots__ = ()

    def too_slow(self) -> None:
        self.close(CLOSE_TOO_SLOW, "too slow to keep up")

    def close(self, code: int, reason: str) -> None:
        handler = self._handler
        if handler.ws_connection is not None and not handler.ws_connection.is_closing():
            self.flush_now()  # what was sent before the close goes out before it
            assert isinstance(handler, RealtimeSocket)
            handler.server_close_code = code
            handler.close(code, reason)


class RealtimeSocket(DeflatingSocket):  # permessage-deflate: see handlers.frame_writer.Deflate
    def initialize(
        self,
        sessions: SessionServices,
        admission: Admission,
        verifier: TokenVerifier,
        security: SecurityEvents,
        metrics: Metrics,
        clock: Clock,
        limits: Limits,
        lifecycle: Lifecycle,
        background: set[asyncio.Task[None]],
        writer: FrameWriter,
        pinger: Pinger | None = None,
        tickets: RealtimeTickets | None = None,
    ) -> None:
        self.sessions = sessions  # what each connection's ClientSession uses
        self.admission = admission
        self.verifier = verifier
        self.security = security
        self.metrics = metrics
        self.clock = clock
        self.limits = limits
        self.lifecycle = lifecycle
        self.background = background  # tasks a graceful shutdown waits for
        self.tickets = tickets
        self.writer = writer
        self.pinger = pinger
        self.awaiting_pong = False
        self.ping_sent_at = 0.0
        self.identity: Identity | None = None
        self.session: ClientSession | None = None
        self.server_close_code: int | None = None
        self._reading: asyncio.Future[None] | None = None  # done once Tornado may read the next frame
        self._admitted: tuple[str, str] | None = None  # (user, ip) while counted in ``admissions``
        self._opened_at = 0.0

    # handshake -------------------------------------------------------------------

    def _refuse(self, status: int, code: str, message: str, details: dict[str, Any] | None = None) -> None:
        self._audit_refusal(status, code, message)
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(orjson.dumps(error_body(code, message, details)))

    def _audit_refusal(self, status: int, code: str, message: str) -> None:
        """A refused handshake is a security event: counted, and recorded in the log."""
        self.metrics.handshake_refused(status)
        if status == 429:
            self.metrics.rate_limited("connections")
        if self.lifecycle.draining:
            return
        identity = self.identity
        origin = Origin("ws", identity.user_id if identity else None, identity.role if identity else None)
        meta = {
            "ip": self.request.remote_ip or "",
            "userAgent": self.request.headers.get("User-Agent", "")[:256],
            "origin": self.request.headers.get("Origin", "")[:256],
            "status": status,
        }
        task = asyncio.ensure_future(
            self.security.record(origin, "ws_handshake", CommandRefused(ErrorCode(code), message), meta)
        )
        self.background.add(task)
        task.add_done_callback(self.background.discard)

    async def get(self, *args: Any, **kwargs: Any) -> None:
        if self.lifecycle.draining:
            return self._refuse(503, "UNAVAILABLE", "the server is shutting down")
        admission = self.admission
        request = self.request
        if not admission.origin_allowed(request.headers.get("Origin"), request.protocol, request.host):
            return self._refuse(403, "FORBIDDEN", "origin not allowed")
        try:
            ticket = self.get_query_argument("ticket", None)
            if ticket is not None and self.tickets is not None:
                self.identity = await self.tickets.redeem(ticket)  # any node's, once (service.signin)
            else:
                self.identity = self.verifier.verify(self.get_query_argument("token", None))
        except InvalidToken as exc:
            return self._refuse(401, "UNAUTHORIZED", f"token refused: {exc}")
        except CommandRefused as exc:  # whether the ticket was used cannot be known now
            return self._refuse(503, exc.code.value, exc.message)
        user, ip = self.identity.user_id, self.request.remote_ip or ""
        refusal = admission.admit(user, ip)
        if refusal is not None:
            if refusal.retry_after_seconds is not None:
                self.set_header("Retry-After", str(refusal.retry_after_seconds))
            return self._refuse(refusal.status, refusal.code, refusal.message, refusal.details)
        self._admitted = (user, ip)  # counted from here on, until the hub counts it (``open``) or it fails
        try:
            await super().get(*args, **kwargs)
        finally:
            self._settle_admission()

    def _settle_admission(self) -> None:
        if self._admitted is not None:
            self.admission.settled(*self._admitted)
            self._admitted = None

    def check_origin(self, origin: str) -> bool:
        return True  # checked in get(), where the refusal can carry a JSON body

    # connection ---------------------------------------------------------------------

    async def open(self, *args: str, **kwargs: str) -> None:
        identity = self.identity
        assert identity is not None
        limits = self.limits
        conn = Connection(
            session_id=secrets.token_hex(12),
            user_id=identity.user_id,
            name=identity.name,
            role=identity.role,
            hidden=self.get_query_argument("presence", "") == "hidden",
            ip=self.request.remote_ip or "",
            user_agent=self.request.headers.get("User-Agent", "")[:256],
            connected_at=iso(self.clock.now()),
            outlet=SocketOutlet(self, self.writer, limits.outbound_max_frames, limits.outbound_max_bytes),
        )
        self._opened_at = time.monotonic()
        self.metrics.connected()
        self.set_nodelay(True)
        self.session = ClientSession(self.sessions, conn, identity)
        try:
            await self.session.start(self._resume_ask(limits.max_rooms))
        except Exception:
            self._settle_admission()
            log.exception("could not open a session")
            self.close(1011, "could not open the session")
        else:
            self._settle_admission()  # the hub counts it now
            log.info("session opened", extra={"user_id": conn.user_id, "hidden": conn.hidden})
            self.shed_http()  # handlers.frame_writer: the upgrade request is not read again
            if self.pinger is not None:
                self.pinger.add(self)

    def _resume_ask(self, max_rooms: int) -> ResumeAsk | None:
        """``?resume=<token>&lastSeq=<tripId>:<seq>,...`` (docs/asyncapi.yaml): what a reconnecting
        client asks for.  Resuming is best effort: entries that do not parse are ignored."""
        try:
            token = self.get_query_argument("resume", None)
            wanted = self.get_query_argument("lastSeq", "")
        except tornado.web.HTTPError:  # not UTF-8: no resume
            return None
        if not token:
            return None
        last_seqs: dict[str, int] = {}
        for entry in wanted.split(",")[:max_rooms]:
            trip_id, _, seq = entry.partition(":")
            if is_object_id(trip_id) and seq.isascii() and seq.isdigit() and len(seq) <= 18:
                last_seqs[trip_id.lower()] = int(seq)
        return ResumeAsk(token, last_seqs)

    # keep-alive (handlers.pinger) ----------------------------------------------------

    def on_pong(self, data: bytes) -> None:
        self.awaiting_pong = False

    def ping_open(self) -> bool:
        return self.ws_connection is not None and not self.ws_connection.is_closing()

    def send_ping(self) -> None:
        with contextlib.suppress(tornado.websocket.WebSocketClosedError):
            self.ping(b"")

    def reading_paused(self) -> bool:
        return self._reading is not None and not self._reading.done()

    def ping_timed_out(self) -> None:
        self.close(None, "ping timed out")  # what Tornado's own pinging does

    def on_message(self, message: str | bytes) -> asyncio.Future[None] | None:
        session = self.session
        if session is None or self.ws_connection is None or self.ws_connection.is_closing():
            # After our close frame (1001, 4000, 4008, 4009...) nothing more is handled:
            # the client sees those frames were not acknowledged, and resends (same ref).
            return None
        if self.lifecycle.draining:  # nothing new is taken on; the client is told, and resends
            task, passed = session.submit(message, refusal=SHUTTING_DOWN)
        else:
            # Tracked so that a graceful shutdown waits for the append it may be making.
            task, passed = session.submit(message)
        background = self.background
        background.add(task)
        task.add_done_callback(background.discard)
        # Tornado reads the next frame once the future returned here is done: once this
        # frame has its place (a trip command queued for the group commit) or is done;
        # see ``submit``.  A plain future, not a coroutine: no Task per frame for Tornado
        # to wrap it in (if the connection goes, cancelling it touches nothing else).
        self._reading = passed
        return passed

    def on_close(self) -> None:
        session, self.session = self.session, None
        if session is not None:
            code = self.server_close_code or self.close_code
            duration = time.monotonic() - self._opened_at
            self.metrics.disconnected(code, duration)
            logs.bind(session_id=session.conn.session_id)
            log.info("session closed", extra={"close_code": code, "duration_s": round(duration, 3)})
            task = asyncio.ensure_future(session.stop(code, self.close_reason))
            self.background.add(task)
            task.add_done_callback(self.background.discard)
