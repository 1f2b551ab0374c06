"""Keep-alive pings for every WebSocket of an application from one timer.

Tornado's own pinging (``websocket_ping_interval``) runs a task per connection
(``WebSocketProtocol13.periodic_ping``): a ``Task`` and a suspended coroutine,
about 1.5 KB held for the connection's whole life.  ``Pinger`` keeps one heap of
due times for all sockets and one timer for the earliest, with the same
behaviour: the first ping ``interval`` after opening; if ``timeout`` > 0 and no
pong came within ``timeout`` of a ping, ``close(None, "ping timed out")`` (what
Tornado calls); the next ping at ``max(now, last ping + interval)``.  One
difference: Tornado reads a connection's frames, its pongs included, only once
the frame before has been let go (``on_message``'s future), so a connection
whose own frame this node is still handling (``reading_paused``: a join waiting
behind ten thousand others) is not timed out; it is checked again ``timeout``
later, and timed out only once its frames are read again and still no pong came.

Tornado's own pinging is off (``handlers.upgrade`` opens sockets with no ping interval) and
each socket calls ``add`` when it opens and ``pong`` from ``on_pong``.  Entries
hold weak references, so a closed socket is not kept alive until its next due
time.  The targets are ``handlers.websocket.RealtimeSocket`` (``PingTarget``).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import weakref
from typing import Protocol

_PING, _CHECK = 0, 1


class PingTarget(Protocol):
    awaiting_pong: bool
    ping_sent_at: float

    def ping_open(self) -> bool: ...

    def reading_paused(self) -> bool:
        """Whether the connection's next frames (a pong among them) wait for this node to
        finish with a frame of its own: unread, not unanswered."""
        ...

    def send_ping(self) -> None: ...

    def ping_timed_out(self) -> None: ...


class Pinger:
    def __init__(self, interval: float, timeout: float) -> None:
        self._interval = interval
        self._timeout = timeout
        self._heap: list[tuple[float, int, int, weakref.ref[PingTarget]]] = []
        self._order = itertools.count()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = float("inf")

    @property
    def enabled(self) -> bool:
        return self._interval > 0

    def __len__(self) -> int:
        return len(self._heap)

    def add(self, target: PingTarget) -> None:
        if not self.enabled:
            return
        target.awaiting_pong = False
        loop = asyncio.get_running_loop()
        self._push(loop, loop.time() + self._interval, _PING, target)

    @staticmethod
    def pong(target: PingTarget) -> None:
        target.awaiting_pong = False

    def _push(self, loop: asyncio.AbstractEventLoop, due: float, kind: int, target: PingTarget) -> None:
        heapq.heappush(self._heap, (due, next(self._order), kind, weakref.ref(target)))
        if due < self._timer_at:
            if self._timer is not None:
                self._timer.cancel()
            self._timer_at = due
            self._timer = loop.call_at(due, self._run)

    def _run(self) -> None:
        self._timer, self._timer_at = None, float("inf")
        loop = asyncio.get_running_loop()
        now = loop.time()
        heap = self._heap
        while heap and heap[0][0] <= now:
            _, _, kind, ref = heapq.heappop(heap)
            target = ref()
            if target is None or not target.ping_open():
                continue
            if kind == _PING:
                target.awaiting_pong = True
                target.ping_sent_at = now
                target.send_ping()
                if self._timeout > 0:
                    self._push(loop, now + self._timeout, _CHECK, target)
                else:
                    self._push(loop, now + self._interval, _PING, target)
            elif target.awaiting_pong and target.reading_paused():
                self._push(loop, now + self._timeout, _CHECK, target)  # its pong may be waiting unread
            elif target.awaiting_pong:
                target.ping_timed_out()
            else:
                self._push(loop, max(now, target.ping_sent_at + self._interval), _PING, target)
        if heap and heap[0][0] < self._timer_at:  # pushes above armed for their own due time only
            if self._timer is not None:
                self._timer.cancel()
            self._timer_at = heap[0][0]
            self._timer = loop.call_at(self._timer_at, self._run)
