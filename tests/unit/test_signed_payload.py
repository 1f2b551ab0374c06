"""``service.signed.SignedPayload``: what one secret and label sign opens to the same fields;
anything else (another secret or label, a changed payload or signature, too long, not
ASCII, not two parts) opens to None."""

from __future__ import annotations

import base64

import pytest

from service.signed import SignedPayload

FIELDS = ["650000000000000000000001", "user", None, 1_900_000_000, "é"]


def test_a_signed_payload_opens_to_its_fields() -> None:
    signed = SignedPayload(b"shared", b"label")
    token = signed.sign(FIELDS)
    assert token.isascii() and token.count(".") == 1
    assert SignedPayload(b"shared", b"label").open(token, 512) == FIELDS  # another node, same secret


def test_another_secret_or_label_opens_nothing() -> None:
    token = SignedPayload(b"shared", b"invite").sign(FIELDS)
    assert SignedPayload(b"other", b"invite").open(token, 512) is None
    assert SignedPayload(b"shared", b"ticket").open(token, 512) is None  # a ticket is not an invite


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def test_a_changed_payload_or_signature_opens_nothing() -> None:
    signed = SignedPayload(b"shared", b"label")
    payload, signature = signed.sign(FIELDS).split(".")
    other_payload = _b64(b'["someone else"]')
    assert signed.open(f"{other_payload}.{signature}", 512) is None
    assert signed.open(f"{payload}.{signature[:-2]}AA", 512) is None


@pytest.mark.parametrize("token", ["", "nodot", "a.b.c", "é.x", "x" * 600 + ".y"])
def test_what_is_not_a_token_opens_nothing(token: str) -> None:
    assert SignedPayload(b"shared", b"label").open(token, 512) is None


def test_a_token_longer_than_allowed_opens_nothing() -> None:
    signed = SignedPayload(b"shared", b"label")
    token = signed.sign(FIELDS)
    assert signed.open(token, len(token)) == FIELDS
    assert signed.open(token, len(token) - 1) is None
