"""What every REST handler shares: bearer auth, JSON in and out, one error shape."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any, TypeVar

import orjson
import tornado.web

from domain.errors import CommandRefused, ErrorCode, invalid
from domain.ids import is_object_id
from domain.raw_document import check_document_nodes
from domain.sanitize import sanitize
from handlers.bounded import BoundedRequestHandler
from service import logs
from service.auth import Identity, InvalidToken
from service.clock import parse_iso
from service.failures import StoreError, StoreUnavailable
from service.pipeline import Origin, Request

log = logging.getLogger("travelsense.rest")
T = TypeVar("T")

HTTP_STATUS: dict[ErrorCode, int] = {
    ErrorCode.BAD_REQUEST: 400,
    ErrorCode.VALIDATION_ERROR: 400,
    ErrorCode.UNKNOWN_EVENT: 400,
    ErrorCode.UNAUTHORIZED: 401,
    ErrorCode.INVALID_TOKEN: 401,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.NOT_IN_ROOM: 403,
    ErrorCode.TRIP_NOT_FOUND: 404,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.CONFLICT: 409,
    ErrorCode.PAYLOAD_TOO_LARGE: 413,
    ErrorCode.RATE_LIMITED: 429,
    ErrorCode.INTERNAL: 500,
    ErrorCode.UNAVAILABLE: 503,
}
_CODE_FOR_STATUS = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    413: "PAYLOAD_TOO_LARGE",
    429: "RATE_LIMITED",
    503: "UNAVAILABLE",
}


MAX_INT64 = 2**63 - 1


def allowed_methods(handler: type[tornado.web.RequestHandler]) -> list[str]:
    """The methods a handler class implements (the ``Allow`` header of a 405)."""
    base = tornado.web.RequestHandler
    return [m for m in handler.SUPPORTED_METHODS if getattr(handler, m.lower(), None) is not getattr(base, m.lower())]


def reason_of(status_code: int, error: Any = None) -> str:
    """The reason a refused request is given: what an ``HTTPError`` said, else the status's phrase."""
    exc = error[1] if isinstance(error, tuple) and len(error) == 3 else None
    if isinstance(exc, tornado.web.HTTPError) and isinstance(exc.reason, str) and exc.reason:
        return exc.reason
    try:
        return HTTPStatus(status_code).phrase
    except ValueError:
        return "request refused"


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        error["details"] = details
    return {"error": error}


class ApiHandler(BoundedRequestHandler):
    """Each handler's ``initialize`` takes the ``RestEdge`` (``edge``) and, by name,
    the few services of its own it calls (its route arguments in ``app.make_app``)."""

    identity: Identity

    def set_default_headers(self) -> None:
        self.set_header("Content-Type", "application/json")
        self.set_header("Cache-Control", "no-store")

    def check_xsrf_cookie(self) -> None:  # bearer tokens, no cookies
        return None

    async def prepare(self) -> None:
        correlation = logs.request_id(self.request.headers.get("X-Request-ID"))
        logs.bind(correlation_id=correlation)
        self.set_header("X-Request-ID", correlation)
        if self.edge.lifecycle.draining and self.request.method not in ("GET", "HEAD", "OPTIONS"):
            # a command on a kept-alive connection while the node drains: nothing is taken on
            self.send_refusal(CommandRefused(ErrorCode.UNAVAILABLE, "the server is shutting down, retry"))
            return
        await self.admit()  # body size and rate limits (handlers.bounded)

    # responses ------------------------------------------------------------------

    answered = False  # whether a body was sent (no Tornado internals needed to ask)

    def send_json(self, body: Any, status: int = 200, *, sealed: bool = False) -> None:
        """``sealed``: personal data as the log keeps it (for comparisons with a rebuild), not opened."""
        self.set_status(status)
        self.answered = True
        self.finish(orjson.dumps(body) if sealed else self.edge.dumps(body))

    def send_refusal(self, refusal: CommandRefused) -> None:
        self.edge.metrics.error("rest", refusal.code.value)
        self.send_json(error_body(refusal.code.value, refusal.message, refusal.details), HTTP_STATUS[refusal.code])

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        code = _CODE_FOR_STATUS.get(status_code, "INTERNAL")
        self.edge.metrics.error("rest", code)
        if status_code == 405:
            self.set_header("Allow", ", ".join(allowed_methods(type(self))))
        message = "internal error" if status_code >= 500 else reason_of(status_code, kwargs.get("exc_info"))
        self.set_header("Content-Type", "application/json")
        self.answered = True
        self.finish(orjson.dumps(error_body(code, message)))

    # inputs ----------------------------------------------------------------------

    def authenticate(self) -> Identity:
        header = self.request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise CommandRefused(ErrorCode.UNAUTHORIZED, "a bearer token is required")
        try:
            self.identity = self.edge.verifier.verify(token.strip())
        except InvalidToken as exc:
            raise CommandRefused(ErrorCode.UNAUTHORIZED, f"token refused: {exc}") from None
        return self.identity

    def require_admin(self) -> Identity:
        identity = self.authenticate()
        if not identity.is_admin:
            raise CommandRefused(ErrorCode.FORBIDDEN, "admins only")
        return identity

    @property
    def origin(self) -> Origin:
        identity = getattr(self, "identity", None)
        return Origin("rest", identity.user_id if identity else None, identity.role if identity else None)

    def json_body(self) -> dict[str, Any]:
        check_document_nodes(self.request.body or b"", self.edge.limits)  # before parsing builds every value
        try:
            body = json.loads(self.request.body or b"{}")
        except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: nested past the parser's depth
            raise CommandRefused(ErrorCode.BAD_REQUEST, "body is not JSON", {"body": ["must be JSON"]}) from None
        if not isinstance(body, dict):
            raise CommandRefused(ErrorCode.BAD_REQUEST, "body must be a JSON object", {"body": ["must be an object"]})
        return sanitize(body, self.edge.limits)

    def path_id(self, value: str, name: str) -> str:
        if not is_object_id(value):
            raise CommandRefused(
                ErrorCode.VALIDATION_ERROR, f"{name}: must be an ObjectId", {name: ["must be an ObjectId"]}
            )
        return value.lower()

    def time_arg(self, name: str) -> str | None:
        """An ISO 8601 query argument as the log writes ``at`` (absent: None)."""
        value = self.get_query_argument(name, None)
        if value is None:
            return None
        try:
            return log_time(value)
        except (ValueError, OverflowError):
            raise invalid(name, "must be an ISO 8601 date-time") from None

    def bool_arg(self, name: str) -> bool:
        """A true/false query argument (``true``, ``false``, ``1`` or ``0``; absent: false)."""
        value = self.get_query_argument(name, "false").lower()
        if value not in ("true", "false", "1", "0"):
            message = "must be true or false"
            raise CommandRefused(ErrorCode.VALIDATION_ERROR, f"{name}: {message}", {name: [message]})
        return value in ("true", "1")

    def int_arg(self, name: str, default: int, low: int, high: int | None) -> int:
        raw = self.get_query_argument(name, None)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            raise CommandRefused(
                ErrorCode.VALIDATION_ERROR, f"{name}: must be an integer", {name: ["must be an integer"]}
            ) from None
        high = MAX_INT64 if high is None else high  # what the stores can index
        if value < low or value > high:
            bound = f"between {low} and {high}"
            raise CommandRefused(ErrorCode.VALIDATION_ERROR, f"{name}: must be {bound}", {name: [f"must be {bound}"]})
        return value

    # running -----------------------------------------------------------------------

    async def answer(self, work: Callable[[], Awaitable[T]], *, command: str | None = None) -> T | None:
        """Run a query or command; any refusal becomes the contract's error shape.

        With ``command`` set, a refusal is recorded (by the pipeline), so every REST
        command leaves exactly one record.
        """
        try:
            return await work()
        except CommandRefused as refusal:
            await self._refused(refusal, command)
        except StoreUnavailable:  # recorded if the log takes it (and so tries it: service/breaker.py)
            await self._refused(CommandRefused(ErrorCode.UNAVAILABLE, "the event log is unavailable, retry"), command)
        except StoreError:
            log.exception("store error on %s %s", self.request.method, self.request.path)
            self.send_refusal(CommandRefused(ErrorCode.INTERNAL, "internal error"))
        return None

    async def _refused(self, refusal: CommandRefused, command: str | None) -> None:
        """Record the refusal (a command's, or any unauthorized request's) and answer it."""
        if refusal.code == ErrorCode.UNAUTHORIZED:  # a security event, for queries too
            await self._record_security_event(command or "rest_unauthorized", refusal)
        elif command is not None:
            await self.edge.pipeline.refuse(self._request(command), refusal)
        self.send_refusal(refusal)

    def _request(self, command: str) -> Request:
        """The command as the log keeps it; the trip it names is the route's first id."""
        trip_id = self.path_args[0].lower() if self.path_args and self.request.path.startswith("/api/trips/") else None
        return Request(
            self.origin, command, trip_id=trip_id if is_object_id(trip_id) else None, meta=self._client_meta()
        )

    async def _record_security_event(self, command: str, refusal: CommandRefused) -> None:
        try:
            await self.edge.security.record(self.origin, command, refusal, self._client_meta())
        except Exception:
            log.warning("could not record a refused %s", command)

    def _client_meta(self) -> dict[str, Any]:
        """Who asked, for the audit view only (never broadcast)."""
        request = self.request
        return {
            "ip": request.remote_ip or "",
            "userAgent": request.headers.get("User-Agent", "")[:256],
            "method": request.method,
            "path": request.path[:256],
        }


def log_time(text: str) -> str:
    """An ISO 8601 instant as the log writes ``at`` (UTC, milliseconds, ``Z``), so
    that comparing the strings compares the instants."""
    moment = parse_iso(text)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
