"""Signed payloads: ``<payload>.<signature>``, both base64url, the payload a JSON list of
fields and the signature an HMAC-SHA256 under a key derived from a secret every node shares
and a label naming what is signed (a ticket cannot pass for an invite).  WebSocket tickets
(``service.signin``) and invite links (``service.invites``) are made and opened here."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

import orjson


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


class SignedPayload:
    def __init__(self, secret: bytes, label: bytes) -> None:
        self._key = hmac.new(secret, label, hashlib.sha256).digest()

    def _signature(self, payload: str) -> str:
        return _b64(hmac.new(self._key, payload.encode(), hashlib.sha256).digest())

    def sign(self, fields: list[Any]) -> str:
        payload = _b64(orjson.dumps(fields))
        return f"{payload}.{self._signature(payload)}"

    def open(self, token: str, max_length: int) -> list[Any] | None:
        """The fields ``token`` signs; None unless it is one of ours (and at most ``max_length``)."""
        if len(token) > max_length or not token.isascii() or token.count(".") != 1:
            return None
        payload, signature = token.split(".")
        if not hmac.compare_digest(signature, self._signature(payload)):
            return None
        try:
            fields = orjson.loads(base64.urlsafe_b64decode(payload + "=="))
        except ValueError:  # signed by us, so never expected: refused all the same
            return None
        return fields if isinstance(fields, list) else None
