"""Signed checkpoints: what anchors the hash chains against someone who can
write the store.

The chains (``eventlog/chain.py``) are unkeyed: whoever can rewrite a record can
recompute its hash and every hash after it, and the rewritten log verifies.  A
checkpoint closes that: a node folds the log, in position order, into an
*accumulator*::

    A(0) = ""      A(p) = SHA-256(A(previous) | position | link hash of the record at p)

and every ``interval`` (and at shutdown) appends a ``checkpoint`` record holding
``position`` P, ``accumulator`` A(P), how many records it covers, and an
HMAC-SHA256 of those under a key that is never in the store (``CHECKPOINT_KEY``).
The accumulator commits to every record's hash, hence to every chain's head, up
to P.  Rewriting anything at or before P changes A(P); without the key no one
can sign the new value.  ``python app.py verify --key`` (or ``--checkpoints``
with checkpoints exported earlier, ``export --type checkpoint``) recomputes
A(P) for every checkpoint and says which one the log no longer matches.

What a checkpoint cannot show: records after the newest checkpoint (covered by
the next), and the deletion of the newest checkpoints themselves unless they
were exported (``--checkpoints``).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

import orjson

from eventlog.chain import link_hash
from eventlog.records import LogRecord

COMMAND = "checkpoint"
SOURCE = "system"


def fold(accumulator: str, record: LogRecord) -> str:
    """The accumulator after ``record`` (records are folded in position order)."""
    step = f"{accumulator}|{record.position}|{link_hash(record)}".encode()
    return hashlib.sha256(step).hexdigest()


def key_id(key: str) -> str:
    """Names the key a checkpoint was signed with (not the key: a hash of it)."""
    return hashlib.sha256(b"travelsense-checkpoint-key|" + key.encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Checkpoint:
    position: int  # the last position covered
    accumulator: str
    records: int  # how many records the accumulator folded
    node: str
    at: str
    key_id: str
    mac: str

    def signed_part(self) -> bytes:
        return orjson.dumps(
            {
                "position": self.position,
                "accumulator": self.accumulator,
                "records": self.records,
                "node": self.node,
                "at": self.at,
                "keyId": self.key_id,
            },
            option=orjson.OPT_SORT_KEYS,
        )

    def signed_with(self, key: str) -> bool:
        expected = hmac.new(key.encode(), self.signed_part(), hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, self.mac)

    def to_json(self) -> dict[str, Any]:
        return {
            "position": self.position,
            "accumulator": self.accumulator,
            "records": self.records,
            "node": self.node,
            "at": self.at,
            "keyId": self.key_id,
            "mac": self.mac,
        }


def sign(key: str, *, position: int, accumulator: str, records: int, node: str, at: str) -> Checkpoint:
    unsigned = Checkpoint(position, accumulator, records, node, at, key_id(key), "")
    mac = hmac.new(key.encode(), unsigned.signed_part(), hashlib.sha256).hexdigest()
    return Checkpoint(position, accumulator, records, node, at, unsigned.key_id, mac)


def from_json(document: Any) -> Checkpoint | None:
    """A checkpoint from its JSON (a record's payload, or an exported record whose payload it is)."""
    if isinstance(document, dict) and isinstance(document.get("payload"), dict):
        document = document["payload"]
    if not isinstance(document, dict):
        return None
    try:
        return Checkpoint(
            position=int(document["position"]),
            accumulator=str(document["accumulator"]),
            records=int(document["records"]),
            node=str(document["node"]),
            at=str(document["at"]),
            key_id=str(document["keyId"]),
            mac=str(document["mac"]),
        )
    except (KeyError, TypeError, ValueError):
        return None


def is_checkpoint(record: LogRecord) -> bool:
    return record.command == COMMAND and record.source == SOURCE
