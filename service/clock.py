"""Time, read in one place so the core never calls the clock itself."""

from __future__ import annotations

import datetime as dt
import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> dt.datetime: ...

    def monotonic(self) -> float: ...


class SystemClock:
    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)

    def monotonic(self) -> float:
        return time.monotonic()


# the last whole second formatted, and its text (the far past at first: formatted on the first call)
_last_second: tuple[dt.datetime, str] = (dt.datetime.min.replace(tzinfo=dt.UTC), "")
_SECOND = dt.timedelta(seconds=1)
_NONE = dt.timedelta(0)
_MILLIS = tuple(f"{ms:03d}Z" for ms in range(1000))


def iso(moment: dt.datetime) -> str:
    """ISO 8601 UTC with milliseconds and a ``Z``, as everywhere on the wire."""
    global _last_second
    if moment.tzinfo is not dt.UTC:
        moment = moment.astimezone(dt.UTC)
    cached, text = _last_second  # one tuple, replaced whole: safe from any thread
    # strftime once per second, not once per record; within the cached second is one subtraction
    # (a tenth of what ``moment.replace(microsecond=0)`` costs, made only for a new second)
    if not _NONE <= moment - cached < _SECOND:
        cached = moment.replace(microsecond=0)
        text = cached.strftime("%Y-%m-%dT%H:%M:%S.")
        _last_second = (cached, text)
    return text + _MILLIS[moment.microsecond // 1000]


def iso_from_epoch(seconds: float) -> str:
    return iso(dt.datetime.fromtimestamp(seconds, dt.UTC))


def parse_iso(text: str) -> dt.datetime:
    moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)
