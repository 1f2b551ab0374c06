"""New ObjectIds: 4 bytes of time, 5 random bytes per process, a 3-byte counter."""

from __future__ import annotations

import itertools
import os
import time


class ObjectIdFactory:
    def __init__(self) -> None:
        self._process = os.urandom(5).hex()
        self._counter = itertools.count(int.from_bytes(os.urandom(3), "big"))

    def __call__(self) -> str:
        count = next(self._counter) & 0xFFFFFF  # itertools.count is atomic under the GIL
        return f"{int(time.time()) & 0xFFFFFFFF:08x}{self._process}{count:06x}"

    def many(self, n: int) -> tuple[str, ...]:
        return tuple(self() for _ in range(n))
