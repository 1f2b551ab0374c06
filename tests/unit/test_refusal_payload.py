"""``bounded_payload``: what a refusal record keeps of the payload it refuses."""

from __future__ import annotations

import hashlib
import json

import orjson

from service.refusal_payload import bounded_payload


def test_a_payload_within_the_limit_is_kept_as_it_is() -> None:
    payload = {"tripId": "a" * 24, "message": "hello", "n": [1, 2.5, None, True]}
    assert bounded_payload(payload, limit=100) is payload
    assert bounded_payload(None) is None
    assert bounded_payload("short", limit=100) == "short"


def test_a_payload_over_the_limit_becomes_its_size_and_digest() -> None:
    payload = {"value": "v" * 5_000}
    encoded = orjson.dumps(payload)
    assert bounded_payload(payload, limit=100) == {
        "omittedBytes": len(encoded),
        "sha256": hashlib.sha256(encoded).hexdigest(),
    }


def test_a_payload_orjson_cannot_encode_is_sized_by_the_standard_encoder() -> None:
    payload = {"big": 2**70, "pad": "x" * 200}
    encoded = json.dumps(payload, separators=(",", ":")).encode()
    assert bounded_payload(payload, limit=100) == {
        "omittedBytes": len(encoded),
        "sha256": hashlib.sha256(encoded).hexdigest(),
    }
