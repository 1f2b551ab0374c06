"""An immutable map whose changed copies share what did not change.

A trip keeps, per item, its recent changes, its field marks and where each
activity is; ``evolve`` makes a new trip per change.  Copying a whole dict per
change made one edit cost in proportion to the trip; a ``SharedMap`` is split
into buckets by the key's hash, so a changed copy copies the bucket table and
the one bucket the key is in (about ``len / BUCKETS`` entries), and shares the
other buckets with the map it came from.  Buckets are never changed once made.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any, TypeVar, overload

K = TypeVar("K")
V = TypeVar("V")
T = TypeVar("T")

BUCKETS = 64  # a power of two: a key's bucket is ``hash(key) & (BUCKETS - 1)``
_MASK = BUCKETS - 1
_EMPTY: dict[Any, Any] = {}  # the bucket every empty slot shares (never written)


class SharedMap(Mapping[K, V]):
    """``volume`` is the sum of ``len(value)`` over the values (kept as the map changes,
    for maps of collections: how many entries the map holds in all)."""

    __slots__ = ("_buckets", "_len", "_volume")

    _buckets: tuple[dict[K, V], ...]
    _len: int
    _volume: int

    def __init__(self, items: Mapping[K, V] | Iterable[tuple[K, V]] = ()) -> None:
        buckets: list[dict[K, V]] = [_EMPTY] * BUCKETS
        pairs = items.items() if isinstance(items, Mapping) else items
        for key, value in pairs:
            slot = hash(key) & _MASK
            if buckets[slot] is _EMPTY:
                buckets[slot] = {}
            buckets[slot][key] = value
        self._buckets = tuple(buckets)
        self._len = sum(len(bucket) for bucket in buckets)
        self._volume = sum(_size(value) for bucket in buckets for value in bucket.values())

    @classmethod
    def _made(cls, buckets: tuple[dict[K, V], ...], length: int, volume: int) -> SharedMap[K, V]:
        made: SharedMap[K, V] = cls.__new__(cls)
        made._buckets, made._len, made._volume = buckets, length, volume
        return made

    def __getitem__(self, key: K) -> V:
        return self._buckets[hash(key) & _MASK][key]

    @overload
    def get(self, key: K, /) -> V | None: ...
    @overload
    def get(self, key: K, /, default: V | T) -> V | T: ...
    def get(self, key: K, /, default: object = None) -> object:
        return self._buckets[hash(key) & _MASK].get(key, default)

    def __contains__(self, key: object) -> bool:
        return key in self._buckets[hash(key) & _MASK]

    def __iter__(self) -> Iterator[K]:
        for bucket in self._buckets:
            yield from bucket

    def __len__(self) -> int:
        return self._len

    def __repr__(self) -> str:
        return f"SharedMap({dict(self.items())!r})"

    @property
    def volume(self) -> int:
        return self._volume

    def set(self, key: K, value: V) -> SharedMap[K, V]:
        """A copy with ``key`` set to ``value``."""
        slot = hash(key) & _MASK
        old = self._buckets[slot]
        length, volume = self._len, self._volume + _size(value)
        if key in old:
            volume -= _size(old[key])
        else:
            length += 1
        bucket = dict(old)
        bucket[key] = value
        return self._made((*self._buckets[:slot], bucket, *self._buckets[slot + 1 :]), length, volume)

    def without(self, key: K) -> SharedMap[K, V]:
        """A copy without ``key`` (this map when it has none)."""
        slot = hash(key) & _MASK
        old = self._buckets[slot]
        if key not in old:
            return self
        bucket = dict(old)
        gone = bucket.pop(key)
        rest = bucket if bucket else _EMPTY
        return self._made(
            (*self._buckets[:slot], rest, *self._buckets[slot + 1 :]), self._len - 1, self._volume - _size(gone)
        )


def _size(value: object) -> int:
    return len(value) if isinstance(value, tuple | Mapping | str) else 1
