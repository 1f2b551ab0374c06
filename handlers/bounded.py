"""What every REST request passes before its handler runs: a body no larger than
``max_body_bytes`` (413, refused before it is read, from its Content-Length or as it
streams in) and, for commands, the caller's rate limits (429 with Retry-After).

The body is streamed (``stream_request_body``) so that Tornado never buffers one
over the limit: without it a 90 MiB POST was read whole before its 401.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
import tornado.web

from config import Limits
from domain.errors import CommandRefused, ErrorCode
from service.admin import SecurityEvents
from service.auth import InvalidToken, TokenVerifier
from service.clock import Clock
from service.container import Lifecycle
from service.metrics import Metrics
from service.pipeline import Origin, Pipeline
from service.rest_limits import COMMAND_METHODS, RestLimiter

LIMITER_SETTING = "rest_limiter"  # the Application setting that holds this node's RestLimiter


@dataclass(frozen=True)
class RestEdge:
    """What every REST request's common steps use, whatever its handler: the bearer
    token's check, the body and rate limits, the error counts, the record of a refused
    command, and the refusal while the node drains.  A handler's own services come
    as route arguments of their own beside it."""

    verifier: TokenVerifier
    limits: Limits
    clock: Clock
    metrics: Metrics
    security: SecurityEvents
    pipeline: Pipeline
    lifecycle: Lifecycle
    # an answer's bytes, its sealed personal data opened (or "[erased]"); orjson.dumps where nothing is sealed
    dumps: Callable[[Any], bytes] = orjson.dumps


@tornado.web.stream_request_body
class BoundedRequestHandler(tornado.web.RequestHandler):
    edge: RestEdge

    async def admit(self) -> None:
        """Called first thing in ``prepare``: finishes the request (413 or 429) or lets it on."""
        self._body_parts: list[bytes] = []
        self._body_size = 0
        limit = self.edge.limits.max_body_bytes
        length = self.request.headers.get("Content-Length")
        if length is not None and (not length.isdigit() or int(length) > limit):
            self._refuse_body()
            return
        if self.request.method in COMMAND_METHODS:
            await self._rate_limit()

    def data_received(self, chunk: bytes) -> None:
        if self._finished:
            return
        self._body_size += len(chunk)
        if self._body_size > self.edge.limits.max_body_bytes:  # chunked: no length up front
            self._refuse_body()
            return
        self._body_parts.append(chunk)
        self.request.body = b"".join(self._body_parts) if len(self._body_parts) > 1 else chunk

    def _refuse_body(self) -> None:
        limit = self.edge.limits.max_body_bytes
        self.edge.metrics.error("rest", ErrorCode.PAYLOAD_TOO_LARGE.value)
        self.set_status(413)
        self.set_header("Content-Type", "application/json")
        self.set_header("Connection", "close")  # the unread body is not worth reading
        self.finish(_error(ErrorCode.PAYLOAD_TOO_LARGE, f"the body is larger than {limit} bytes"))

    async def _rate_limit(self) -> None:
        limiter: RestLimiter = self.application.settings[LIMITER_SETTING]
        user_id, role = self._caller()
        ip = self.request.remote_ip or ""
        refused = limiter.take(user_id, ip, self.edge.clock.monotonic())
        if refused is None:
            return
        edge = self.edge
        edge.metrics.rate_limited("rest")
        refusal = CommandRefused(ErrorCode.RATE_LIMITED, refused.message, {"retryAfterMs": refused.wait_ms})
        self.set_status(429)
        self.set_header("Content-Type", "application/json")
        self.set_header("Retry-After", str(math.ceil(refused.wait_ms / 1000)))
        self.finish(_error(ErrorCode.RATE_LIMITED, refused.message, refusal.details))
        meta = {"ip": ip, "method": self.request.method, "path": self.request.path[:256]}
        await edge.security.record(Origin("rest", user_id, role), "rest_rate_limited", refusal, meta)

    def _caller(self) -> tuple[str | None, str | None]:
        """The signed-in user, when the bearer token is good (checked again by the handler)."""
        scheme, _, token = self.request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            return None, None
        try:
            identity = self.edge.verifier.verify(token.strip())
        except InvalidToken:
            return None, None
        return identity.user_id, identity.role


def _error(code: ErrorCode, message: str, details: Any = None) -> bytes:
    error: dict[str, Any] = {"code": code.value, "message": message}
    if details is not None:
        error["details"] = details
    return orjson.dumps({"error": error})
