"""The multi-node bus: Redis streams that every node appends to and reads.

On one Redis the bus is one stream, ``<prefix>:bus``.  On a Redis Cluster
(``redis+cluster://``, see ``eventlog/redis_cluster.py``) it is ``shards``
streams, ``<prefix>:bus:{<tag>}``, spread over the masters by their hash tags;
a message goes to the shard of its trip (else of its user), so a trip's
messages keep their order, and every node reads every shard, each on a blocking
read of its own.  Everything below holds per shard.

**Publishing.** ``publish`` puts the message in this node's outbox and returns;
one writer task adds the outbox to the stream in order (``XADD`` with
approximate ``MAXLEN`` trimming, pipelined in batches).  While Redis is down the
outbox waits (bounded: past ``outbox_max`` the oldest messages are dropped, with
a log line and a metric) and the writer retries with a capped back-off.  So a
command that was accepted in the log is never refused because Redis is away.

**Reading.** Every node reads the whole stream on a connection of its own
(``XREAD BLOCK``) and hands every message, its own included, to the one
``deliver`` callback; the receiver skips the messages of its own process (it
delivered them to its sockets when it sent them, without waiting for Redis).
A node tells its own entries apart by the origin (node id and incarnation) in
each entry's envelope, for metrics and logs.

**Never a silent stop.** Reads resume from the last entry id seen after a
network drop or a Redis restart, with a capped back-off, a log line and a
metric.  Each entry carries its origin's counter (``n``, 1, 2, 3... per process):
a receiver drops what it has seen (a retried ``XADD`` may add an entry twice)
and notices what it missed (Redis lost entries, or trimmed them before this node
read them).  After a reconnect or a missed entry the receiver gets a
``{"kind": "resync"}`` message (``ports.RESYNC_KIND``) before anything newer: the hub
then fills every room from the event log, the only source of truth.  Room
broadcasts carry the trip's ``seq``, so nothing is delivered twice or out of
order to a socket either way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import secrets
import time
import uuid
from collections import deque
from dataclasses import asdict, dataclass
from typing import Any, cast

import orjson

from eventlog.ports import RESYNC_KIND, BusMessage, Deliver
from eventlog.redis_cluster import REDIS_FAILURES, ShardClients, is_cluster, shard_of, shard_tags

log = logging.getLogger("travelsense.bus")

DEFAULT_PREFIX = "travelsense"
DEFAULT_MAXLEN = 100_000
DEFAULT_OUTBOX_MAX = 100_000
BLOCK_MS = 2000
READ_COUNT = 512
WRITE_BATCH = 256
BACKOFF_FIRST = 0.05
BACKOFF_CAP = 2.0
CLOSE_FLUSH_SECONDS = 3.0
MAX_ORIGINS = 1024  # origin counters kept; the least recently seen go first
CLUSTER_SHARDS = 6  # bus streams on a Redis Cluster (two per master of a three-master cluster)


@dataclass(slots=True)
class BusStats:
    """Counters for ``/metrics`` (see ``RedisStreamsBus.metrics``)."""

    published: int = 0  # entries added to the stream by this node
    publish_failures: int = 0  # failed XADD batches (each retried)
    outbox_dropped: int = 0  # messages dropped because the outbox was full
    delivered_own: int = 0
    delivered_remote: int = 0
    duplicates: int = 0  # entries seen twice (a retried XADD), dropped
    missed: int = 0  # entries an origin's counter says we never saw
    resyncs: int = 0  # times the hub was asked to fill from the log
    read_failures: int = 0  # failed XREADs (each followed by a back-off and a reconnect)
    reconnects: int = 0  # successful reconnects of the reader
    own_lag_seconds: float = 0.0  # summed publish-to-deliver time of this node's entries
    remote_lag_seconds: float = 0.0  # the same for other nodes' entries (needs synced clocks)


def _entry_age(entry_id: bytes) -> float:
    """Seconds since Redis added the entry (its id starts with the milliseconds of that moment)."""
    milliseconds = int(entry_id.split(b"-", 1)[0])
    return max(0.0, time.time() - milliseconds / 1000)


async def stop_task(task: asyncio.Task[None]) -> None:
    """Cancel a task and wait until it is done.

    Cancelling once is not enough on Python 3.11: redis-py sends every command
    under ``asyncio.wait_for``, which there drops a cancellation that arrives as
    the send completes, and the task goes on (fixed in 3.12).  So cancel again
    until the task has stopped; the loops here also check a closing flag.
    """
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=0.1)
    if not task.cancelled() and task.exception() is not None:
        log.warning("a Redis task ended with %r", task.exception())


class Backoff:
    """Capped exponential back-off with jitter."""

    def __init__(self, first: float = BACKOFF_FIRST, cap: float = BACKOFF_CAP) -> None:
        self.first = first
        self.cap = cap
        self.failures = 0

    def next_delay(self) -> float:
        delay = min(self.cap, self.first * 2.0 ** min(self.failures, 32))
        self.failures += 1
        return delay * (0.5 + random.random() / 2)

    def reset(self) -> None:
        self.failures = 0


class RedisStreamsBus:
    """``EventBus`` on Redis streams: ``<prefix>:bus`` on one Redis, ``shards`` streams on a cluster."""

    def __init__(
        self,
        url: str,
        *,
        node_id: str | None = None,
        prefix: str = DEFAULT_PREFIX,
        maxlen: int = DEFAULT_MAXLEN,
        outbox_max: int = DEFAULT_OUTBOX_MAX,
        block_ms: int = BLOCK_MS,
        backoff_cap: float = BACKOFF_CAP,
        shards: int | None = None,
    ) -> None:
        self.node_id = node_id or uuid.uuid4().hex[:12]
        self.incarnation = secrets.token_hex(4)  # tells this process from an earlier one with the same node id
        if is_cluster(url):
            self.keys = [f"{prefix}:bus:{{{tag}}}" for tag in shard_tags(shards or CLUSTER_SHARDS)]
        else:
            self.keys = [f"{prefix}:bus"] if (shards or 1) == 1 else [f"{prefix}:bus:{n}" for n in range(shards or 1)]
        self.key = self.keys[0]
        self.stats = BusStats()
        self._url = url
        self._maxlen = maxlen
        self._outbox_max = outbox_max
        self._block_ms = block_ms
        self._backoff_cap = backoff_cap
        # At most one driver retry (a pooled connection that went stale with a restart; a repeated XADD
        # is dropped by readers): every other failure surfaces here, where the back-off, the log line
        # and the metric are.
        self._writers = ShardClients(url, self.keys, socket_timeout=5.0, retries=1)
        self._readers = ShardClients(url, self.keys, socket_timeout=block_ms / 1000 + 5.0)
        # (outbox seq, shard, the shard's counter, message, sent-at)
        self._outbox: deque[tuple[int, int, int, bytes, bytes]] = deque()
        self._queued = 0  # outbox seq: what was queued last
        self._counters = [0] * len(self.keys)  # per shard: receivers tell duplicates and gaps by them
        self._wake = asyncio.Event()
        self._deliver: Deliver | None = None
        self._seen: dict[tuple[bytes, bytes, int], int] = {}  # (origin, incarnation, shard) -> last counter
        self._unstarted = len(self.keys)  # shard readers still looking for their starting entry
        self._tasks: list[asyncio.Task[None]] = []
        self._closing = False
        self._started = asyncio.Event()
        self._reader_lag = 0.0
        self._read_answered_at = time.monotonic()

    @property
    def own_origin(self) -> tuple[bytes, bytes]:
        return self.node_id.encode(), self.incarnation.encode()

    # the port -------------------------------------------------------------------

    async def start(self, deliver: Deliver) -> None:
        """Begin reading at the stream's end; returns once the reader has its position
        (or at once when Redis does not answer: the reader keeps trying)."""
        self._deliver = deliver
        with contextlib.suppress(*REDIS_FAILURES):  # where a cluster keeps the streams, once for every reader
            await asyncio.wait_for(self._readers.client(self.key), 3.0)
        self._tasks = [
            *(
                asyncio.create_task(self._read_loop(shard), name=f"bus-reader-{self.node_id}-{shard}")
                for shard in range(len(self.keys))
            ),
            asyncio.create_task(self._write_loop(), name=f"bus-writer-{self.node_id}"),
        ]
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._started.wait(), 3.0)

    def _shard(self, message: BusMessage) -> int:
        if len(self.keys) == 1:
            return 0
        key = message.get("tripId") or message.get("userId")
        return shard_of(key, len(self.keys)) if isinstance(key, str) else 0

    async def publish(self, message: BusMessage) -> None:
        shard = self._shard(message)
        self._queued += 1
        self._counters[shard] += 1
        counter = self._counters[shard]
        self._outbox.append((self._queued, shard, counter, orjson.dumps(message), repr(time.time()).encode()))
        if len(self._outbox) > self._outbox_max:
            self._outbox.popleft()
            self.stats.outbox_dropped += 1
            if self.stats.outbox_dropped == 1 or self.stats.outbox_dropped % 1000 == 0:
                log.error(
                    "bus outbox full (%d): dropped %d messages so far; rooms will be filled from the log",
                    self._outbox_max,
                    self.stats.outbox_dropped,
                )
        self._wake.set()

    async def ping(self) -> None:
        await self._writers.ping()

    async def close(self) -> None:
        """Flush the outbox (for a few seconds at most), then stop reading."""
        deadline = time.monotonic() + CLOSE_FLUSH_SECONDS
        while self._outbox and time.monotonic() < deadline and any(not t.done() for t in self._tasks):
            await asyncio.sleep(0.01)
        if self._outbox:
            log.warning("bus closed with %d messages not published", len(self._outbox))
        self._closing = True
        for task in self._tasks:
            await stop_task(task)
        self._deliver = None
        await self._writers.aclose()
        await self._readers.aclose()

    def metrics(self) -> dict[str, float]:
        """Counters and gauges, named for Prometheus.

        ``bus_reader_lag_seconds``: the age of the newest entry of the last read that filled a
        whole page (the reader is behind the stream's head), 0 once a read came back short (it
        caught up).  ``bus_reader_idle_seconds``: since the reader last got an answer from Redis;
        a blocking read answers at least every ``block_ms``, so more than that is a stalled reader.
        """
        out: dict[str, float] = {f"bus_{name}": float(value) for name, value in asdict(self.stats).items()}
        out["bus_outbox_size"] = float(len(self._outbox))
        out["bus_reader_lag_seconds"] = self._reader_lag
        out["bus_reader_idle_seconds"] = max(0.0, time.monotonic() - self._read_answered_at)
        return out

    # writing ------------------------------------------------------------------------

    async def _write_loop(self) -> None:
        backoff = Backoff(cap=self._backoff_cap)
        down_since: float | None = None
        node, incarnation = self.own_origin
        while not self._closing:
            if not self._outbox:
                self._wake.clear()
                await self._wake.wait()
                continue
            batch = [self._outbox[i] for i in range(min(WRITE_BATCH, len(self._outbox)))]
            by_shard: dict[int, list[tuple[int, int, int, bytes, bytes]]] = {}
            for entry in batch:
                by_shard.setdefault(entry[1], []).append(entry)
            try:
                for shard, entries in by_shard.items():
                    key = self.keys[shard]
                    async with (await self._writers.client(key)).pipeline(transaction=False) as pipe:
                        for _seq, _shard, counter, body, sent in entries:
                            pipe.xadd(
                                key,
                                {b"m": body, b"o": node, b"i": incarnation, b"n": str(counter).encode(), b"t": sent},
                                maxlen=self._maxlen,
                                approximate=True,
                            )
                        await pipe.execute()
            except REDIS_FAILURES as exc:
                self.stats.publish_failures += 1
                await self._writers.forget()  # on a cluster: where the streams are may have changed
                if down_since is None:
                    down_since = time.monotonic()
                    log.warning(
                        "bus: cannot publish to Redis (%s); %d messages wait in the outbox, retrying",
                        exc,
                        len(self._outbox),
                    )
                await asyncio.sleep(backoff.next_delay())
                continue
            # the outbox may have dropped its oldest meanwhile: remove what was sent, by outbox seq
            sent_up_to = batch[-1][0]
            while self._outbox and self._outbox[0][0] <= sent_up_to:
                self._outbox.popleft()
            self.stats.published += len(batch)
            if down_since is not None:
                log.warning("bus: publishing again after %.1fs", time.monotonic() - down_since)
                down_since = None
            backoff.reset()

    # reading ------------------------------------------------------------------------

    def _shard_started(self) -> None:
        self._unstarted -= 1
        if self._unstarted == 0:
            self._started.set()

    async def _read_loop(self, shard: int) -> None:
        key = self.keys[shard]
        backoff = Backoff(cap=self._backoff_cap)
        last_id: bytes | None = None
        # where to read from if Redis does not answer at start: what is added from now on
        started_at = f"{int(time.time() * 1000)}-0".encode()
        failing_since: float | None = None
        while not self._closing:
            try:
                client = await self._readers.client(key)
                if last_id is None:
                    newest = cast(list[Any], await client.xrevrange(key, count=1))
                    last_id = bytes(newest[0][0]) if newest else b"0-0"
                    self._shard_started()
                if failing_since is not None:
                    await client.ping()
                    self.stats.reconnects += 1
                    log.warning(
                        "bus: reading again after %.1fs, from entry %s; filling rooms from the log",
                        time.monotonic() - failing_since,
                        last_id.decode(),
                    )
                    failing_since = None
                    backoff.reset()
                    self._resync()
                reply = cast(
                    list[Any] | None,
                    await client.xread({key: last_id}, count=READ_COUNT, block=self._block_ms),
                )
            except REDIS_FAILURES as exc:
                self.stats.read_failures += 1
                await self._readers.forget()
                if last_id is None:
                    last_id = started_at
                    self._shard_started()
                if failing_since is None:
                    failing_since = time.monotonic()
                    log.warning("bus: reading from Redis failed (%s); reconnecting with back-off", exc)
                await asyncio.sleep(backoff.next_delay())
                continue
            self._read_answered_at = time.monotonic()
            for _stream, entries in reply or ():
                for entry_id, fields in entries:
                    last_id = bytes(entry_id)
                    self._receive(fields, shard)
                self._reader_lag = _entry_age(last_id) if len(entries) >= READ_COUNT else 0.0
            if not reply:
                self._reader_lag = 0.0

    def _receive(self, fields: dict[bytes, bytes], shard: int = 0) -> None:
        try:
            origin = (fields[b"o"], fields[b"i"], shard)
            counter = int(fields[b"n"])
            message = orjson.loads(fields[b"m"])
            sent = float(fields[b"t"])
        except (KeyError, ValueError, orjson.JSONDecodeError):
            log.error("bus: dropped a malformed stream entry with fields %s", sorted(fields))
            return
        last = self._seen.pop(origin, None)  # re-inserted below: the dict stays in least-recent order
        if last is not None and counter <= last:
            self._seen[origin] = last
            self.stats.duplicates += 1
            return
        self._seen[origin] = counter
        if len(self._seen) > MAX_ORIGINS:
            del self._seen[next(iter(self._seen))]
        if last is not None and counter > last + 1:
            self.stats.missed += counter - last - 1
            log.warning(
                "bus: missed %d entries from node %s; filling rooms from the log",
                counter - last - 1,
                origin[0].decode(errors="replace"),
            )
            self._resync()
        lag = max(0.0, time.time() - sent)
        if origin[:2] == self.own_origin:
            self.stats.delivered_own += 1
            self.stats.own_lag_seconds += lag
        else:
            self.stats.delivered_remote += 1
            self.stats.remote_lag_seconds += lag
        self._hand_over(message)

    def _resync(self) -> None:
        self.stats.resyncs += 1
        self._hand_over({"kind": RESYNC_KIND})

    def _hand_over(self, message: BusMessage) -> None:
        if self._deliver is None:
            return
        try:
            self._deliver(message)
        except Exception:  # a failing receiver must not stop the reader
            log.exception("bus: delivering a message of kind %r failed", message.get("kind"))
