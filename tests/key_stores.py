"""A key store that hands every call to a real one: tests override the calls they watch."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from eventlog.key_port import DataKey, KeyStore


class PassingKeyStore:
    def __init__(self, store: KeyStore) -> None:
        self._store = store

    def key_for(self, subject: str) -> DataKey:
        return self._store.key_for(subject)

    def newest(self, subject: str) -> DataKey | None:
        return self._store.newest(subject)

    def create(self, subject: str, count: int) -> list[DataKey]:
        return self._store.create(subject, count)

    def add(self, keys: Sequence[DataKey]) -> None:
        self._store.add(keys)

    def find(self, key_ids: Collection[str]) -> dict[str, DataKey]:
        return self._store.find(key_ids)

    def destroy(self, subject: str) -> list[str]:
        return self._store.destroy(subject)

    def destroy_key(self, key_id: str) -> bool:
        return self._store.destroy_key(key_id)

    def destroy_older_than(self, subject_prefix: str, before: str) -> list[str]:
        return self._store.destroy_older_than(subject_prefix, before)

    def close(self) -> None:
        self._store.close()
