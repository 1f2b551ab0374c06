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

Compression (permessage-deflate, RFC 7692; every browser offers it, see ``Deflate``;
negotiated by ``handlers.upgrade``):

* ``"shared"`` (the default): the server answers every offer with
  ``server_no_context_takeover; client_no_context_takeover`` (RFC 7692 lets a
  server add both to any offer).  No message then depends on an earlier one, so a
  connection keeps no zlib state at all, a payload of at least ``min_bytes`` is
  deflated once per flush for every such socket (the same bytes, RSV1 set), and a
  smaller one goes out as a plain frame (a sender may compress message by message);
* ``"per-connection"``: Tornado's own: a zlib context per connection with context
  takeover (100-200 KB each), every frame compressed once per socket (``write_message``);
* ``"off"``: permessage-deflate is never negotiated.

Tornado API this relies on (6.x; ``requirements.txt`` pins it), public except
where marked; ``tests/unit/test_frame_writer.py`` and ``tests/unit/test_deflate.py``
fail loudly if it changes:

* ``WebSocketProtocol13.is_closing()``, ``write_message()`` and ``stream`` (the
  connection's ``IOStream``), and on it ``writing()`` (is anything buffered?),
  ``socket`` and ``write()``;
* ``WebSocketProtocol13._compressor`` (private, read only): set when
  permessage-deflate was negotiated (``FrameWriter.lane_for``).

Ordering stays what the caller sees: frames leave in ``send`` order, our bytes
are written only when Tornado's own buffer (pings, close frames, earlier
remainders) is empty, and ``close`` flushes what is queued before the close
frame.  Covered by ``tests/unit/test_frame_writer.py``.
"""

from __future__ import annotations

import asyncio
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import tornado.iostream
import tornado.websocket

_TEXT_FIN = 0x81
_TEXT_FIN_RSV1 = 0xC1  # a compressed message (permessage-deflate)
_SMALL = [bytes((_TEXT_FIN, n)) for n in range(126)]
_SYNC_TAIL = b"\x00\x00\xff\xff"  # ends every flushed deflate block; RFC 7692 drops it from the wire


def _header(first: int, size: int) -> bytes:
    if size < 126:
        return bytes((first, size))
    if size <= 0xFFFF:
        return struct.pack("!BBH", first, 126, size)
    return struct.pack("!BBQ", first, 127, size)


def text_frame(payload: bytes) -> bytes:
    """An unmasked, final text frame (server to client) carrying ``payload``."""
    size = len(payload)
    if size < 126:
        return _SMALL[size] + payload
    return _header(_TEXT_FIN, size) + payload


DEFLATE_MODES = ("shared", "per-connection", "off")


@dataclass(frozen=True, slots=True)
class Deflate:
    """How permessage-deflate is offered and used (see the module's docstring).

    ``min_bytes``: in ``"shared"`` mode, smaller payloads go uncompressed.  ``level``
    and ``window_bits``: the one shared compressor's (level 1 compresses a 7 KB join
    snapshot ~2x faster than 6, to 10% more bytes; the window costs no memory per
    connection, only once)."""

    mode: str = "shared"
    min_bytes: int = 1024
    level: int = 1
    window_bits: int = 15
    mem_level: int = 8

    def __post_init__(self) -> None:
        if self.mode not in DEFLATE_MODES:
            raise ValueError(f"deflate mode must be one of {', '.join(DEFLATE_MODES)}, not {self.mode!r}")
        if not 9 <= self.window_bits <= 15:  # zlib's raw deflate does not do 8
            raise ValueError("deflate window bits must be 9..15")


REUSED_FRAMES = 32  # the last distinct payloads whose deflated frames are kept for equal ones
REUSED_MAX_BYTES = 64 * 1024  # larger payloads are not kept (so at most ~4 MiB held in all)


class SharedDeflater:
    """Deflates one payload at a time with no reference to any earlier one (a full
    flush resets the window), so the bytes suit every no-context-takeover socket,
    and one zlib context serves the whole process.

    A payload equal to one of the last few deflated reuses its frame: in a reconnect
    storm every joiner of a big room gets the same join answer, byte for byte, each
    its own object (so ``Lane``'s per-flush sharing by identity misses it), and
    hashing a 10 KB answer costs ~2 µs where deflating it costs ~17.  What is kept
    is frames already sent, holding what the node's rosters and trip cache hold
    anyway; once a person is erased their data encodes masked, so a kept frame with
    it never matches again and leaves as newer ones come."""

    __slots__ = ("_min_bytes", "_recent", "_zlib")

    def __init__(self, deflate: Deflate) -> None:
        self._min_bytes = deflate.min_bytes
        self._zlib = zlib.compressobj(deflate.level, zlib.DEFLATED, -deflate.window_bits, deflate.mem_level)
        self._recent: dict[bytes, bytes] = {}  # payload -> its frame, oldest first

    def __call__(self, payload: bytes) -> bytes:
        """The frame for ``payload``: compressed (RSV1) when that is worth it."""
        if len(payload) < self._min_bytes:
            return text_frame(payload)
        keepable = len(payload) <= REUSED_MAX_BYTES
        if keepable:
            framed = self._recent.get(payload)
            if framed is not None:
                return framed
        z = self._zlib
        body = z.compress(payload) + z.flush(zlib.Z_FULL_FLUSH)
        size = len(body) - len(_SYNC_TAIL)
        if size >= len(payload):
            return text_frame(payload)  # incompressible: a plain frame is shorter
        framed = _header(_TEXT_FIN_RSV1, size) + body[:size]
        if keepable:
            recent = self._recent
            if len(recent) >= REUSED_FRAMES:
                del recent[next(iter(recent))]
            recent[payload] = framed
        return framed


Counted = Callable[[bytes, int], None]


class Lane:
    """Sockets that take the very same bytes for a payload: plain frames, or frames
    deflated once for every no-context-takeover socket.  Within one flush each
    payload is framed once, and a socket with the same queue as the previous one
    reuses its bytes."""

    __slots__ = ("_encode", "_framed", "_last_data", "_last_queue", "_last_sockets")

    def __init__(self, encode: Callable[[bytes], bytes]) -> None:
        self._encode = encode
        self._framed: dict[int, list[Any]] = {}  # id(payload) -> [payload, framed, sockets]
        self._last_queue: list[bytes] = []  # the previous socket's queue and its bytes
        self._last_data = b""
        self._last_sockets = 0  # how many more sockets took them since

    def frame(self, payload: bytes) -> bytes:
        """The framed bytes of ``payload``, shared by every socket in this flush
        (each call counts one more socket written with it)."""
        found = self._framed.get(id(payload))
        if found is not None and found[0] is payload:
            found[2] += 1
            return found[1]  # type: ignore[no-any-return]
        framed = self._encode(payload)
        self._framed[id(payload)] = [payload, framed, 1]  # holding payload keeps its id unique
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
            framed = self._framed
            for payload in self._last_queue:
                framed[id(payload)][2] += self._last_sockets
            self._last_sockets = 0

    def take_counts(self) -> list[tuple[bytes, int]]:
        """(payload, sockets) written since the last call; starts afresh."""
        self._settle_last()
        self._last_queue, self._last_data = [], b""
        framed, self._framed = self._framed, {}
        return [(payload, sockets) for payload, _, sockets in framed.values()]


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
    ``deflate``: how clients that offer permessage-deflate are answered and written.
    """

    __slots__ = (
        "_dated",
        "_deflate",
        "_deflated",
        "_dirty",
        "_hold_until",
        "_last_flush",
        "_min_interval",
        "_on_written",
        "_pace",
        "_plain",
        "_scheduled",
    )

    def __init__(
        self,
        on_written: Counted | None = None,
        min_interval: float = 0.0,
        pace: float = 2.0,
        deflate: Deflate | None = None,
    ) -> None:
        self._min_interval = min_interval
        self._pace = pace
        self._last_flush = 0.0
        self._hold_until = 0.0
        self._dirty: list[SocketOutbox] = []
        self._scheduled = False
        self._on_written = on_written
        self._deflate = deflate or Deflate()
        self._plain = Lane(text_frame)
        self._deflated = Lane(SharedDeflater(self._deflate))
        self._dated: tuple[int, str] = (0, "")  # the last second formatted for a Date header, and its text

    @property
    def deflate(self) -> Deflate:
        return self._deflate

    def http_date(self, now: float) -> str:
        """``tornado.httputil.format_timestamp(now)``, formatted once per second (a Date
        header for every handshake of a reconnect storm)."""
        second = int(now)
        if self._dated[0] != second:
            self._dated = (second, tornado.httputil.format_timestamp(second))
        return self._dated[1]

    def lane_for(self, conn: tornado.websocket.WebSocketProtocol13) -> Lane | None:
        """The lane of an open socket; None: it compresses with its own context
        (``"per-connection"`` mode), through Tornado's ``write_message``."""
        if conn._compressor is None:
            return self._plain
        return self._deflated if self._deflate.mode == "shared" else None

    def frame(self, payload: bytes) -> bytes:
        """The plain frame of ``payload`` (see ``Lane.frame``)."""
        return self._plain.frame(payload)

    def count(self, payload: bytes, sockets: int = 1) -> None:
        """Frames that left another way (compressed per connection) are counted here."""
        if self._on_written is not None:
            self._on_written(payload, sockets)

    def _report(self) -> None:
        plain, deflated = self._plain.take_counts(), self._deflated.take_counts()
        if self._on_written is not None:
            for payload, sockets in plain + deflated:
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
    ``max_frames`` / ``max_bytes``; going over calls ``too_slow()``.  What is left of
    each bound is kept (``_room_frames``, ``_room_bytes``), so that ``send``, once per
    member of every broadcast, checks both with one subtraction and one comparison.
    """

    __slots__ = (
        "_conn",
        "_inflight_frames",
        "_lane",
        "_max_bytes",
        "_max_frames",
        "_queue",
        "_queued",
        "_room_bytes",
        "_room_frames",
        "_writer",
    )

    def __init__(
        self, conn: tornado.websocket.WebSocketProtocol13, writer: FrameWriter, max_frames: int, max_bytes: int
    ) -> None:
        self._writer = writer
        self._max_frames = max_frames
        self._max_bytes = max_bytes
        self._queue: list[bytes] = []
        self._queued = False
        self._inflight_frames = 0  # handed to Tornado, not written yet
        self._room_frames = max_frames  # max_frames - in flight: what the queue may hold
        self._room_bytes = max_bytes  # max_bytes - queued - in flight
        self._lane = writer.lane_for(conn)  # once open, what was negotiated stays
        self._conn = conn

    # owner's hooks -----------------------------------------------------------------

    def too_slow(self) -> None:
        raise NotImplementedError

    # queueing ----------------------------------------------------------------------

    @property
    def pending_frames(self) -> int:
        return len(self._queue) + self._inflight_frames

    @property
    def pending_bytes(self) -> int:
        return self._max_bytes - self._room_bytes

    def send(self, payload: bytes) -> None:
        # The hot path of every broadcast: a closing socket is not checked here but
        # at the flush, which drops what was queued for it.
        queue = self._queue
        room = self._room_bytes - len(payload)
        if room < 0 or len(queue) >= self._room_frames:
            self.too_slow()
            return
        self._room_bytes = room
        queue.append(payload)
        if not self._queued:
            self._queued = True
            self._writer.schedule(self)

    # writing ------------------------------------------------------------------------

    def flush(self) -> None:
        self._queued = False
        queue = self._queue
        if not queue or self._inflight_frames:
            return  # nothing to do, or the write in flight flushes again when done
        self._queue = []
        conn = self._conn
        if conn.is_closing():  # what was queued is dropped
            self._room_bytes = self._max_bytes
            return
        lane = self._lane
        if lane is None:
            self._write_compressed(conn, queue)
            return
        data: bytes | memoryview = lane.frames(queue)
        stream = conn.stream
        if stream is None:
            self._room_bytes = self._max_bytes
            return
        if not stream.writing():
            try:
                sent = stream.socket.send(data)
            except OSError:  # would block, interrupted, or broken: Tornado's write below copes
                sent = 0
            if sent == len(data):
                self._room_bytes = self._max_bytes
                return
            data = memoryview(data)[sent:]
        self._inflight_frames = len(queue)
        self._room_frames = self._max_frames - len(queue)
        try:
            written = stream.write(data)
        except tornado.iostream.StreamClosedError:
            self._written_all()
            return
        written.add_done_callback(self._written)

    def _written_all(self) -> None:
        self._inflight_frames = 0
        self._room_frames, self._room_bytes = self._max_frames, self._max_bytes - self._queued_bytes()

    def _queued_bytes(self) -> int:
        return sum(map(len, self._queue))

    def _written(self, future: asyncio.Future[None]) -> None:
        self._written_all()
        if not future.cancelled():
            future.exception()  # a socket that closed meanwhile: nothing to do
        if self._queue and not self._queued:
            self._queued = True
            self._writer.schedule(self)

    def _write_compressed(self, conn: Any, queue: list[bytes]) -> None:
        for i, payload in enumerate(queue):
            size = len(payload)
            try:
                written = conn.write_message(payload)
            except tornado.websocket.WebSocketClosedError:
                self._room_bytes += sum(map(len, queue[i:]))  # dropped
                return
            self._writer.count(payload)
            self._inflight_frames += 1
            self._room_frames -= 1
            written.add_done_callback(lambda f, size=size: self._compressed_written(f, size))

    def _compressed_written(self, future: asyncio.Future[None], size: int) -> None:
        self._inflight_frames -= 1
        self._room_frames += 1
        self._room_bytes += size
        if not future.cancelled():
            future.exception()
        if not self._inflight_frames and self._queue and not self._queued:
            self._queued = True
            self._writer.schedule(self)

    def flush_now(self) -> None:
        """Write what is queued at once (before a close frame)."""
        if self._queue:
            self.flush()
