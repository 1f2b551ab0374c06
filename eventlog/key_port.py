"""The key store port: data keys kept apart from the log, so that destroying one
makes what it sealed in the log unreadable for good (crypto-shredding).

A key belongs to a ``subject``: ``user:<id>`` (a person's key, for what they
wrote and their name), ``net:<day>`` (the day's key for addresses and user
agents, destroyed by age), ``msg`` (one chat message's key, from a pool made in
advance).  A subject may hold several keys (two nodes made one at once, or one
was made after an erasure); destroying the subject destroys them all.

The calls are synchronous: the SQLite adapter reads a local file, the MongoDB
adapter makes one round trip, and ``eventlog/key_cache.py`` sits in front of
both, so the hot paths meet the store only for a key they have not seen, and
the event loop reads those ahead in a thread (``CachedKeyStore.fetch``, bounded
by the store timeout) before opening what needs them.  The cache makes a new
person's key itself and hands it to ``add`` in a writer thread of its own, many
at once (one commit), so that no key is written on the event loop.  A KMS can
take an adapter's place behind the same calls.  Keys are made here (``new_keys``),
by every adapter and by the cache alike.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

KEY_BYTES = 32  # AES-256


@dataclass(frozen=True, slots=True)
class DataKey:
    key_id: str
    subject: str
    material: bytes
    created_at: str  # ISO 8601 UTC


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def new_key(subject: str, created_at: str) -> DataKey:
    return DataKey(secrets.token_urlsafe(12), subject, secrets.token_bytes(KEY_BYTES), created_at)


def new_keys(subject: str, count: int, created_at: str) -> list[DataKey]:
    """``count`` new keys, their ids and material from one draw of the system's random source."""
    size = 12 + KEY_BYTES
    drawn = secrets.token_bytes(size * count)
    return [
        DataKey(
            base64.urlsafe_b64encode(drawn[start : start + 12]).decode("ascii"),
            subject,
            drawn[start + 12 : start + size],
            created_at,
        )
        for start in range(0, size * count, size)
    ]


class KeyStore(Protocol):
    def key_for(self, subject: str) -> DataKey:
        """The subject's newest key, made (durably) if it has none (the adapters subclass
        this port for this one shared body)."""
        found = self.newest(subject)
        return found if found is not None else self.create(subject, 1)[0]

    def newest(self, subject: str) -> DataKey | None:
        """The subject's newest key, None when it has none (nothing is made)."""
        ...

    def create(self, subject: str, count: int) -> list[DataKey]:
        """``count`` new keys of the subject, durable when this returns."""
        ...

    def add(self, keys: Sequence[DataKey]) -> None:
        """Keep ``keys``, made by the caller (of any subjects), all durable when this returns:
        one write for them all.  A key already kept is left as it is."""
        ...

    def find(self, key_ids: Collection[str]) -> dict[str, DataKey]:
        """The keys that still exist among ``key_ids`` (a destroyed key is simply absent)."""
        ...

    def destroy(self, subject: str) -> list[str]:
        """Destroy every key of the subject; returns their ids."""
        ...

    def destroy_key(self, key_id: str) -> bool:
        """Destroy one key; False when there was none."""
        ...

    def destroy_older_than(self, subject_prefix: str, before: str) -> list[str]:
        """Destroy the keys whose subject starts with ``subject_prefix`` made before ``before`` (ISO 8601)."""
        ...

    def close(self) -> None: ...
