"""``GET /``: the web client's page, with a strict Content-Security-Policy.

The page loads only its own scripts, styles and images and talks only to its own
origin; it may not be framed (clickjacking) and, since its URL may carry a
token, it sends no Referer.
"""

from __future__ import annotations

import tornado.web

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",  # CSP 3: 'self' covers ws:/wss: to the same host
        "manifest-src 'self'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


class IndexHandler(tornado.web.RequestHandler):
    """The web client's page."""

    def initialize(self, path: str) -> None:
        self._path = path

    def set_default_headers(self) -> None:
        self.set_header("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        self.set_header("X-Frame-Options", "DENY")  # for browsers without frame-ancestors
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Referrer-Policy", "no-referrer")

    def get(self) -> None:
        self.set_header("Content-Type", "text/html; charset=utf-8")
        with open(self._path, "rb") as page:
            self.finish(page.read())
