"""The protocol documents, served from ``docs/``: ``/openapi.json`` and
``/asyncapi.json`` (the YAML files as JSON) and ``/docs``, a page that renders them."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path
from typing import Any

import orjson
import tornado.web
import yaml

from handlers.base import error_body, reason_of

_INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.DOTALL)
NONE = "'none'"


def load_document(path: Path) -> bytes:
    """A YAML document as JSON bytes (read once, when the app is made)."""
    with path.open(encoding="utf-8") as source:
        document = yaml.safe_load(source)
    if not isinstance(document, dict):
        raise ValueError(f"{path} is not a YAML mapping")
    return orjson.dumps(document)


def page_policy(page: bytes) -> str:
    """A Content-Security-Policy that allows the page's own inline scripts and nothing else."""
    hashes = " ".join(
        f"'sha256-{base64.b64encode(hashlib.sha256(body).digest()).decode()}'" for body in _INLINE_SCRIPT.findall(page)
    )
    return (
        f"default-src 'none'; script-src {hashes or NONE}; style-src 'unsafe-inline'; "
        "connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )


class DocumentHandler(tornado.web.RequestHandler):
    """One protocol document as JSON; public, like the contract says."""

    def initialize(self, document: bytes) -> None:
        self._document = document

    def set_default_headers(self) -> None:
        self.set_header("Content-Type", "application/json")
        self.set_header("X-Content-Type-Options", "nosniff")

    def get(self) -> None:
        self.finish(self._document)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        code = "METHOD_NOT_ALLOWED" if status_code == 405 else "INTERNAL" if status_code >= 500 else "BAD_REQUEST"
        if status_code == 405:
            self.set_header("Allow", "GET")
        self.set_header("Content-Type", "application/json")
        message = reason_of(status_code, kwargs.get("exc_info")) if status_code < 500 else "internal error"
        self.finish(orjson.dumps(error_body(code, message)))


class DocsPageHandler(tornado.web.RequestHandler):
    def initialize(self, page: bytes) -> None:
        self._page = page
        self._policy = page_policy(page)

    def get(self) -> None:
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.set_header("Content-Security-Policy", self._policy)
        self.set_header("X-Content-Type-Options", "nosniff")
        self.finish(self._page)
