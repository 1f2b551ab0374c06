"""What a refusal record keeps of the payload it refuses: the payload itself when it is
small, otherwise its size and digest.

A refused command's payload is evidence (what a client sent), not data anyone relies
on: a hostile client may send payloads up to the frame or body limit, over and over, and
each refusal's record is kept forever, hashed into the chain and read back by every
audit and export.  So a large payload is encoded once, here, to learn its size and
digest, and the record keeps those instead.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import orjson

# up to this many bytes of compact JSON a refusal keeps its payload as sent
REFUSAL_PAYLOAD_MAX_BYTES = 2048


def _encoded(payload: Any) -> bytes:
    try:
        return orjson.dumps(payload)
    except (TypeError, orjson.JSONEncodeError):  # integers past 64 bits, say: the standard encoder takes them
        return bytes(json.dumps(payload, separators=(",", ":"), default=str), "utf-8", "backslashreplace")


def bounded_payload(payload: Any, limit: int = REFUSAL_PAYLOAD_MAX_BYTES) -> Any:
    """``payload`` when its compact JSON is at most ``limit`` bytes; otherwise
    ``{"omittedBytes": size, "sha256": hex digest of that JSON}``."""
    if payload is None or isinstance(payload, bool | int | float):
        return payload
    if isinstance(payload, str) and len(payload) * 4 <= limit:  # at most 4 bytes a character
        return payload
    encoded = _encoded(payload)
    if len(encoded) <= limit:
        return payload
    return {"omittedBytes": len(encoded), "sha256": hashlib.sha256(encoded).hexdigest()}
