"""A bounded map of what was put or read lately, in constant time per call (a plain data
structure: no clock, no I/O), for the caches of every layer (``eventlog/key_cache.py``,
``eventlog/sealing.py``, ``service/auth.py``)."""

from __future__ import annotations

from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class Recent(Generic[K, V]):
    """Two generations of at most half the capacity each; when the young one is full, the
    old one is dropped whole and the young one becomes old, and what is read from the old
    one is put young again.

    Constant time per call.  A plain dict used as a queue (its first entry deleted past the
    bound) is not: each ``next(iter(d))`` skips every entry deleted before it until the dict
    is rebuilt, ~3 µs per call at 4,096 entries and ~90 µs at 100,000."""

    __slots__ = ("_half", "_old", "_young")

    def __init__(self, capacity: int) -> None:
        self._half = max(1, capacity // 2)
        self._young: dict[K, V] = {}
        self._old: dict[K, V] = {}

    def get(self, key: K) -> V | None:
        value = self._young.get(key)
        if value is None:
            value = self._old.get(key)
            if value is not None:
                self.put(key, value)
        return value

    def put(self, key: K, value: V) -> None:
        young = self._young
        young[key] = value
        if len(young) >= self._half:
            self._old, self._young = young, {}

    def pop(self, key: K) -> None:
        self._young.pop(key, None)
        self._old.pop(key, None)

    def __len__(self) -> int:
        return len(self._young) + len(self._old)
