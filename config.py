"""Settings: one typed object, read once from flags and environment in ``app.py``."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import urlsplit

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
    listen_backlog: int = 4096  # connections the kernel holds before they are accepted (it caps this at somaxconn)
    connect_burst: int = 30  # connection attempts per user
    connect_per_second: float = 5.0
    max_rooms: int = 50
    member_list_max: int = 100  # users listed in trip_room_joined (the first to arrive; memberCount says how many)
    # a room with this many members on a node (0: none) gets its user_joined/user_left summed up in one
    # presence_summary per presence_summary_seconds: a join then costs the same however large the room
    presence_summary_from: int = 1_000
    presence_summary_seconds: float = 1.0
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
    store_timeout_seconds: float = 1.0  # a store that does not answer in this long: commands refused, UNAVAILABLE
    # permessage-deflate (handlers.frame_writer.Deflate): "shared" (no context takeover, a broadcast deflated
    # once for every socket, payloads under deflate_min_bytes sent plain), "per-connection" (Tornado's: a
    # ~200 KB zlib context per socket, every frame compressed per socket) or "off" (never negotiated)
    deflate: str = "shared"
    deflate_min_bytes: int = 1024
    deflate_level: int = 1
    cache_budget_mib: int = 256  # trip states and recent chat a node holds; the least recently used go past it
    snapshot_every: int = 1000  # records folded into a trip since its last snapshot before the next (0: never)
    session_pii_days: float = 30.0  # session records' IP and user agent are blanked after this many days
    session_keep_days: float = 90.0  # disconnected session records older than this become counts per day
    session_retention_seconds: float = 3600.0  # between runs of the retention job (one node at a time)
    resume_window_seconds: float = 120.0  # how long after a drop a session may be resumed (0: never)
    presence_grace_seconds: float = 10.0  # a dropped connection is shown gone after this long without a resume
    notification_cache_mib: int = 16  # recent users' notifications a node holds; the least recently used go past it
    people_kept: int = 1000  # people listed by /api/people (who signed in lately); the least recent are forgotten
    invite_hours: float = 168.0  # how long a trip's invite link works


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
    plain_personal_data: bool = False  # log personal data unsealed (benchmarks only: erasure cannot reach it)
    node_id: str | None = None
    log_level: str = "INFO"
    event_loop: str = "uvloop"  # or "asyncio": uvloop costs 12-17 % less CPU per connection (bench/RESULTS.md)
    metrics_token: str | None = None  # a bearer token that reads /metrics and nothing else
    checkpoint_key: str | None = None  # signs checkpoints of the log (eventlog/checkpoints.py); never stored
    checkpoint_interval_seconds: float = 60.0
    resume_secret: str | None = None  # signs resume tokens; every node needs the same (default: from the JWT secret)
    build_revision: str | None = None  # the commit, for travelsense_build_info (None: read from .git)
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
    "--listen-backlog": ("listen_backlog", "LISTEN_BACKLOG", int),
    "--connect-burst": ("connect_burst", "CONNECT_BURST", int),
    "--connect-per-second": ("connect_per_second", "CONNECT_PER_SECOND", float),
    "--max-rooms": ("max_rooms", "MAX_ROOMS", int),
    "--member-list-max": ("member_list_max", "MEMBER_LIST_MAX", int),
    "--presence-summary-from": ("presence_summary_from", "PRESENCE_SUMMARY_FROM", int),
    "--presence-summary-interval": ("presence_summary_seconds", "PRESENCE_SUMMARY_INTERVAL", float),
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
    "--store-timeout": ("store_timeout_seconds", "STORE_TIMEOUT", float),
    "--deflate": ("deflate", "DEFLATE", str),
    "--deflate-min-bytes": ("deflate_min_bytes", "DEFLATE_MIN_BYTES", int),
    "--deflate-level": ("deflate_level", "DEFLATE_LEVEL", int),
    "--cache-budget": ("cache_budget_mib", "CACHE_BUDGET", int),
    "--snapshot-every": ("snapshot_every", "SNAPSHOT_EVERY", int),
    "--session-pii-days": ("session_pii_days", "SESSION_PII_DAYS", float),
    "--session-keep-days": ("session_keep_days", "SESSION_KEEP_DAYS", float),
    "--session-retention-interval": ("session_retention_seconds", "SESSION_RETENTION_INTERVAL", float),
    "--resume-window": ("resume_window_seconds", "RESUME_WINDOW", float),
    "--presence-grace": ("presence_grace_seconds", "PRESENCE_GRACE", float),
    "--notification-cache": ("notification_cache_mib", "NOTIFICATION_CACHE", int),
    "--people-kept": ("people_kept", "PEOPLE_KEPT", int),
    "--invite-hours": ("invite_hours", "INVITE_HOURS", float),
}


def _csv(text: str | None) -> tuple[str, ...] | None:
    if text is None:
        return None
    return tuple(part.strip() for part in text.split(",") if part.strip())


def _key_text(value: str | None) -> str | None:
    """``JWT_PUBLIC_KEY`` is PEM text or the path of a PEM file (anything else is refused: a
    mistyped path would otherwise be taken as the key, and every token refused)."""
    if value is None or value.lstrip().startswith("-----BEGIN"):
        return value
    try:
        text = Path(value).read_text()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not a readable PEM file"
        raise SettingsError(f"JWT_PUBLIC_KEY={value!r}: neither PEM text nor a PEM file ({reason})") from None
    if "-----BEGIN" not in text:
        raise SettingsError(f"JWT_PUBLIC_KEY={value!r}: the file holds no PEM key")
    return text


class SettingsError(ValueError):
    """A flag or environment value that cannot be used; reported in one line (exit 2)."""


class OneLineParser(argparse.ArgumentParser):
    """Reports a bad flag in one line, through ``SettingsError``, instead of usage text and ``exit``."""

    def error(self, message: str) -> NoReturn:
        raise SettingsError(message)


TRUE = frozenset({"1", "true", "yes", "on"})
FALSE = frozenset({"", "0", "false", "no", "off"})
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def parse_bool(text: str) -> bool:
    folded = text.strip().lower()
    if folded in TRUE:
        return True
    if folded in FALSE:
        return False
    raise ValueError("not a yes/no value (1/true/yes/on or 0/false/no/off)")


DEFLATE_MODES = ("shared", "per-connection", "off")


def _deflate_mode(text: str) -> str:
    if text not in DEFLATE_MODES:
        raise ValueError(f"not a deflate mode ({', '.join(DEFLATE_MODES)})")
    return text


def _number(kind: type) -> Callable[[str], Any]:
    if kind is str:  # the one word-valued limit
        return _deflate_mode

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise ValueError(f"not {'an integer' if kind is int else 'a number'}") from None
        if value < 0:
            raise ValueError("must not be negative")
        return value

    parse.__name__ = kind.__name__
    return parse


def _port(text: str) -> int:
    value: int = _number(int)(text)
    if value > 65535:
        raise ValueError("not a port (0-65535)")
    return value


STORE_SCHEMES = ("sqlite:///", "mongodb://", "mongodb+srv://")
REDIS_SCHEMES = ("redis://", "rediss://", "unix://", "redis+cluster://", "rediss+cluster://")


def _store_url(text: str) -> str:
    if not text.startswith(STORE_SCHEMES) or text in STORE_SCHEMES:
        raise ValueError("not a store URL (sqlite:///PATH, mongodb://HOST/DATABASE or mongodb+srv://...)")
    return text


def _redis_url(text: str) -> str:
    if not text.startswith(REDIS_SCHEMES) or text in REDIS_SCHEMES:
        raise ValueError(
            "not a Redis URL (redis://HOST:PORT/DB, rediss://..., unix://PATH or redis+cluster://HOST:PORT)"
        )
    return text


def _origins(text: str) -> tuple[str, ...] | None:
    """``ALLOWED_ORIGINS``: ``*``, or origins as browsers send them (``https://app.example[:port]``);
    an entry that is not one would never match, and every WebSocket would be refused."""
    origins = _csv(text)
    for origin in origins or ():
        if origin == "*":
            continue
        try:
            parts = urlsplit(origin)
            parts.port  # noqa: B018 - raises on a port that is not a number
        except ValueError:
            raise ValueError(f"{origin!r} is not an origin (https://host[:port], or *)") from None
        if (
            parts.scheme not in ("http", "https", "ws", "wss")
            or not parts.hostname
            or parts.path not in ("", "/")
            or parts.query
        ):
            raise ValueError(f"{origin!r} is not an origin (https://host[:port], or *)")
    return origins or None


def _log_level(text: str) -> str:
    level = text.strip().upper()
    if level not in LOG_LEVELS:
        raise ValueError(f"not one of {', '.join(LOG_LEVELS)}")
    return level


def _from_env(env: Mapping[str, str], var: str, parse: Callable[[str], Any], default: Any) -> Any:
    text = env.get(var)
    if text is None or (text == "" and default is None):
        return default
    try:
        return parse(text)
    except ValueError as exc:
        raise SettingsError(f"{var}={text!r}: {exc}") from None


def _checked(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    """``parse`` for a flag: argparse reports the flag, the value and what is wrong with it."""

    def check(text: str) -> Any:
        try:
            return parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"{text!r}: {exc}") from None

    return check


ANALYST_HELP = """commands (each has its own --help; each reads --store / $STORE_URL, refuses a missing or
empty store (exit 2), and opens it read-only unless it says it writes):
  replay    rebuild every projection from the log and compare (exit 1 on a difference)
  trip-at   a trip's state as of a version or an instant
  export    the log, or part of it, as JSON Lines or CSV (--type checkpoint: the signed checkpoints)
  verify    check the hash chains and the signed checkpoints (--key / $CHECKPOINT_KEY, --checkpoints FILE)
  migrate   bring the store's schema up to date, under a lock (writes the schema; --status: only report it)
  erase     erase a person: destroy their keys, record the erasure (writes one record)
  rebuild-sessions  fold the session records and presence choices again from the log (writes those)
  exit status: 0 all is well; 1 the command found something (a difference, a broken link, no such trip);
  2 bad usage, or a store that is missing, empty or cannot be opened (one line on standard error)

environment only:
  JWT_SECRET                  HS256 secret (required unless --dev or JWT_PUBLIC_KEY)
  JWT_PUBLIC_KEY              PEM text or file for RS256/ES256
  JWT_ALGORITHMS              comma list (default HS256)
  JWT_ISSUER, JWT_AUDIENCE    checked, and required in tokens, when set
  ALLOWED_ORIGINS             comma list of WebSocket origins (default: same host only; * for any)
  METRICS_TOKEN               a bearer token that reads /metrics and nothing else (default: none, admins only)
  CHECKPOINT_KEY              the key signing checkpoints of the log; kept out of the store (default: none,
                              no checkpoints)
  RESUME_SECRET               signs resume tokens; the same on every node (default: derived from JWT_SECRET)
  BUILD_REVISION              the commit shown in travelsense_build_info (default: read from .git)
  ADMIN_TOKEN                 replay --live: an admin JWT (default: none)
"""


def server_parser(env: Mapping[str, str]) -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="app.py",
        usage="app.py [flags]  |  app.py COMMAND [options]",
        description="TravelSense Realtime server. Every flag also reads the environment variable shown.",
        epilog=ANALYST_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )

    def add(flag: str, var: str, parse: Callable[[str], Any], default: Any, text: str, **extra: Any) -> None:
        shown = "none" if default is None else default
        parser.add_argument(
            flag,
            type=_checked(parse),
            default=_from_env(env, var, parse, default),
            help=f"{text} [${var}, default {shown}]",
            **extra,
        )

    def switch(flag: str, var: str, text: str) -> None:
        parser.add_argument(
            flag,
            action="store_true",
            default=_from_env(env, var, parse_bool, False),
            help=f"{text} [${var}=1/true/yes, default off]",
        )

    add("--host", "HOST", str, "127.0.0.1", "address to listen on")
    add("--port", "PORT", _port, 8080, "port to listen on")
    add(
        "--store",
        "STORE_URL",
        _store_url,
        DEFAULT_STORE,
        "event log: sqlite:///PATH or mongodb://...",
        dest="store_url",
    )
    add(
        "--redis",
        "REDIS_URL",
        _redis_url,
        None,
        "Redis for the cross-node bus, presence and sessions: redis://... or redis+cluster://...",
        dest="redis_url",
    )
    add("--redis-prefix", "REDIS_PREFIX", str, "travelsense", "prefix of every Redis key")
    switch("--dev", "DEV", "random signing secret, a demo trip and sign-in links")
    switch("--metrics-public", "METRICS_PUBLIC", "/metrics without a token")
    switch("--migrate", "MIGRATE", "run MongoDB migrations on start")
    add("--certfile", "TLS_CERTFILE", str, None, "serve TLS with this certificate (PEM)")
    add("--keyfile", "TLS_KEYFILE", str, None, "the certificate's private key (PEM)")
    switch("--trust-proxy", "TRUST_PROXY", "take the client address from X-Forwarded-For/X-Real-Ip (behind a proxy)")
    switch(
        "--plain-personal-data",
        "PLAIN_PERSONAL_DATA",
        "log personal data unsealed: not erasable (benchmarks)",
    )
    add("--node-id", "NODE_ID", str, None, "this node's name on the bus (default: random)")
    add("--log-level", "LOG_LEVEL", _log_level, "INFO", f"one of {', '.join(LOG_LEVELS)}")
    add(
        "--event-loop",
        "EVENT_LOOP",
        _event_loop,
        "uvloop",
        "uvloop (libuv's loop: less CPU per connection and frame), or asyncio (the standard library's)",
    )
    add(
        "--checkpoint-interval",
        "CHECKPOINT_INTERVAL",
        _number(float),
        60.0,
        "seconds between signed checkpoints of the log (with $CHECKPOINT_KEY; 0: only at shutdown)",
    )
    defaults = Limits()
    for flag, (name, var, kind) in _LIMIT_FLAGS.items():
        add(flag, var, _number(kind), getattr(defaults, name), _LIMIT_HELP.get(name, name.replace("_", " ")), dest=name)
    return parser


def _event_loop(text: str) -> str:
    if text not in ("asyncio", "uvloop"):
        raise ValueError("not one of asyncio, uvloop")
    return text


_LIMIT_HELP = {
    "member_list_max": "users listed in trip_room_joined (the first to arrive; memberCount says how many)",
    "presence_summary_from": "members of a room on this node from which user_joined/user_left are summed up "
    "in presence_summary frames (0: never)",
    "presence_summary_seconds": "seconds between a large room's presence_summary frames",
    "max_object_keys": "keys in one object of a frame's data or a REST body",
    "max_list_items": "items in one list of a frame's data or a REST body",
    "max_document_nodes": "values in all of a frame's data or a REST body",
    "max_trip_days": "days in a trip",
    "max_trip_activities_per_day": "activities in one day of a trip",
    "max_trip_constraints": "constraints of a trip",
    "max_trip_bytes": "a trip's size, encoded (its snapshot must fit half of --outbound-max-bytes)",
    "max_body_bytes": "REST body size: larger ones get 413 before they are read",
    "rest_burst": "REST commands (POST/PUT/PATCH/DELETE) per user: burst",
    "rest_per_second": "REST commands per user: per second",
    "rest_ip_burst": "REST commands per client address: burst",
    "rest_ip_per_second": "REST commands per client address: per second",
    "header_timeout_seconds": "seconds for a request's headers, and for an idle keep-alive connection",
    "body_timeout_seconds": "seconds for a request's body",
    "store_timeout_seconds": "seconds the store may take before a command is refused with UNAVAILABLE",
    "deflate": "permessage-deflate: shared (a broadcast deflated once), per-connection, or off",
    "deflate_min_bytes": "--deflate shared: payloads smaller than this are sent plain",
    "deflate_level": "zlib level of permessage-deflate (1 fastest, 9 smallest)",
    "cache_budget_mib": "MiB of trip states and recent chat held (the least recently used go past it)",
    "snapshot_every": "records folded into a trip since its last snapshot before the next (0: never)",
    "session_pii_days": "days after which session records lose their IP and user agent",
    "session_keep_days": "days after which disconnected session records become counts per day",
    "session_retention_seconds": "seconds between runs of the session retention job (one node at a time)",
    "resume_window_seconds": "seconds after a drop within which a session may be resumed (0: never)",
    "presence_grace_seconds": "seconds a dropped connection (or a dead node's member) stays listed, awaiting a resume",
    "people_kept": "people /api/people lists to invite by name: the most recently signed in",
    "invite_hours": "hours a trip's invite link works",
    "rate_burst": "inbound frames per connection: burst",
    "rate_per_second": "inbound frames per connection: per second",
    "typing_burst": "typing events per connection: burst",
    "typing_per_second": "typing events per connection: per second",
    "abuse_refusals": "rate-limited frames within --abuse-window before a 4008 close",
    "abuse_window_seconds": "seconds of the abuse window",
    "max_connections": "connections on this node",
    "max_connections_per_user": "connections per user",
    "max_connections_per_ip": "connections per client address",
    "listen_backlog": "connections the kernel queues before the node accepts them (capped at net.core.somaxconn)",
    "connect_burst": "connection attempts per user: burst",
    "connect_per_second": "connection attempts per user: per second",
    "max_rooms": "rooms per connection",
    "max_frame_bytes": "inbound frame size after decompression",
    "idle_timeout_seconds": "seconds without a frame before a 4000 close",
    "outbound_max_frames": "frames queued for one slow socket before a 4009 close",
    "outbound_max_bytes": "bytes queued for one slow socket before a 4009 close",
    "ping_interval_seconds": "seconds between pings",
    "ping_timeout_seconds": "seconds a pong may take",
    "typing_clear_seconds": "seconds before a typing indicator clears",
    "token_warning_seconds": "seconds before a token's exp that token_expiring is sent",
    "shutdown_grace_seconds": "seconds a shutdown waits for sockets to close",
    "write_coalesce_seconds": "minimum seconds between socket flushes",
    "write_pace": "pause after a long flush, as a multiple of its length (0: off)",
    "commit_steady_seconds": "SQLite: seconds within which a commit waits for company",
    "gc_young_threshold": "allocations between young-generation collections (0: Python's default)",
    "notification_cache_mib": "MiB of recent users' notifications held (the rest are read from the store by user)",
}


def load_settings(argv: Sequence[str], env: Mapping[str, str] = os.environ) -> Settings:
    """Raises ``SettingsError`` (one line) for a bad flag or environment value."""
    args = server_parser(env).parse_args(list(argv))
    limits = Limits(**{name: getattr(args, name) for name, _, _ in _LIMIT_FLAGS.values()})
    origins = _from_env(env, "ALLOWED_ORIGINS", _origins, None)
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
        allowed_origins=origins,
        metrics_public=args.metrics_public,
        migrate=args.migrate,
        certfile=args.certfile,
        keyfile=args.keyfile,
        trust_proxy=args.trust_proxy,
        plain_personal_data=args.plain_personal_data,
        node_id=args.node_id,
        log_level=args.log_level,
        event_loop=args.event_loop,
        metrics_token=env.get("METRICS_TOKEN") or None,
        checkpoint_key=env.get("CHECKPOINT_KEY") or None,
        resume_secret=env.get("RESUME_SECRET") or None,
        build_revision=env.get("BUILD_REVISION") or None,
        checkpoint_interval_seconds=args.checkpoint_interval,
        limits=limits,
    )


MIN_CHECKPOINT_KEY_BYTES = 32  # HMAC-SHA256: a key as long as its output
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
    if settings.checkpoint_key and len(settings.checkpoint_key.encode()) < MIN_CHECKPOINT_KEY_BYTES:
        problems.append(
            f"CHECKPOINT_KEY must be at least {MIN_CHECKPOINT_KEY_BYTES} bytes: a shorter one can be guessed by"
            " whoever can read the log's checkpoints (a random one: openssl rand -hex 32)"
        )
    if settings.redis_url and not shares_signing_secret(settings):
        problems.append(
            "--redis joins several nodes, but with JWT_PUBLIC_KEY and no JWT_SECRET each would sign WebSocket "
            "tickets, invite links and resume tokens with a random secret of its own: set RESUME_SECRET, "
            "the same on every node"
        )
    limits = settings.limits
    if 2 * limits.max_trip_bytes + SNAPSHOT_HEADROOM > limits.outbound_max_bytes:
        problems.append(
            f"a trip of --max-trip-bytes {limits.max_trip_bytes} could not be joined: its snapshot must fit half "
            f"of --outbound-max-bytes {limits.outbound_max_bytes} (raise that or lower --max-trip-bytes)"
        )
    return problems


def shares_signing_secret(settings: Settings) -> bool:
    """Whether what signs tickets, invites and resume tokens is a secret every node (and the
    next start) has: ``RESUME_SECRET``, or the JWT secret (``--dev`` makes and keeps one);
    else each process draws its own (``app.resume_secret``)."""
    return bool(settings.resume_secret or settings.jwt_secret or settings.dev or not settings.jwt_public_key)


def warnings(settings: Settings) -> list[str]:
    """What these settings allow that is probably not meant."""
    found: list[str] = []
    if not shares_signing_secret(settings):
        found.append(
            "JWT_PUBLIC_KEY and no JWT_SECRET or RESUME_SECRET: WebSocket tickets, invite links and resume tokens "
            "are signed with a random secret of this process's own, so they work on this node only and invite "
            "links stop working when it restarts; set RESUME_SECRET to keep them"
        )
    if settings.allowed_origins is None and not is_loopback(settings.host):
        found.append(
            f"ALLOWED_ORIGINS is not set on {settings.host}: WebSockets are accepted from pages of this host "
            "only (same scheme, host and port); set ALLOWED_ORIGINS to the origins of your web app"
        )
    return found
