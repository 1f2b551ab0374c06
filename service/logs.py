"""Structured logs: one JSON object per line, with the session and correlation ids.

The code logs through the standard ``logging`` module; ``configure`` renders
every record (Tornado's too) as JSON with structlog's ``ProcessorFormatter``.
``bind`` sets the ids for the current task (a WebSocket frame, a REST request),
and every line logged from that task carries them.  Tokens and query strings
never reach the output: they are scrubbed from every string field.
"""

from __future__ import annotations

import itertools
import logging
import re
import secrets
import sys
from collections.abc import MutableMapping
from contextvars import ContextVar
from typing import Any, TextIO

import orjson
import structlog

_session_id: ContextVar[str | None] = ContextVar("session_id", default=None)
_correlation_id: ContextVar[str | None] = ContextVar("correlation_id", default=None)

_JWT = re.compile(r"eyJ[\w-]*\.[\w-]+\.[\w-]*")
_BEARER = re.compile(r"(?i)\b(bearer)\s+\S+")
_QUERY = re.compile(r"(/[^\s?\"']*)\?[^\s\"']*")
_SECRET_PARAM = re.compile(r"(?i)\b(token|access_token|jwt|secret|password)=[^&\s\"']+")
_REQUEST_ID = re.compile(r"^[\w.:-]{1,64}$")


class _CorrelationIds:
    """16 hex digits: a random prefix per process and a counter.  A correlation id
    must be unique, not secret, and one is made per frame: a system call for
    random bytes each time cost more than handling a small frame."""

    def __init__(self) -> None:
        self._prefix = ""
        self._next = itertools.count(1)

    def __call__(self) -> str:
        if not self._prefix:
            self._prefix = secrets.token_hex(3)
        return f"{self._prefix}{next(self._next) & 0xFFFFFFFFFF:010x}"


new_correlation_id = _CorrelationIds()


def bind(*, session_id: str | None = None, correlation_id: str | None = None) -> None:
    """Set the ids logged with every line of the current task (and tasks it starts)."""
    if session_id is not None:
        _session_id.set(session_id)
    _correlation_id.set(correlation_id or new_correlation_id())


def correlation_id() -> str | None:
    return _correlation_id.get()


def request_id(header: str | None) -> str:
    """A caller's ``X-Request-ID`` when it is a plain short id, else a fresh one."""
    return header if header is not None and _REQUEST_ID.match(header) else new_correlation_id()


def scrub(text: str) -> str:
    """Drop tokens, bearer credentials and query strings from a log line."""
    text = _JWT.sub("[token]", text)
    text = _BEARER.sub(r"\1 [redacted]", text)
    text = _SECRET_PARAM.sub(r"\1=[redacted]", text)
    return _QUERY.sub(r"\1", text)


def _add_context(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    session = _session_id.get()
    if session is not None:
        event.setdefault("session_id", session)
    correlation = _correlation_id.get()
    if correlation is not None:
        event.setdefault("correlation_id", correlation)
    return event


def _scrub_all(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key, value in event.items():
        if isinstance(value, str):
            event[key] = scrub(value)
    return event


def _dumps(value: Any, **_: Any) -> str:
    return orjson.dumps(value, default=str).decode()


def formatter() -> logging.Formatter:
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[
            structlog.stdlib.ExtraAdder(),
            structlog.stdlib.add_logger_name,
            structlog.stdlib.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True, key="timestamp"),
        ],
        processors=[
            _add_context,
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            structlog.processors.EventRenamer("message"),
            _scrub_all,
            structlog.processors.JSONRenderer(serializer=_dumps),
        ],
    )


def configure(level: str = "INFO", stream: TextIO | None = None) -> None:
    """Send every log record to ``stream`` (stderr) as one JSON line."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
