"""Progress of a long pass over the log: a redrawn bar on a terminal, plain lines otherwise.

On a terminal: ``replay [########------------]  41.2%  412,000/1,000,000 records  85,310/s  ETA 0:07``,
redrawn at most ten times a second.  Anywhere else (a pipe, a CI log): one plain
line every few seconds and one at the end, nothing redrawn.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

BAR_WIDTH = 24
REDRAW_SECONDS = 0.1
LINE_SECONDS = 5.0


def _duration(seconds: float) -> str:
    seconds = int(seconds + 0.5)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


class Progress:
    """Call with how many records were just done; ``total`` (may be None) is how many there are."""

    def __init__(
        self,
        label: str,
        total: int | None,
        *,
        out: TextIO | None = None,
        tty: bool | None = None,
        unit: str = "records",
    ) -> None:
        self.label = label
        self.total = total or None
        self.unit = unit
        self.done = 0
        self._out = out if out is not None else sys.stderr
        self._tty = self._out.isatty() if tty is None else tty
        self._started = time.monotonic()
        self._shown = 0.0
        self._closed = False

    def __call__(self, count: int) -> None:
        self.done += count
        now = time.monotonic()
        if now - self._shown >= (REDRAW_SECONDS if self._tty else LINE_SECONDS):
            self._shown = now
            self._show(now)

    @property
    def rate(self) -> float:
        elapsed = time.monotonic() - self._started
        return self.done / elapsed if elapsed > 0 else 0.0

    def _text(self, now: float, final: bool) -> str:
        elapsed = now - self._started
        rate = self.done / elapsed if elapsed > 0 else 0.0
        parts = [self.label]
        if self.total:
            fraction = min(1.0, self.done / self.total)
            if self._tty:
                filled = int(fraction * BAR_WIDTH)
                parts.append(f"[{'#' * filled}{'-' * (BAR_WIDTH - filled)}]")
            parts.append(f"{fraction * 100:5.1f}%")
            parts.append(f"{self.done:,}/{self.total:,} {self.unit}")
        else:
            parts.append(f"{self.done:,} {self.unit}")
        parts.append(f"{rate:,.0f}/s")
        if final:
            parts.append(f"in {_duration(elapsed)}")
        elif self.total and rate > 0:
            parts.append(f"ETA {_duration(max(0, self.total - self.done) / rate)}")
        return "  ".join(parts)

    def _show(self, now: float, final: bool = False) -> None:
        text = self._text(now, final)
        if self._tty:
            self._out.write(f"\r\x1b[2K{text}" + ("\n" if final else ""))
        else:
            self._out.write(text + "\n")
        self._out.flush()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._show(time.monotonic(), final=True)


class Phases:
    """One progress display per phase of a command; starting a phase ends the one before."""

    def __init__(self, *, out: TextIO | None = None, tty: bool | None = None) -> None:
        self._out = out
        self._tty = tty
        self.current: Progress | None = None

    def __call__(self, label: str, total: int | None, unit: str = "records") -> Progress:
        self.close()
        self.current = Progress(label, total, out=self._out, tty=self._tty, unit=unit)
        return self.current

    def close(self) -> None:
        if self.current is not None:
            self.current.close()
            self.current = None
