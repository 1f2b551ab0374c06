"""Which browser origins may open a WebSocket: compared by scheme, host and port.

An origin is ``scheme://host[:port]``; ``http://app.example`` and
``https://app.example`` are different origins, and so are ports.  Without an
allow-list, a page may connect only from the origin the request itself is on.
"""

from __future__ import annotations

from urllib.parse import urlsplit

DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
Origin = tuple[str, str, int]


def parse_origin(text: str) -> Origin | None:
    """(scheme, host, port) of an origin, lower-cased with the default port filled in; None if it is not one."""
    try:
        parts = urlsplit(text.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if scheme not in DEFAULT_PORTS or not host or parts.path not in ("", "/") or parts.query or parts.username:
        return None
    return scheme, host, port if port is not None else DEFAULT_PORTS[scheme]


def origin_allowed(origin: str, request_scheme: str, request_host: str, allowed: tuple[str, ...] | None) -> bool:
    """``origin`` (the header) against the allow-list, or, without one, against the
    request's own scheme and ``Host``."""
    theirs = parse_origin(origin)
    if theirs is None:
        return False
    if allowed is not None:
        return "*" in allowed or theirs in {parse_origin(a) for a in allowed}
    return theirs == parse_origin(f"{request_scheme}://{request_host}")
