"""Writing server frames to Tornado WebSocket connections, fast.

``WebSocketHandler.write_message`` costs, per frame and per socket: a header
built with ``struct``, a ``Future`` in ``IOStream.write``, a ``Task`` wrapping it,
and one ``send`` system call.  A room broadcast repeats all of it for every
member.  This module does instead:

* frame once: the same payload bytes going to many sockets get their WebSocket
  header once per loop iteration (``FrameWriter.frame``), and the very same
  ``bytes`` object is handed to every socket;
* coalesce: frames queued for one socket during one loop iteration are written
  together, with one ``send``, when the iteration ends (``loop.call_soon``);
* no futures on the fast path: when Tornado has nothing buffered for the socket,
  the bytes go straight to ``IOStream.socket.send``; only what the kernel does not
  take at once is handed to ``IOStream.write`` (one future per such write);
* paced: a flush that took long (a big room) is followed by a pause at least
  as long before the next one (``pace``), so that under load the frames of
  several broadcasts share each ``send`` instead of every broadcast paying one
  system call per member; a cheap flush is followed by none, so a quiet room
  pays no latency for it;
* bounded: frames queued or still in Tornado's buffer count against the
  per-socket limits; over them, the outbox's owner closes the socket (4009).

Tornado API this relies on (6.x), all public except the one marked:

* ``WebSocketHandler.ws_connection`` and ``WebSocketProtocol.is_closing()``;
* ``WebSocketProtocol13.stream`` (the connection's ``IOStream``), and on it
  ``writing()`` (is anything buffered?), ``socket`` and ``write()``;
* ``WebSocketProtocol13._compressor`` (private, read only): set when
  permessage-deflate was negotiated.  Such a connection compresses each frame
  with its own zlib context, so its frames go through ``write_message``
  (Tornado's path, one future per frame) instead of the shared bytes.

Ordering stays what the caller sees: frames leave in ``send`` order, our bytes
are written only when Tornado's own buffer (pings, close frames, earlier
remainders) is empty, and ``close`` flushes what is queued before the close
frame.  Covered by ``tests/unit/test_frame_writer.py``.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Callable
from typing import Any

import tornado.iostream
import tornado.websocket

_TEXT_FIN = 0x81
_SMALL = [bytes((_TEXT_FIN, n)) for n in range(126)]


def text_frame(payload: bytes) -> bytes:
    """An unmasked, final text frame (server to client) carrying ``payload``."""
    size = len(payload)
    if size < 126:
        return _SMALL[size] + payload
    if size <= 0xFFFF:
        return struct.pack("!BBH", _TEXT_FIN, 126, size) + payload
    return struct.pack("!BBQ", _TEXT_FIN, 127, size) + payload


Counted = Callable[[bytes, int], None]


PACE_FROM = 0.001  # a flush shorter than this (seconds) is never followed by a pause
PACE_MAX = 0.025  # nor is any pause longer than this


class FrameWriter:
    """One per application: frames payloads once per loop iteration and writes every
    socket that has frames queued once, at the end of the iteration.

    ``on_written(payload, count)`` is told, after each flush, how many sockets each
    payload was written to, for metrics.

    ``min_interval``: flushes start at least this far apart (0: no floor).
    ``pace``: after a flush that took ``d`` seconds (``d >= PACE_FROM``), the next
    one waits ``min(d * pace, PACE_MAX)``; 0 turns pacing off.
    """

    __slots__ = (
        "_dirty",
        "_frames",
        "_hold_until",
        "_last_data",
        "_last_flush",
        "_last_queue",
        "_last_sockets",
        "_min_interval",
        "_on_written",
        "_pace",
        "_scheduled",
    )

    def __init__(self, on_written: Counted | None = None, min_interval: float = 0.0, pace: float = 2.0) -> None:
        self._min_interval = min_interval
        self._pace = pace
        self._last_flush = 0.0
        self._hold_until = 0.0
        self._dirty: list[SocketOutbox] = []
        self._scheduled = False
        self._frames: dict[int, list[Any]] = {}  # id(payload) -> [payload, framed, sockets]
        self._last_queue: list[bytes] = []  # the previous socket's queue and its bytes
        self._last_data = b""
        self._last_sockets = 0  # how many more sockets took them since
        self._on_written = on_written

    def frame(self, payload: bytes) -> bytes:
        """The framed bytes of ``payload``, shared by every socket in this iteration
        (each call counts one more socket written with it)."""
        found = self._frames.get(id(payload))
        if found is not None and found[0] is payload:
            found[2] += 1
            return found[1]  # type: ignore[no-any-return]
        framed = text_frame(payload)
        self._frames[id(payload)] = [payload, framed, 1]  # holding payload keeps its id unique
        return framed

    def frames(self, queue: list[bytes]) -> bytes:
        """The bytes on the wire for ``queue``: in a room, socket after socket has the
        same payloads queued, so the previous socket's bytes are reused when they are."""
        if queue == self._last_queue:  # compares identities first: cheap when it holds
            self._last_sockets += 1
            return self._last_data
        self._settle_last()
        data = self.frame(queue[0]) if len(queue) == 1 else b"".join([self.frame(p) for p in queue])
        self._last_queue, self._last_data = queue, data
        return data

    def _settle_last(self) -> None:
        """Count the sockets that reused the previous queue's bytes."""
        if self._last_sockets:
            frames = self._frames
            for payload in self._last_queue:
                frames[id(payload)][2] += self._last_sockets
            self._last_sockets = 0

    def count(self, payload: bytes, sockets: int = 1) -> None:
        """Frames that left another way (compressed) are counted here."""
        if self._on_written is not None:
            self._on_written(payload, sockets)

    def _report(self) -> None:
        self._settle_last()
        self._last_queue, self._last_data = [], b""
        frames, self._frames = self._frames, {}
        if self._on_written is not None:
            for payload, _, sockets in frames.values():
                self._on_written(payload, sockets)

    def schedule(self, outbox: SocketOutbox) -> None:
        self._dirty.append(outbox)
        if not self._scheduled:
            self._scheduled = True
            loop = asyncio.get_running_loop()
            wait = max(self._last_flush + self._min_interval, self._hold_until) - loop.time()
            if wait > 0:
                loop.call_later(wait, self.flush)
            else:
                loop.call_soon(self.flush)

    def flush(self) -> None:
        """Write every socket with queued frames (runs once per loop iteration)."""
        self._scheduled = False
        clock = asyncio.get_running_loop().time
        started = self._last_flush = clock()
        dirty, self._dirty = self._dirty, []
        try:
            for outbox in dirty:
                outbox.flush()
        finally:
            self._report()
            if self._pace:
                ended = clock()
                spent = ended - started
                self._hold_until = ended + min(spent * self._pace, PACE_MAX) if spent >= PACE_FROM else 0.0


class SocketOutbox:
    """The frames queued for one WebSocket connection.

    ``send`` queues; the writer flushes at the end of the loop iteration.  Frames in
    the queue plus those handed to Tornado and not yet written count against
    ``max_frames`` / ``max_bytes``; going over calls ``too_slow()``.
    """

    __slots__ = (
        "_handler",
        "_inflight_bytes",
        "_inflight_frames",
        "_max_bytes",
        "_max_frames",
        "_queue",
        "_queued",
        "_queued_bytes",
        "_writer",
    )

    def __init__(
        self, handler: tornado.websocket.WebSocketHandler, writer: FrameWriter, max_frames: int, max_bytes: int
    ) -> None:
        self._handler = handler
        self._writer = writer
        self._max_frames = max_frames
        self._max_bytes = max_bytes
        self._queue: list[bytes] = []
        self._queued = False
        self._queued_bytes = 0
        self._inflight_frames = 0
        self._inflight_bytes = 0

    # owner's hooks -----------------------------------------------------------------

    def too_slow(self) -> None:
        raise NotImplementedError

    # queueing ----------------------------------------------------------------------

    @property
    def pending_frames(self) -> int:
        return len(self._queue) + self._inflight_frames

    @property
    def pending_bytes(self) -> int:
        return self._queued_bytes + self._inflight_bytes

    def send(self, payload: bytes) -> None:
        # The hot path of every broadcast: a closing socket is not checked here but
        # at the flush, which drops what was queued for it.
        queue = self._queue
        size = len(payload)
        if (
            len(queue) + self._inflight_frames >= self._max_frames
            or self._queued_bytes + self._inflight_bytes + size > self._max_bytes
        ):
            self.too_slow()
            return
        queue.append(payload)
        self._queued_bytes += size
        if not self._queued:
            self._queued = True
            self._writer.schedule(self)

    # writing ------------------------------------------------------------------------

    def flush(self) -> None:
        self._queued = False
        queue = self._queue
        if not queue or self._inflight_frames:
            return  # nothing to do, or the write in flight flushes again when done
        conn = self._handler.ws_connection
        self._queue = []
        frames, size = len(queue), self._queued_bytes
        self._queued_bytes = 0
        if conn is None or conn.is_closing():
            return
        if getattr(conn, "_compressor", None) is not None:
            self._write_compressed(conn, queue)
            return
        data: bytes | memoryview = self._writer.frames(queue)
        stream = conn.stream
        if stream is None:
            return
        if not stream.writing():
            try:
                sent = stream.socket.send(data)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError:
                sent = 0  # Tornado's write below meets the same error and closes the stream
            if sent == len(data):
                return
            data = memoryview(data)[sent:]
        self._inflight_frames, self._inflight_bytes = frames, size
        try:
            written = stream.write(data)
        except tornado.iostream.StreamClosedError:
            self._inflight_frames = self._inflight_bytes = 0
            return
        written.add_done_callback(self._written)

    def _written(self, future: asyncio.Future[None]) -> None:
        self._inflight_frames = self._inflight_bytes = 0
        if not future.cancelled():
            future.exception()  # a socket that closed meanwhile: nothing to do
        if self._queue and not self._queued:
            self._queued = True
            self._writer.schedule(self)

    def _write_compressed(self, conn: Any, queue: list[bytes]) -> None:
        for payload in queue:
            size = len(payload)
            try:
                written = conn.write_message(payload)
            except tornado.websocket.WebSocketClosedError:
                return
            self._writer.count(payload)
            self._inflight_frames += 1
            self._inflight_bytes += size
            written.add_done_callback(lambda f, size=size: self._compressed_written(f, size))

    def _compressed_written(self, future: asyncio.Future[None], size: int) -> None:
        self._inflight_frames -= 1
        self._inflight_bytes -= size
        if not future.cancelled():
            future.exception()
        if not self._inflight_frames and self._queue and not self._queued:
            self._queued = True
            self._writer.schedule(self)

    def flush_now(self) -> None:
        """Write what is queued at once (before a close frame)."""
        if self._queue:
            self.flush()
