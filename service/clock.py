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


_last_second: tuple[dt.datetime | None, str] = (None, "")  # the last whole second formatted, and its text


def iso(moment: dt.datetime) -> str:
    """ISO 8601 UTC with milliseconds and a ``Z``, as everywhere on the wire."""
    global _last_second
    if moment.tzinfo is not dt.UTC:
        moment = moment.astimezone(dt.UTC)
    second = moment.replace(microsecond=0)
    cached, text = _last_second  # one tuple, replaced whole: safe from any thread
    if second != cached:  # strftime once per second, not once per record
        text = second.strftime("%Y-%m-%dT%H:%M:%S.")
        _last_second = (second, text)
    return f"{text}{moment.microsecond // 1000:03d}Z"


def iso_from_epoch(seconds: float) -> str:
    return iso(dt.datetime.fromtimestamp(seconds, dt.UTC))


def parse_iso(text: str) -> dt.datetime:
    moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)
