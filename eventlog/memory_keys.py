"""The key store in memory: for service-layer tests on in-memory adapters (held to the
same contract as the SQLite and MongoDB adapters, ``tests/contract/test_key_store.py``).
Nothing is durable: never for a deployment."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from eventlog.key_port import DataKey, KeyStore, new_keys, now_iso


class MemoryKeyStore(KeyStore):
    def __init__(self) -> None:
        self._keys: dict[str, DataKey] = {}

    def newest(self, subject: str) -> DataKey | None:
        held = [k for k in self._keys.values() if k.subject == subject]
        return max(held, key=lambda k: k.created_at) if held else None

    def create(self, subject: str, count: int) -> list[DataKey]:
        made = new_keys(subject, count, now_iso())
        self.add(made)
        return made

    def add(self, keys: Sequence[DataKey]) -> None:
        for key in keys:
            self._keys.setdefault(key.key_id, key)

    def find(self, key_ids: Collection[str]) -> dict[str, DataKey]:
        return {key_id: self._keys[key_id] for key_id in key_ids if key_id in self._keys}

    def _delete(self, ids: list[str]) -> list[str]:
        for key_id in ids:
            del self._keys[key_id]
        return ids

    def destroy(self, subject: str) -> list[str]:
        return self._delete([k.key_id for k in self._keys.values() if k.subject == subject])

    def destroy_key(self, key_id: str) -> bool:
        return bool(self._delete([key_id] if key_id in self._keys else []))

    def destroy_older_than(self, subject_prefix: str, before: str) -> list[str]:
        return self._delete(
            [k.key_id for k in self._keys.values() if k.subject.startswith(subject_prefix) and k.created_at < before]
        )

    def close(self) -> None:
        return None
