"""Settings: one typed object, read once from flags and environment in ``app.py``."""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_STORE = "sqlite:///data/events.db"


@dataclass(frozen=True, slots=True)
class Limits:
    rate_burst: int = 30
    rate_per_second: float = 10.0
    typing_burst: int = 10
    typing_per_second: float = 5.0
    abuse_refusals: int = 200  # rate-limited frames within abuse_window_seconds before a 4008 close
    abuse_window_seconds: float = 10.0
    max_connections: int = 10_000
    max_connections_per_user: int = 20
    max_connections_per_ip: int = 1_000
    connect_burst: int = 30  # connection attempts per user
    connect_per_second: float = 5.0
    max_rooms: int = 50
    max_frame_bytes: int = 64 * 1024
    # every frame's data and REST body, before any schema runs (domain.sanitize.Bounds)
    max_object_keys: int = 64
    max_list_items: int = 400  # a trip's 366 days fit
    max_document_nodes: int = 2_000  # bench/hostile.py: ~5 ms of server CPU for a frame at this bound
    # how large a trip may grow (domain.trip_limits); a snapshot at max_trip_bytes must fit half the outbound queue
    max_trip_days: int = 366
    max_trip_activities_per_day: int = 200
    max_trip_constraints: int = 100
    max_trip_bytes: int = 256 * 1024
    max_body_bytes: int = 1024 * 1024  # REST bodies: larger ones get 413 before they are read
    rest_burst: int = 60  # REST commands (POST/PUT/PATCH/DELETE) per user
    rest_per_second: float = 20.0
    rest_ip_burst: int = 300  # REST commands per client address
    rest_ip_per_second: float = 100.0
    header_timeout_seconds: float = 20.0  # for a request's headers, and idle keep-alive connections
    body_timeout_seconds: float = 30.0  # for a request's body
    idle_timeout_seconds: float = 30 * 60
    outbound_max_frames: int = 1_000
    outbound_max_bytes: int = 1024 * 1024
    ping_interval_seconds: float = 20.0
    ping_timeout_seconds: float = 20.0
    typing_clear_seconds: float = 5.0
    token_warning_seconds: float = 30.0
    shutdown_grace_seconds: float = 10.0
    write_coalesce_seconds: float = 0.0  # >0: a socket is written at most this often, frames in between coalesce
    write_pace: float = 2.0  # after a long flush, pause this many times its length (frames in between coalesce)
    commit_steady_seconds: float = 0.002  # SQLite: commits this close together follow the loop for company
    gc_young_threshold: int = 50_000  # allocations before a young-generation collection (0: Python's default)


@dataclass(frozen=True, slots=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8080
    store_url: str = DEFAULT_STORE
    redis_url: str | None = None
    redis_prefix: str = "travelsense"  # every Redis key this service writes starts with it
    dev: bool = False
    jwt_secret: str | None = None
    jwt_public_key: str | None = None
    jwt_algorithms: tuple[str, ...] = ("HS256",)
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    allowed_origins: tuple[str, ...] | None = None  # None: same host only
    metrics_public: bool = False
    migrate: bool = False
    certfile: str | None = None
    keyfile: str | None = None
    trust_proxy: bool = False  # X-Forwarded-For / X-Real-Ip name the client (only behind a proxy you run)
    node_id: str | None = None
    log_level: str = "INFO"
    event_loop: str = "asyncio"  # or "uvloop" (when installed): a faster event loop, same behaviour
    limits: Limits = field(default_factory=Limits)


# flag name -> (Limits field, env var, type)
_LIMIT_FLAGS: dict[str, tuple[str, str, type]] = {
    "--rate-burst": ("rate_burst", "RATE_BURST", int),
    "--rate-per-second": ("rate_per_second", "RATE_PER_SECOND", float),
    "--typing-burst": ("typing_burst", "TYPING_BURST", int),
    "--typing-per-second": ("typing_per_second", "TYPING_PER_SECOND", float),
    "--abuse-refusals": ("abuse_refusals", "ABUSE_REFUSALS", int),
    "--abuse-window": ("abuse_window_seconds", "ABUSE_WINDOW", float),
    "--max-connections": ("max_connections", "MAX_CONNECTIONS", int),
    "--max-connections-per-user": ("max_connections_per_user", "MAX_CONNECTIONS_PER_USER", int),
    "--max-connections-per-ip": ("max_connections_per_ip", "MAX_CONNECTIONS_PER_IP", int),
    "--connect-burst": ("connect_burst", "CONNECT_BURST", int),
    "--connect-per-second": ("connect_per_second", "CONNECT_PER_SECOND", float),
    "--max-rooms": ("max_rooms", "MAX_ROOMS", int),
    "--max-frame-bytes": ("max_frame_bytes", "MAX_FRAME_BYTES", int),
    "--max-object-keys": ("max_object_keys", "MAX_OBJECT_KEYS", int),
    "--max-list-items": ("max_list_items", "MAX_LIST_ITEMS", int),
    "--max-document-nodes": ("max_document_nodes", "MAX_DOCUMENT_NODES", int),
    "--max-trip-days": ("max_trip_days", "MAX_TRIP_DAYS", int),
    "--max-trip-activities-per-day": ("max_trip_activities_per_day", "MAX_TRIP_ACTIVITIES_PER_DAY", int),
    "--max-trip-constraints": ("max_trip_constraints", "MAX_TRIP_CONSTRAINTS", int),
    "--max-trip-bytes": ("max_trip_bytes", "MAX_TRIP_BYTES", int),
    "--max-body-bytes": ("max_body_bytes", "MAX_BODY_BYTES", int),
    "--rest-burst": ("rest_burst", "REST_BURST", int),
    "--rest-per-second": ("rest_per_second", "REST_PER_SECOND", float),
    "--rest-ip-burst": ("rest_ip_burst", "REST_IP_BURST", int),
    "--rest-ip-per-second": ("rest_ip_per_second", "REST_IP_PER_SECOND", float),
    "--header-timeout": ("header_timeout_seconds", "HEADER_TIMEOUT", float),
    "--body-timeout": ("body_timeout_seconds", "BODY_TIMEOUT", float),
    "--idle-timeout": ("idle_timeout_seconds", "IDLE_TIMEOUT", float),
    "--outbound-max-frames": ("outbound_max_frames", "OUTBOUND_MAX_FRAMES", int),
    "--outbound-max-bytes": ("outbound_max_bytes", "OUTBOUND_MAX_BYTES", int),
    "--ping-interval": ("ping_interval_seconds", "PING_INTERVAL", float),
    "--ping-timeout": ("ping_timeout_seconds", "PING_TIMEOUT", float),
    "--typing-clear": ("typing_clear_seconds", "TYPING_CLEAR", float),
    "--token-warning": ("token_warning_seconds", "TOKEN_WARNING", float),
    "--shutdown-grace": ("shutdown_grace_seconds", "SHUTDOWN_GRACE", float),
    "--write-coalesce": ("write_coalesce_seconds", "WRITE_COALESCE", float),
    "--write-pace": ("write_pace", "WRITE_PACE", float),
    "--commit-steady": ("commit_steady_seconds", "COMMIT_STEADY", float),
    "--gc-young-threshold": ("gc_young_threshold", "GC_YOUNG_THRESHOLD", int),
}


def _csv(text: str | None) -> tuple[str, ...] | None:
    if text is None:
        return None
    return tuple(part.strip() for part in text.split(",") if part.strip())


def _key_text(value: str | None) -> str | None:
    """``JWT_PUBLIC_KEY`` is PEM text or the path of a PEM file."""
    if value is None or value.lstrip().startswith("-----BEGIN"):
        return value
    path = Path(value)
    return path.read_text() if path.is_file() else value


def server_parser(env: Mapping[str, str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="app.py", description="TravelSense Realtime server")
    parser.add_argument("--host", default=env.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(env.get("PORT", "8080")))
    parser.add_argument("--store", dest="store_url", default=env.get("STORE_URL", DEFAULT_STORE))
    parser.add_argument("--redis", dest="redis_url", default=env.get("REDIS_URL") or None)
    parser.add_argument("--redis-prefix", default=env.get("REDIS_PREFIX") or "travelsense")
    parser.add_argument("--dev", action="store_true", default=env.get("DEV", "") == "1")
    parser.add_argument("--metrics-public", action="store_true", default=env.get("METRICS_PUBLIC", "") == "1")
    parser.add_argument("--migrate", action="store_true", default=env.get("MIGRATE", "") == "1")
    parser.add_argument("--certfile", default=env.get("TLS_CERTFILE"))
    parser.add_argument("--keyfile", default=env.get("TLS_KEYFILE"))
    parser.add_argument(
        "--trust-proxy",
        action="store_true",
        default=env.get("TRUST_PROXY", "") == "1",
        help="take the client address from X-Forwarded-For/X-Real-Ip (behind a TLS proxy)",
    )
    parser.add_argument("--node-id", default=env.get("NODE_ID"))
    parser.add_argument("--log-level", default=env.get("LOG_LEVEL", "INFO"))
    parser.add_argument("--event-loop", choices=("asyncio", "uvloop"), default=env.get("EVENT_LOOP", "asyncio"))
    defaults = Limits()
    for flag, (name, var, kind) in _LIMIT_FLAGS.items():
        parser.add_argument(flag, dest=name, type=kind, default=kind(env.get(var, getattr(defaults, name))))
    return parser


def load_settings(argv: Sequence[str], env: Mapping[str, str] = os.environ) -> Settings:
    args = server_parser(env).parse_args(list(argv))
    limits = Limits(**{name: getattr(args, name) for name, _, _ in _LIMIT_FLAGS.values()})
    origins = env.get("ALLOWED_ORIGINS")
    return Settings(
        host=args.host,
        port=args.port,
        store_url=args.store_url,
        redis_url=args.redis_url,
        redis_prefix=args.redis_prefix,
        dev=args.dev,
        jwt_secret=env.get("JWT_SECRET") or None,
        jwt_public_key=_key_text(env.get("JWT_PUBLIC_KEY") or None),
        jwt_algorithms=_csv(env.get("JWT_ALGORITHMS")) or ("HS256",),
        jwt_issuer=env.get("JWT_ISSUER") or None,
        jwt_audience=env.get("JWT_AUDIENCE") or None,
        allowed_origins=_csv(origins) if origins else None,
        metrics_public=args.metrics_public,
        migrate=args.migrate,
        certfile=args.certfile,
        keyfile=args.keyfile,
        trust_proxy=args.trust_proxy,
        node_id=args.node_id,
        log_level=args.log_level,
        event_loop=args.event_loop,
        limits=limits,
    )


LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})
SNAPSHOT_HEADROOM = 4096  # the snapshot frame's envelope, and the member list sent with it


def is_loopback(host: str) -> bool:
    return host in LOOPBACK_HOSTS or host.startswith("127.")


def refusals(settings: Settings) -> list[str]:
    """Why these settings must not serve (empty: they may); each reason says what to change."""
    problems: list[str] = []
    if settings.dev and (settings.jwt_secret or settings.jwt_public_key):
        problems.append(
            "--dev signs its demo links with a random secret of its own and seeds a demo trip: "
            "unset JWT_SECRET and JWT_PUBLIC_KEY, or start without --dev"
        )
    if settings.dev and not is_loopback(settings.host):
        problems.append(
            f"--dev is for one machine: it prints admin links; listen on 127.0.0.1 (not {settings.host}) "
            "or start without --dev"
        )
    limits = settings.limits
    if 2 * limits.max_trip_bytes + SNAPSHOT_HEADROOM > limits.outbound_max_bytes:
        problems.append(
            f"a trip of --max-trip-bytes {limits.max_trip_bytes} could not be joined: its snapshot must fit half "
            f"of --outbound-max-bytes {limits.outbound_max_bytes} (raise that or lower --max-trip-bytes)"
        )
    return problems


def warnings(settings: Settings) -> list[str]:
    """What these settings allow that is probably not meant."""
    found: list[str] = []
    if settings.allowed_origins is None and not is_loopback(settings.host):
        found.append(
            f"ALLOWED_ORIGINS is not set on {settings.host}: WebSockets are accepted from pages of this host "
            "only (same scheme, host and port); set ALLOWED_ORIGINS to the origins of your web app"
        )
    return found
