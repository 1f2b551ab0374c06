"""``GET /ws``: the handshake checks (docs/asyncapi.yaml) and the byte pipe.

Everything a frame means lives in ``service.session``; this socket refuses bad
handshakes before the upgrade, then moves bytes with a bounded outbound queue.
The upgrade itself is ``handlers.upgrade``'s (``UpgradingServer``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from dataclasses import dataclass

import tornado.iostream
import tornado.web
import tornado.websocket

from config import Limits
from domain.errors import CommandRefused, ErrorCode
from domain.ids import is_object_id
from handlers.frame_writer import FrameWriter, SocketOutbox
from handlers.pinger import Pinger
from handlers.upgrade import Upgrade, WireSocket
from service import logs
from service.admin import SecurityEvents
from service.admission import Admission, Refusal
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

    __slots__ = ("_socket",)

    def __init__(self, socket: RealtimeSocket, max_frames: int, max_bytes: int) -> None:
        assert socket.ws is not None
        super().__init__(socket.ws, socket.writer, max_frames, max_bytes)
        self._socket = socket

    def too_slow(self) -> None:
        self.close(CLOSE_TOO_SLOW, "too slow to keep up")

    def close(self, code: int, reason: str) -> None:
        socket = self._socket
        if not socket.closing:
            self.flush_now()  # what was sent before the close goes out before it
            socket.server_close_code = code
            socket.close(code, reason)


@dataclass(frozen=True, slots=True)
class SocketEdge:
    """What every ``RealtimeSocket`` of this node uses."""

    sessions: SessionServices  # what each connection's ClientSession uses
    admission: Admission
    verifier: TokenVerifier
    security: SecurityEvents
    metrics: Metrics
    clock: Clock
    limits: Limits
    lifecycle: Lifecycle
    background: set[asyncio.Task[None]]  # tasks a graceful shutdown waits for
    writer: FrameWriter
    pinger: Pinger | None = None
    tickets: RealtimeTickets | None = None


class RealtimeSocket(WireSocket):  # the accept path and permessage-deflate: handlers.upgrade
    def __init__(self, edge: SocketEdge, upgrade: Upgrade, stream: tornado.iostream.IOStream) -> None:
        # Tornado closes a connection whose message is over this, unread (1009); between
        # max_frame_bytes and it, the session answers PAYLOAD_TOO_LARGE and lives on
        super().__init__(upgrade, stream, edge.writer, edge.limits.max_frame_bytes * 4)
        self.edge = edge
        self.awaiting_pong = False
        self.ping_sent_at = 0.0
        self.identity: Identity | None = None
        self.session: ClientSession | None = None
        self.server_close_code: int | None = None
        self._reading: asyncio.Future[None] | None = None  # done once Tornado may read the next frame
        self._admitted: tuple[str, str] | None = None  # (user, ip) while counted in ``admissions``
        self._opened_at = 0.0

    # handshake -------------------------------------------------------------------

    def _audited(self, refusal: Refusal) -> Refusal:
        self._audit_refusal(refusal.status, refusal.code, refusal.message)
        return refusal

    def _audit_refusal(self, status: int, code: str, message: str) -> None:
        """A handshake refused by admission is a security event: recorded in the log
        (counted by ``refused``, as every refusal is)."""
        edge = self.edge
        if status == 429:
            edge.metrics.rate_limited("connections")
        if edge.lifecycle.draining:
            return
        identity = self.identity
        origin = Origin("ws", identity.user_id if identity else None, identity.role if identity else None)
        request = self.request
        meta = {
            "ip": request.remote_ip,
            "userAgent": request.headers.get("User-Agent", "")[:256],
            "origin": request.headers.get("Origin", "")[:256],
            "status": status,
        }
        task = asyncio.ensure_future(
            edge.security.record(origin, "ws_handshake", CommandRefused(ErrorCode(code), message), meta)
        )
        edge.background.add(task)
        task.add_done_callback(edge.background.discard)

    async def admit(self) -> Refusal | None:
        edge = self.edge
        if edge.lifecycle.draining:
            return self._audited(Refusal(503, "UNAVAILABLE", "the server is shutting down"))
        admission = edge.admission
        request = self.request
        if not admission.origin_allowed(request.headers.get("Origin"), request.protocol, request.host):
            return self._audited(Refusal(403, "FORBIDDEN", "origin not allowed"))
        try:
            ticket = request.argument("ticket")
            if ticket is not None and edge.tickets is not None:
                self.identity = await edge.tickets.redeem(ticket)  # any node's, once (service.signin)
            else:
                self.identity = edge.verifier.verify(request.argument("token"))
        except InvalidToken as exc:
            return self._audited(Refusal(401, "UNAUTHORIZED", f"token refused: {exc}"))
        except CommandRefused as exc:  # whether the ticket was used cannot be known now
            return self._audited(Refusal(503, exc.code.value, exc.message))
        user, ip = self.identity.user_id, request.remote_ip
        refusal = admission.admit(user, ip)
        if refusal is not None:
            return self._audited(refusal)
        self._admitted = (user, ip)  # counted from here on, until the hub counts it (``open``) or it fails
        return None

    def on_refused(self, refusal: Refusal) -> None:
        """Every refusal answered, admission's, the WebSocket headers' and the HTTP version's
        alike, counted once; only admission's are security events (``_audit_refusal``)."""
        self.edge.metrics.handshake_refused(refusal.status)

    async def serve(self) -> None:
        try:
            await super().serve()
        finally:
            self._settle_admission()

    def _settle_admission(self) -> None:
        if self._admitted is not None:
            self.edge.admission.settled(*self._admitted)
            self._admitted = None

    # connection ---------------------------------------------------------------------

    async def open(self) -> None:
        identity = self.identity
        assert identity is not None
        edge = self.edge
        limits = edge.limits
        request = self.request
        conn = Connection(
            session_id=secrets.token_hex(12),
            user_id=identity.user_id,
            name=identity.name,
            role=identity.role,
            hidden=request.argument("presence", "") == "hidden",
            ip=request.remote_ip,
            user_agent=request.headers.get("User-Agent", "")[:256],
            connected_at=iso(edge.clock.now()),
            outlet=SocketOutlet(self, limits.outbound_max_frames, limits.outbound_max_bytes),
        )
        self._opened_at = time.monotonic()
        edge.metrics.connected()
        self.session = ClientSession(edge.sessions, conn, identity)
        try:
            await self.session.start(self._resume_ask(limits.max_rooms))
        except Exception:
            self._settle_admission()
            log.exception("could not open a session")
            self.close(1011, "could not open the session")
        else:
            self._settle_admission()  # the hub counts it now
            log.info("session opened", extra={"user_id": conn.user_id, "hidden": conn.hidden})
            if edge.pinger is not None:
                edge.pinger.add(self)

    def _resume_ask(self, max_rooms: int) -> ResumeAsk | None:
        """``?resume=<token>&lastSeq=<tripId>:<seq>,...`` (docs/asyncapi.yaml): what a reconnecting
        client asks for.  Resuming is best effort: entries that do not parse are ignored."""
        token = self.request.argument("resume")
        wanted = self.request.argument("lastSeq", "") or ""
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
        return not self.closing

    def send_ping(self) -> None:
        with contextlib.suppress(tornado.websocket.WebSocketClosedError):
            self.ping(b"")

    def reading_paused(self) -> bool:
        return self._reading is not None and not self._reading.done()

    def ping_timed_out(self) -> None:
        self.close(None, "ping timed out")  # what Tornado's own pinging does

    def on_message(self, message: str | bytes) -> asyncio.Future[None] | None:
        session = self.session
        if session is None or self.closing:
            # After our close frame (1001, 4000, 4008, 4009...) nothing more is handled:
            # the client sees those frames were not acknowledged, and resends (same ref).
            return None
        edge = self.edge
        if edge.lifecycle.draining:  # nothing new is taken on; the client is told, and resends
            task, passed = session.submit(message, refusal=SHUTTING_DOWN)
        else:
            # Tracked so that a graceful shutdown waits for the append it may be making.
            task, passed = session.submit(message)
        background = edge.background
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
            edge = self.edge
            edge.metrics.disconnected(code, duration)
            logs.bind(session_id=session.conn.session_id)
            log.info("session closed", extra={"close_code": code, "duration_s": round(duration, 3)})
            task = asyncio.ensure_future(session.stop(code, self.close_reason))
            edge.background.add(task)
            task.add_done_callback(edge.background.discard)
