"""TravelSense Realtime: the composition root and the command line.

``python app.py [flags]`` serves; ``python app.py COMMAND`` runs an analyst or
operator command (``migrate``, ``replay``, ...).  Settings are read here, once,
and passed down; nothing does I/O at import time.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import gc
import hashlib
import hmac
import logging
import os
import secrets
import signal
import ssl
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import orjson
import tornado.httpserver
import tornado.netutil
import tornado.web
import uvloop

from config import Limits, Settings, SettingsError, load_settings, refusals, warnings
from domain.rate_limit import BucketRule
from domain.room import RosterNews
from domain.trip_limits import TripLimits
from eventlog.factory import (
    open_bus,
    open_claims,
    open_key_store,
    open_people_seen,
    open_presence,
    open_read_models,
    open_session_records,
    open_spent_tickets,
    open_store,
)
from eventlog.key_cache import CachedKeyStore
from eventlog.ports import EventStore, StoreError
from eventlog.sealing import Opener
from handlers.admin import BroadcastHandler, ConnectionsHandler, DisconnectHandler, NotifyHandler
from handlers.audit import AuditEventsHandler
from handlers.bounded import RestEdge
from handlers.chat import ChatReadHandler, MessageHandler, ReactionHandler
from handlers.docs import DocsPageHandler, DocumentHandler, load_document
from handlers.erasure import ErasureHandler
from handlers.frame_writer import Deflate, FrameWriter
from handlers.health import HealthHandler, LiveHandler, ReadyHandler
from handlers.history import TripHistoryHandler, TripRestoreHandler
from handlers.inbox import Inbox, InboxHandler, InboxReadHandler
from handlers.metrics import MetricsHandler
from handlers.page import IndexHandler
from handlers.pinger import Pinger
from handlers.read_model import ReadModelHandler
from handlers.sessions import SessionsHandler
from handlers.signin import DevSignInHandler, PeopleHandler, RealtimeTicketsHandler
from handlers.trips import (
    CollaboratorHandler,
    CollaboratorsHandler,
    InviteAcceptHandler,
    MessagesHandler,
    TripEventsHandler,
    TripHandler,
    TripInvitesHandler,
    TripsHandler,
)
from handlers.upgrade import Endpoint, LaterUpgradeHandler, UpgradingServer
from handlers.viewing import ViewingHandler
from handlers.websocket import RealtimeSocket, SocketEdge
from projections.read_models import ReadModelWriter
from projections.read_side import ReadSide, TripCache
from projections.sessions import SessionFolder
from service import logs
from service.adapter_metrics import AdapterStats
from service.admin import AdminService, SecurityEvents
from service.admission import Admission
from service.announcements import AnnouncementService
from service.auth import Identity, TokenRules, TokenVerifier, issue_token
from service.breaker import StoreBreaker
from service.broadcaster import Broadcaster
from service.clock import SystemClock
from service.container import Services
from service.directory import ConnectionDirectory, LocalDirectory, connection_view
from service.erasure import ClosingKeys, Erasure, MessageShredder
from service.file_limits import raise_file_limit
from service.hub import Hub, SeatRevoked, VisibilityChanged
from service.ids import ObjectIdFactory
from service.invites import TripInvites
from service.metrics import MeteredStore, Metrics, build_labels
from service.notifications import NotificationService
from service.operations import start_operations
from service.pipeline import Origin, Pipeline
from service.presence import LocalRosters, RoomRosters
from service.privacy import RecordSealer, SealedConnectionViews
from service.reactions import RecordReactions
from service.rest_limits import RestLimiter
from service.resume import SessionResumer
from service.retention import SessionRetention
from service.rooms import RoomService
from service.session import CLOSE_GOING_AWAY, SessionServices
from service.sessions import LocalLiveness, SessionService
from service.signin import PeopleDirectory, Person, RealtimeTickets, dev_secret, dev_secret_path
from service.takeover import SessionTakeover
from service.trip_history import TripHistory
from service.trips import TripService

ROOT = Path(__file__).resolve().parent
OBJECT_ID = r"([^/]+)"
log = logging.getLogger("travelsense")

DEMO_OWNER = "650000000000000000000001"
DEMO_FRIEND = "650000000000000000000002"
DEMO_ADMIN = "650000000000000000000099"
DEMO_TRIP = "650000000000000000000100"
DEMO_PEOPLE = (
    Person(DEMO_OWNER, "Ada"),
    Person(DEMO_FRIEND, "Grace"),
    Person("650000000000000000000003", "Katherine"),
    Person("650000000000000000000004", "Linus"),
    Person(DEMO_ADMIN, "Admin", "admin"),
)


def token_rules(settings: Settings) -> TokenRules:
    return TokenRules(
        algorithms=settings.jwt_algorithms,
        secret=settings.jwt_secret,
        public_key=settings.jwt_public_key,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
    )


async def build(
    settings: Settings, event_store: EventStore | None = None, key_store: CachedKeyStore | None = None
) -> Services:
    """Open the adapters and wire every service from one settings object (``event_store``
    and ``key_store``: adapters already made, the service-layer tests' in-memory ones;
    else the ones ``settings.store_url`` names).

    Who tells whom is decided here, once: the hub posts revoked seats and roster news
    arrive on queues that the room service follows; the pipeline hands committed
    records to their reactions; the hub sets ``changed`` for the connection directory.
    """
    limits = settings.limits
    metrics = Metrics(build_labels(revision=settings.build_revision))
    if event_store is None:
        event_store = open_store(
            settings.store_url,
            migrate=settings.migrate,
            commit_steady=limits.commit_steady_seconds,
            timeout=limits.store_timeout_seconds,
        )
    store = MeteredStore(event_store, metrics)
    await store.open()
    bus = open_bus(settings.redis_url, settings.node_id, settings.redis_prefix)
    clock = SystemClock()
    new_id = ObjectIdFactory()
    # personal data sealed under per-person keys kept apart from the log (service/privacy.py)
    keys = (
        None
        if settings.plain_personal_data
        else key_store or open_key_store(settings.store_url, timeout=limits.store_timeout_seconds)
    )
    opener = Opener(keys) if keys is not None else None
    sink = open_read_models(settings.store_url, opener)  # MongoDB: trips, chat and notifications as collections too
    writer = ReadModelWriter(sink) if sink is not None else None
    cache = TripCache(limits.cache_budget_mib << 20, limits.snapshot_every or None)
    session_records = open_session_records(settings.store_url)
    await session_records.open()
    session_folder = SessionFolder(session_records)
    read_side = ReadSide(
        store,
        writer=writer,
        cache=cache,
        sessions=session_folder,
        notification_budget=limits.notification_cache_mib << 20,
    )
    revocations: asyncio.Queue[SeatRevoked] = asyncio.Queue()
    visibility: asyncio.Queue[VisibilityChanged] = asyncio.Queue()
    roster_news: asyncio.Queue[RosterNews] = asyncio.Queue()
    connections_changed = asyncio.Event()
    origin = f"{bus.node_id}.{secrets.token_hex(4)}"  # this process on the bus
    hub = Hub(
        store,
        metrics,
        node_id=origin,
        revocations=revocations,
        changed=connections_changed,
        visibility=visibility,
        opener=opener,
        summary_from=limits.presence_summary_from,
        summary_seconds=limits.presence_summary_seconds,
        summary_listed=limits.member_list_max,
    )
    metrics.track_connections(hub.count)
    # with Redis, rosters and the connection directory are shared by every node; else kept in memory
    presence = open_presence(
        settings.redis_url, bus.node_id, settings.redis_prefix, roster_news, dead_grace=limits.presence_grace_seconds
    )
    rosters: RoomRosters = presence.rosters if presence is not None else LocalRosters()
    sealer = RecordSealer(keys) if keys is not None else None
    broadcaster = Broadcaster(bus, hub.deliver, origin, sealer.seal_live if sealer is not None else None)
    shredder = MessageShredder(keys, store, sink) if keys is not None else None  # a deleted message's keys
    # who can be invited by name: every node's on Redis, their names sealed under their keys
    people = PeopleDirectory(
        open_people_seen(presence, capacity=limits.people_kept),
        clock,
        DEMO_PEOPLE if settings.dev else (),
        seal_name=sealer.seal_name_ahead if sealer is not None else None,
        opener=opener,
    )
    pipeline = Pipeline(
        store,
        read_side,
        RecordReactions(broadcaster, shredder, people),
        clock,
        new_id,
        store_timeout=limits.store_timeout_seconds,
        trip_limits=trip_limits(limits),
        sealer=sealer,
        breaker=StoreBreaker(metrics),
    )
    verifier = TokenVerifier(token_rules(settings))
    trips = TripService(pipeline, read_side, store, rosters, new_id, opener)
    rooms = RoomService(
        trips=trips,
        hub=hub,
        rosters=rosters,
        broadcaster=broadcaster,
        pipeline=pipeline,
        store=store,
        clock=clock,
        limits=limits,
        seal_name=sealer.seal_name if sealer is not None else None,
    )
    notifications = NotificationService(read_side, pipeline, new_id)
    node = presence.instance if presence is not None else origin  # as session records name this process
    liveness = presence if presence is not None else LocalLiveness(node)
    shared_secret = resume_secret(settings)  # every node's, so a token or ticket is good on any of them
    resumer = None
    if limits.resume_window_seconds > 0:
        resumer = SessionResumer(
            session_records, liveness, clock, secret=shared_secret, window=limits.resume_window_seconds
        )
    announcements = AnnouncementService(read_side, pipeline, clock, store_timeout=limits.store_timeout_seconds)
    # one order of a session's holders for every node, kept as long as a resume may come
    claims = open_claims(presence, ttl=limits.resume_window_seconds + 60)
    takeover = SessionTakeover(claims, broadcaster, hub)
    session = SessionServices(
        trips,
        rooms,
        hub,
        pipeline,
        verifier,
        clock,
        limits,
        announcements,
        metrics,
        node,
        resumer,
        session_records,
        takeover,
    )
    directory: ConnectionDirectory = LocalDirectory(hub, bus.node_id)
    if presence is not None:
        # Redis keeps every node's connections: their addresses and user agents sealed
        sealed_views = SealedConnectionViews(keys) if keys is not None else list
        directory = presence.directory(
            lambda: sealed_views([connection_view(conn, bus.node_id) for conn in hub.connections()]),
            connections_changed,
        )
    admin = AdminService(
        directory=directory,
        broadcaster=broadcaster,
        pipeline=pipeline,
        notifications=notifications,
        store=store,
        new_id=new_id,
        metrics=metrics,
    )
    security = SecurityEvents(pipeline, clock, metrics)
    await bus.start(hub.deliver_from_bus)
    if presence is not None:
        await presence.start()
        metrics.registry.register(AdapterStats(presence.metrics, "Redis presence"))
    metrics.registry.register(AdapterStats(bus.metrics, "the bus"))
    services = Services(
        settings=settings,
        store=store,
        bus=bus,
        read_side=read_side,
        pipeline=pipeline,
        verifier=verifier,
        clock=clock,
        new_id=new_id,
        hub=hub,
        rosters=rosters,
        broadcaster=broadcaster,
        trips=trips,
        rooms=rooms,
        notifications=notifications,
        announcements=announcements,
        session=session,
        metrics=metrics,
        directory=directory,
        admin=admin,
        security=security,
        admission=Admission(hub, limits, clock, settings.allowed_origins),
        history=TripHistory(pipeline, trips, store),
        sessions=SessionService(session_records, pipeline, liveness),
        opener=opener,
        erasure=Erasure(keys, pipeline, store, read_side, sink) if keys is not None else None,
        shredder=shredder,
        tickets=RealtimeTickets(
            shared_secret,
            open_spent_tickets(presence),
            clock,
            seal_name=sealer.seal_name if sealer is not None else None,
            opener=opener,
        ),
        people=people,
        invites=TripInvites(shared_secret, clock, trips, pipeline, seconds=limits.invite_hours * 3600),
    )
    services.followers.append(asyncio.ensure_future(rooms.follow(revocations, roster_news, visibility)))
    retention = SessionRetention(
        session_records,
        services.sessions,
        clock,
        metrics.registry,
        holder=node,
        interval=limits.session_retention_seconds,
        pii_days=limits.session_pii_days,
        keep_days=limits.session_keep_days,
    )
    services.followers.append(asyncio.ensure_future(retention.follow()))
    if presence is not None:
        services.closing.append(presence)
    if writer is not None:
        services.closing.append(writer)
    services.closing.append(session_folder)
    if keys is not None:
        services.closing.append(ClosingKeys(keys))
    return services


def resume_secret(settings: Settings) -> bytes:
    """What signs resume tokens, WebSocket tickets and invite links: ``RESUME_SECRET``, else one
    derived from the JWT secret (every node has it), else this process's own (they then work on
    this node only, until it restarts: ``config.warnings`` says so at start, and
    ``config.refusals`` refuses it with Redis, where there are several nodes)."""
    if settings.resume_secret:
        return settings.resume_secret.encode()
    if settings.jwt_secret:
        return hmac.new(settings.jwt_secret.encode(), b"travelsense session resume", hashlib.sha256).digest()
    return secrets.token_bytes(32)


def log_request(handler: tornado.web.RequestHandler) -> None:
    """Access log without query strings: a WebSocket URL carries a token."""
    status = handler.get_status()
    level = logging.INFO if status < 400 else logging.WARNING if status < 500 else logging.ERROR
    request = handler.request
    logging.getLogger("travelsense.access").log(
        level, "%d %s %s %.1fms", status, request.method, request.path, 1000.0 * request.request_time()
    )


def trip_limits(limits: Limits) -> TripLimits:
    return TripLimits(
        limits.max_trip_days, limits.max_trip_activities_per_day, limits.max_trip_constraints, limits.max_trip_bytes
    )


def rest_limiter(limits: Limits) -> RestLimiter:
    return RestLimiter(
        BucketRule(limits.rest_burst, limits.rest_per_second),
        BucketRule(limits.rest_ip_burst, limits.rest_ip_per_second),
    )


def make_app(services: Services, endpoint: Endpoint) -> tornado.web.Application:
    """The routes; each handler gets, by name, only what it uses.  ``endpoint`` makes the
    WebSocket of an upgrade that reaches the application (``handlers.upgrade``)."""
    settings = services.settings
    limits = settings.limits
    edge = RestEdge(
        services.verifier,
        limits,
        services.clock,
        services.metrics,
        services.security,
        services.pipeline,
        services.lifecycle,
        services.opener.dumps if services.opener is not None else orjson.dumps,
    )
    people = services.people
    tickets = services.tickets
    trips = {"edge": edge, "trips": services.trips}
    history = {"edge": edge, "history": services.history}
    admin = {"edge": edge, "admin": services.admin}
    store_and_bus = {"edge": edge, "store": services.store, "bus": services.bus}
    notifications = {
        "edge": edge,
        "inbox": Inbox(services.notifications, "notifications", "notificationId", "mark_notification_read"),
    }
    announcements = {
        "edge": edge,
        "inbox": Inbox(services.announcements, "announcements", "announcementId", "mark_announcement_read"),
    }
    routes: list[tuple[str, type[tornado.web.RequestHandler], dict[str, object]]] = [
        (r"/ws", LaterUpgradeHandler, {"endpoint": endpoint}),  # not its connection's first request
        (r"/healthz", HealthHandler, store_and_bus),
        (r"/livez", LiveHandler, {"edge": edge}),
        (r"/readyz", ReadyHandler, store_and_bus),
        (r"/api/trips", TripsHandler, trips),
        (rf"/api/trips/{OBJECT_ID}", TripHandler, {**trips, "history": services.history}),
        (rf"/api/trips/{OBJECT_ID}/collaborators", CollaboratorsHandler, trips),
        (rf"/api/trips/{OBJECT_ID}/collaborators/{OBJECT_ID}", CollaboratorHandler, trips),
        (rf"/api/trips/{OBJECT_ID}/invites", TripInvitesHandler, {"edge": edge, "invites": services.invites}),
        (r"/api/invites/accept", InviteAcceptHandler, {"edge": edge, "invites": services.invites}),
        (rf"/api/trips/{OBJECT_ID}/messages", MessagesHandler, trips),
        (rf"/api/trips/{OBJECT_ID}/events", TripEventsHandler, trips),
        (rf"/api/trips/{OBJECT_ID}/messages/{OBJECT_ID}", MessageHandler, trips),
        (rf"/api/trips/{OBJECT_ID}/messages/{OBJECT_ID}/reactions/([^/]+)", ReactionHandler, trips),
        (rf"/api/trips/{OBJECT_ID}/chat/read", ChatReadHandler, trips),
        (rf"/api/trips/{OBJECT_ID}/viewing", ViewingHandler, {"edge": edge, "rooms": services.rooms}),
        (rf"/api/trips/{OBJECT_ID}/history", TripHistoryHandler, history),
        (rf"/api/trips/{OBJECT_ID}/restore", TripRestoreHandler, history),
        (r"/api/notifications", InboxHandler, notifications),
        (rf"/api/notifications/{OBJECT_ID}/read", InboxReadHandler, notifications),
        (r"/api/announcements", InboxHandler, announcements),
        (rf"/api/announcements/{OBJECT_ID}/read", InboxReadHandler, announcements),
        (r"/api/people", PeopleHandler, {"edge": edge, "people": people}),
        (r"/api/realtime/tickets", RealtimeTicketsHandler, {"edge": edge, "people": people, "tickets": tickets}),
        (
            r"/api/dev/sign-in",
            DevSignInHandler,
            {"edge": edge, "people": people, "dev_secret": settings.jwt_secret if settings.dev else None},
        ),
        (r"/api/realtime/connections", ConnectionsHandler, admin),
        (r"/api/realtime/broadcast", BroadcastHandler, admin),
        (rf"/api/realtime/disconnect/{OBJECT_ID}", DisconnectHandler, admin),
        (rf"/api/realtime/erasures/{OBJECT_ID}", ErasureHandler, {"edge": edge, "erasure": services.erasure}),
        (r"/api/realtime/notify", NotifyHandler, admin),
        (r"/api/realtime/sessions", SessionsHandler, {"edge": edge, "sessions": services.sessions}),
        (r"/api/audit/events", AuditEventsHandler, admin),
        (r"/api/audit/read-model", ReadModelHandler, {"edge": edge, "read_side": services.read_side}),
        (
            r"/metrics",
            MetricsHandler,
            {"edge": edge, "scrape_token": settings.metrics_token, "public": settings.metrics_public},
        ),
        (r"/openapi.json", DocumentHandler, {"document": load_document(ROOT / "docs" / "openapi.yaml")}),
        (r"/asyncapi.json", DocumentHandler, {"document": load_document(ROOT / "docs" / "asyncapi.yaml")}),
        (r"/docs", DocsPageHandler, {"page": (ROOT / "docs" / "index.html").read_bytes()}),
        (r"/", IndexHandler, {"path": str(ROOT / "static" / "index.html")}),
    ]
    return tornado.web.Application(
        routes,
        static_path=str(ROOT / "static"),
        static_url_prefix="/static/",
        compress_response=True,
        log_function=log_request,
        rest_limiter=rest_limiter(limits),  # handlers.bounded.LIMITER_SETTING
    )


def socket_edge(services: Services) -> SocketEdge:
    """What every WebSocket of this node uses (``handlers.websocket``)."""
    limits = services.settings.limits
    return SocketEdge(
        sessions=services.session,
        admission=services.admission,
        verifier=services.verifier,
        security=services.security,
        metrics=services.metrics,
        clock=services.clock,
        limits=limits,
        lifecycle=services.lifecycle,
        background=services.background,
        writer=FrameWriter(
            services.metrics.frame_written,
            limits.write_coalesce_seconds,
            limits.write_pace,
            Deflate(limits.deflate, limits.deflate_min_bytes, limits.deflate_level),
        ),
        pinger=Pinger(limits.ping_interval_seconds, limits.ping_timeout_seconds),
        tickets=services.tickets,
    )


async def seed_demo(services: Services) -> list[str]:
    """``--dev``: a demo trip shared by two users, and links that sign them in."""
    owner = Identity(DEMO_OWNER, "user", "Ada (owner)", 0)
    if await services.read_side.trip(DEMO_TRIP) is None:
        await services.trips.create(
            Origin("system", DEMO_OWNER, "user"),
            owner,
            {
                "title": "Lisbon long weekend",
                "collaborators": [DEMO_FRIEND],
                "days": [
                    {
                        "date": "2026-12-04",
                        "title": "Arrival",
                        "activities": [{"title": "Tram 28", "startTime": "15:00"}],
                    },
                    {"date": "2026-12-05", "title": "Belém"},
                ],
            },
            trip_id=DEMO_TRIP,
        )
    secret = services.settings.jwt_secret
    assert secret is not None
    expires = int(time.time()) + 24 * 3600
    base = f"http://{services.settings.host}:{services.settings.port}"
    lines = []
    demo_users = ((DEMO_OWNER, "Ada", "user"), (DEMO_FRIEND, "Grace", "user"), (DEMO_ADMIN, "Admin", "admin"))
    for user, name, role in demo_users:
        token = issue_token(secret, user, role=role, name=name, expires_at=expires)
        lines.append(f"  {name:6} {base}/?token={token}&trip={DEMO_TRIP}")
    lines.append(f"  or pick a person at {base}/?trip={DEMO_TRIP}")
    return lines


async def drain(services: Services, server: tornado.httpserver.HTTPServer) -> None:
    """Stop accepting, answer every command already taken on, tell clients (1001),
    flush pending writes, close the adapters; all within ``shutdown_grace_seconds``.

    From the moment draining starts, frames are refused (``UNAVAILABLE``: nothing was
    accepted, retry); the commands taken on before finish first, and their answers
    (delivered on this node without the bus) go out before the close frames.
    """
    services.lifecycle.draining = True
    server.stop()
    grace = services.settings.limits.shutdown_grace_seconds
    deadline = time.monotonic() + grace
    in_flight = set(services.background)
    if in_flight:
        _, pending = await asyncio.wait(in_flight, timeout=grace / 2)
        log.info("drain: %d commands were in flight, %d still are", len(in_flight), len(pending))
    for conn in services.hub.connections():
        conn.outlet.close(CLOSE_GOING_AWAY, "server shutting down")
    while (services.hub.count() or services.background) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    for follower in services.followers:
        follower.cancel()
    await services.security.close()  # the aggregated security events folded so far
    await services.bus.close()
    for adapter in services.closing:
        await adapter.close()
    await services.store.close()


def tls_context(settings: Settings) -> ssl.SSLContext | None:
    """``--certfile`` (with ``--keyfile``, unless the key is in the same PEM) serves TLS directly."""
    if settings.keyfile and not settings.certfile:
        raise ValueError("--keyfile needs --certfile")
    if not settings.certfile:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(settings.certfile, settings.keyfile or None)
    except (OSError, ssl.SSLError) as exc:
        raise ValueError(f"cannot load the TLS certificate: {exc}") from None
    return context


MIDDLE_THRESHOLD = 100  # young collections between two of the middle generation (Python's: 10)


def tune_collector(young_threshold: int) -> None:
    """Everything made while starting lives as long as the process: frozen out of the
    cyclic collector's scans.  A young generation ``young_threshold`` allocations
    deep instead of 700: a chat command allocates a few hundred objects, almost none
    in cycles, and collecting every few commands cost ~13 % of the server's CPU.
    The middle generation is collected every ``MIDDLE_THRESHOLD`` young collections
    instead of 10: in a reconnect storm each of its collections scanned every
    connection's objects (~250 ms) and found no garbage (bench/RESULTS.md).  The old
    generation keeps Python's ratio, and garbage in cycles is still reclaimed, most
    of it young.  0 leaves Python's defaults."""
    if young_threshold <= 0:
        return
    gc.collect()
    gc.freeze()
    old = gc.get_threshold()[2]
    gc.set_threshold(young_threshold, MIDDLE_THRESHOLD, old)


async def serve(settings: Settings) -> int:
    # before anything listens: a SIGTERM that comes while the node still starts
    # (seeding the dev trips, say) drains it instead of killing it
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    ssl_options = tls_context(settings)
    # bound before the store is opened: a port in use ends the start before anything is written;
    # with --port 0 the port the system chose is the one printed (and in the --dev links)
    try:
        # a storm of reconnects queues in the kernel, not in SYN retries (Tornado's default is 128)
        sockets = tornado.netutil.bind_sockets(settings.port, settings.host, backlog=settings.limits.listen_backlog)
    except OSError as exc:  # the port is taken, the address is not this machine's, ...
        raise StartupError(f"cannot listen on {settings.host}:{settings.port}: {exc.strerror or exc}") from None
    settings = dataclasses.replace(settings, port=sockets[0].getsockname()[1])
    try:
        services = await build(settings)
    except (StoreError, OSError) as exc:  # a store that cannot be opened, a folder that cannot be made
        for sock in sockets:
            sock.close()
        where = settings.store_url.split("@")[-1]
        raise StartupError(f"cannot open the store {where}: {exc}") from None
    endpoint = functools.partial(RealtimeSocket, socket_edge(services))  # GET /ws: handlers.upgrade
    app = make_app(services, endpoint)
    tune_collector(settings.limits.gc_young_threshold)
    limits = settings.limits
    server = UpgradingServer(
        app,
        endpoint=endpoint,
        ssl_options=ssl_options,
        xheaders=settings.trust_proxy,
        # REST handlers stream and answer 413 past max_body_bytes themselves (handlers.bounded);
        # past twice that Tornado drops the connection with a 400
        max_body_size=2 * limits.max_body_bytes,
        idle_connection_timeout=limits.header_timeout_seconds,  # Tornado's header timeout too
        body_timeout=limits.body_timeout_seconds,
    )
    server.add_sockets(sockets)
    await start_operations(services)  # metrics sampler, signed checkpoints; stopped by drain (services.closing)
    if settings.dev:
        print("TravelSense Realtime (dev mode): open one of these links", flush=True)
        for line in await seed_demo(services):
            print(line, flush=True)
    scheme = "https" if ssl_options else "http"
    print(
        f"listening on {scheme}://{settings.host}:{settings.port} (store {settings.store_url.split('@')[-1]})",
        flush=True,
    )
    await stop.wait()
    log.info("shutting down")
    await drain(services, server)
    return 0


class StartupError(Exception):
    """Why the node cannot start, in one line (exit 2)."""


ANALYST_COMMANDS = ("replay", "trip-at", "export", "verify", "migrate", "erase", "rebuild-sessions")


def main(argv: Sequence[str]) -> int:
    args = list(argv)
    if args and args[0] in ANALYST_COMMANDS:
        from analysts.cli import main as analyst_main  # the analyst and operator commands

        return analyst_main(args)
    if args and not args[0].startswith("-"):
        print(
            f"error: no command {args[0]!r}: one of {', '.join(ANALYST_COMMANDS)}, or flags (--help)", file=sys.stderr
        )
        return 2
    try:
        settings = load_settings(args, os.environ)
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    logs.configure(settings.log_level)
    problems = refusals(settings)
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    if problems:
        return 2
    for warning in warnings(settings):
        log.warning("%s", warning)
    fitting = raise_file_limit(settings.limits.max_connections)
    if fitting < settings.limits.max_connections:
        settings = dataclasses.replace(settings, limits=dataclasses.replace(settings.limits, max_connections=fitting))
    if not settings.jwt_secret and not settings.jwt_public_key:
        if not settings.dev:
            print(
                "error: no token key configured: set JWT_SECRET (or JWT_PUBLIC_KEY), or start with --dev",
                file=sys.stderr,
            )
            return 2
        where = dev_secret_path(settings.store_url)
        try:
            settings = dataclasses.replace(settings, jwt_secret=dev_secret(where))
        except OSError as exc:
            print(f"error: cannot keep the --dev secret at {where}: {exc.strerror or exc}", file=sys.stderr)
            return 2
    try:
        if settings.event_loop == "uvloop":
            result: int = uvloop.run(serve(settings))
            return result
        return asyncio.run(serve(settings))
    except (ValueError, StartupError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
