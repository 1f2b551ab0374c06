"""This node's live connections, and delivery of bus messages to them.

A frame is encoded once per bus message (and once more for the sender's copy
that echoes its ``ref``), then the same bytes go to every socket.  Trip-stream
frames carry ``seq``: each connection's seat in a room remembers the last
``seq`` it got, so nothing is sent twice or out of order; a gap is filled from
the log before anything newer is sent.

A message from another node may need keys this node does not hold (a chat message's
own key always): they are read ahead, off the event loop, before it is opened; the
messages behind it wait their turn (``deliver_from_bus``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from domain.chat_notes import ChatNote
from domain.presence_summary import PRESENCE_EVENTS, PresenceChanges
from eventlog.ports import RESYNC_KIND, BusMessage, EventStore
from eventlog.sealing import Opener
from projections.sessions import CLOSE_TAKEN_OVER
from service import broadcaster as kinds
from service.frames import FrameEncoder, encode, stream_broadcast
from service.metrics import Metrics

TAKEN_OVER_REASON = "session resumed on another connection"

log = logging.getLogger("travelsense.hub")

# a message from another node without a ``seq`` (nothing recovers it) whose keys could not be
# read: read again this many times, after KEY_RETRY_BACKOFF seconds doubling each time, before
# it is delivered with what could not be opened masked
KEY_RETRIES = 3
KEY_RETRY_BACKOFF = 0.1
GAP_PAGE = 500  # records a seat filling a gap reads from the log at a time


class Outlet(Protocol):
    """The transport side of a connection (the WebSocket handler)."""

    def send(self, payload: bytes) -> None: ...

    def close(self, code: int, reason: str) -> None: ...

    @property
    def pending_bytes(self) -> int:
        """Bytes queued for the socket and not yet taken by the kernel."""
        ...


@dataclass(slots=True)
class Seat:
    """A connection's place in one room."""

    last_seq: int = 0
    holding: bool = True  # while joining or filling a gap, frames wait here
    held: list[tuple[int | None, bytes]] = field(default_factory=list)
    stale: bool = False  # the bus may have lost frames meanwhile: fill from the log before releasing
    # access revoked: nothing sequenced after this seq (and no room signal) reaches the seat any more
    revoked_at: int | None = None

    def cut_off(self, seq: int | None) -> bool:
        return self.revoked_at is not None and (seq is None or seq > self.revoked_at)


def _as_is(data: Any) -> Any:
    return data


def removed_user(event: str, data: Any) -> str | None:
    """The user a ``collaborator_removed`` broadcast names (None for anything else)."""
    if event != "trip_updated" or not isinstance(data, dict) or data.get("updateType") != "collaborator_removed":
        return None
    user = (data.get("data") or {}).get("userId")
    return user if isinstance(user, str) else None


@dataclass(slots=True, eq=False)
class Connection:
    session_id: str
    user_id: str
    name: str | None
    role: str
    hidden: bool
    ip: str
    user_agent: str
    connected_at: str
    outlet: Outlet
    last_activity: dt.datetime | None = None  # formatted only when an admin lists connections
    seats: dict[str, Seat] = field(default_factory=dict)
    generation: int = 0  # its claim on the session (``eventlog.claims``): a resume's is higher than all before
    handed_over: tuple[str, ...] | None = None  # the rooms it sat in when a resume took its session over

    def send(self, payload: bytes) -> None:
        self.outlet.send(payload)


@dataclass(frozen=True, slots=True)
class VisibilityChanged:
    """A connection's user hid or showed their presence (on this node or another): the
    room service shows or hides the connection in its rooms."""

    conn: Connection
    hidden: bool


@dataclass(frozen=True, slots=True)
class SeatRevoked:
    """A connection's user lost access to a trip whose room it sits in (the room service
    vacates the seat and tells the client)."""

    conn: Connection
    trip_id: str


class Hub:
    """``revocations``: where seats whose access was revoked are posted (``visibility``: the
    users' presence choices for their connections here); ``changed``: set
    whenever a connection comes, goes, enters or leaves a room (the connection directory
    waits on it).  ``node_id``: messages the bus brings back from this node were
    delivered here already (``deliver``) and are skipped (``deliver_from_bus``); it names
    this process, not only the node (two processes started with one ``NODE_ID`` stay apart)."""

    def __init__(
        self,
        store: EventStore,
        metrics: Metrics,
        *,
        node_id: str,
        revocations: asyncio.Queue[SeatRevoked],
        changed: asyncio.Event,
        visibility: asyncio.Queue[VisibilityChanged] | None = None,
        opener: Opener | None = None,
        summary_from: int = 0,
        summary_seconds: float = 1.0,
        summary_listed: int = 100,
    ) -> None:
        """``summary_from``: a room with this many members here (0: none) gets its ``user_joined``
        and ``user_left`` summed up, one ``presence_summary`` per ``summary_seconds`` listing at
        most ``summary_listed`` users each way (``domain.presence_summary``)."""
        self._summary_from = summary_from
        self._summary_seconds = summary_seconds
        self._summary_listed = summary_listed
        self._summaries: dict[str, PresenceChanges] = {}  # trip -> its changes awaiting their summary
        encoder = FrameEncoder(opener)
        self.encode = encoder.encode  # opens sealed personal data (None: nothing sealed)
        self.shared_list = encoder.shared_list  # a list many frames carry, opened and encoded once
        self._open: Callable[[Any], Any] = opener.open if opener is not None else _as_is
        self._opener = opener
        self._behind_keys: deque[BusMessage] = deque()  # bus messages waiting for keys, in order
        self._store = store
        self._metrics = metrics
        self._node_id = node_id
        self._revocations = revocations
        self._visibility = visibility  # where presence choices for this node's connections are posted
        self._changed_event = changed
        self._connections: dict[str, Connection] = {}
        self._by_user: dict[str, set[str]] = {}
        self._by_ip: dict[str, int] = {}  # open connections per address (checked at every handshake)
        # trip -> its members here: session -> (its connection, its seat), what a broadcast
        # needs of each member without looking it up
        self._rooms: dict[str, dict[str, tuple[Connection, Seat]]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def _changed(self) -> None:
        self._changed_event.set()

    # registry ----------------------------------------------------------------

    def add(self, conn: Connection) -> None:
        """Register the connection; one of the same session already here is stale if its claim
        is lower (a resume took it over: it is closed), else ``conn`` is (check ``handed_over``)."""
        held = self._connections.get(conn.session_id)
        if held is not None and held is not conn:
            if held.generation > conn.generation:
                conn.handed_over = ()
                conn.outlet.close(CLOSE_TAKEN_OVER, TAKEN_OVER_REASON)
                return
            self._retire(held)
        if conn.session_id not in self._connections:
            self._by_ip[conn.ip] = self._by_ip.get(conn.ip, 0) + 1
        self._connections[conn.session_id] = conn
        self._by_user.setdefault(conn.user_id, set()).add(conn.session_id)
        self._changed()

    def supersede(self, session_id: str, generation: int) -> None:
        """A resume claimed the session with ``generation``: this node's connection of it, if
        its claim is lower, is stale (a half-open socket, or the loser of two resumes): closed."""
        held = self._connections.get(session_id)
        if held is not None and held.generation < generation:
            self._retire(held)

    def _retire(self, conn: Connection) -> None:
        """Unregister a connection whose session another connection now holds, and close it
        (4010); its rooms are noted for the room service, which must not announce it gone."""
        conn.handed_over = tuple(conn.seats)
        self.remove(conn)
        conn.outlet.close(CLOSE_TAKEN_OVER, TAKEN_OVER_REASON)

    def remove(self, conn: Connection) -> None:
        if self._connections.get(conn.session_id) is not conn:
            conn.seats.clear()  # retired: the session's registrations here belong to its new connection
            return
        if self._connections.pop(conn.session_id, None) is not None:
            left = self._by_ip.get(conn.ip, 0) - 1
            if left > 0:
                self._by_ip[conn.ip] = left
            else:
                self._by_ip.pop(conn.ip, None)
        sessions = self._by_user.get(conn.user_id)
        if sessions is not None:
            sessions.discard(conn.session_id)
            if not sessions:
                del self._by_user[conn.user_id]
        for trip_id in list(conn.seats):
            self.exit(conn, trip_id)
        self._changed()

    def holds(self, session_id: str) -> bool:
        """Whether a connection of the session is open on this node."""
        return session_id in self._connections

    def seated(self, session_id: str, trip_id: str) -> bool:
        """Whether this node's connection of the session sits in the trip's room."""
        conn = self._connections.get(session_id)
        return conn is not None and trip_id in conn.seats

    def connections(self) -> Iterator[Connection]:
        return iter(list(self._connections.values()))

    def of_user(self, user_id: str) -> list[Connection]:
        return [self._connections[s] for s in self._by_user.get(user_id, ()) if s in self._connections]

    def count(self) -> int:
        return len(self._connections)

    def room_count(self) -> int:
        """Rooms with a member on this node (for metrics)."""
        return len(self._rooms)

    def queued_bytes(self) -> int:
        """Bytes queued for this node's sockets (for metrics: a walk over every connection)."""
        return sum(conn.outlet.pending_bytes for conn in list(self._connections.values()))

    def count_for_user(self, user_id: str) -> int:
        return len(self._by_user.get(user_id, ()))

    def count_for_ip(self, ip: str) -> int:
        return self._by_ip.get(ip, 0)

    # rooms -------------------------------------------------------------------

    def enter(self, conn: Connection, trip_id: str) -> Seat | None:
        """Take a seat that holds frames until ``open_seat``; None for a connection retired
        meanwhile (a resume took its session over): the room's seat for the session is the
        new connection's, and the retired one's close would vacate it; None too for one no
        longer registered (closed meanwhile: nothing would vacate its seat)."""
        if conn.handed_over is not None or self._connections.get(conn.session_id) is not conn:
            return None  # retired, or gone (closed while its join was under way): no seat to leak
        seat = conn.seats.get(trip_id)
        if seat is None:
            seat = conn.seats[trip_id] = Seat()
            self._rooms.setdefault(trip_id, {})[conn.session_id] = (conn, seat)
            self._changed()
        seat.holding = True
        seat.revoked_at = None  # joining again means access was checked again
        return seat

    def open_seat(self, conn: Connection, trip_id: str, sent_up_to: int) -> None:
        """The joiner has everything up to ``sent_up_to``: release what was held."""
        seat = conn.seats.get(trip_id)
        if seat is None:
            return
        seat.last_seq = max(seat.last_seq, sent_up_to)
        self._release(conn, trip_id, seat)

    def exit(self, conn: Connection, trip_id: str) -> bool:
        if conn.seats.pop(trip_id, None) is None:
            return False
        members = self._rooms.get(trip_id)
        if members is not None:
            members.pop(conn.session_id, None)
            if not members:
                del self._rooms[trip_id]
        self._changed()
        return True

    # delivery ----------------------------------------------------------------

    def deliver_from_bus(self, message: BusMessage) -> None:
        """A message from the bus: this node's own were delivered when they were sent.  One
        that needs keys not held here waits for them to be read (``_deliver_behind_keys``),
        and so does every message after it: the bus's order is kept."""
        if message.get("origin") == self._node_id:
            return
        if self._behind_keys:
            self._behind_keys.append(message)
        elif self._opener is not None and self._reaches(message) and self._opener.unheld(message.get("data")):
            self._behind_keys.append(message)
            self._spawn(self._deliver_behind_keys(self._opener))
        else:
            self.deliver(message)

    async def _deliver_behind_keys(self, opener: Opener) -> None:
        """Deliver the waiting messages in order, once the keys they need are read: those of
        all the messages waiting at the time in one read, in a thread, within the store
        timeout.  A message whose keys could not be read is not opened here (that would read
        the store on the event loop): one with a ``seq`` (a room's record) is not delivered
        (its rooms' seats fill the gap from the log); one without (a notification, a read
        receipt, a broadcast: nothing would recover it) waits, and the messages behind it
        with it, for up to ``KEY_RETRIES`` more reads after a short backoff, then is delivered
        with what could not be opened masked, as an erased value reads.  While reads keep
        failing past that, the next ones are masked after one read each (no backoff)."""
        waiting = self._behind_keys
        failures = 0  # reads in a row that failed
        while waiting:
            batch = list(waiting)
            try:
                await opener.read_ahead(m.get("data") for m in batch if self._reaches(m))
                failures = 0
            except Exception as error:
                failures += 1
                log.warning("could not read the keys of %d bus messages: %s", len(batch), error)
            if not self._deliver_read(opener, batch, masking=failures > KEY_RETRIES) and failures:
                await asyncio.sleep(KEY_RETRY_BACKOFF * 2 ** (failures - 1))

    def _deliver_read(self, opener: Opener, batch: list[BusMessage], *, masking: bool) -> bool:
        """Deliver the messages of ``batch`` (the head of ``_behind_keys``) in order, up to one
        without a ``seq`` whose keys are not held, unless ``masking``; whether all were taken."""
        waiting = self._behind_keys
        for message in batch:
            if self._reaches(message) and opener.unheld(message.get("data")):
                if message.get("seq") is not None:
                    waiting.popleft()
                    self._metrics.bus_message_unopened("dropped")
                    continue
                if not masking:
                    return False
                waiting.popleft()
                self._metrics.bus_message_unopened("masked")
                self.deliver({**message, "data": opener.open_held(message.get("data"))})
                continue
            waiting.popleft()
            self.deliver(message)
        return True

    def deliver(self, message: BusMessage) -> None:
        kind = message.get("kind")
        accepted_at = self._metrics.bus_message(message)
        reaches = accepted_at is not None and self._reaches(message)
        try:
            if kind == kinds.ROOM:
                self._deliver_room(message)
            elif kind == kinds.USER:
                targets = self.of_user(message["userId"])
                if targets:  # encoded (and its personal data opened) only for a user who is here
                    payload = self.encode(message["event"], message["data"])
                    sender, ref = message.get("sender"), message.get("ref")
                    own = self.encode(message["event"], message["data"], ref) if sender is not None else payload
                    for conn in targets:
                        conn.send(own if conn.session_id == sender else payload)
            elif kind == kinds.ALL:
                payload = self.encode(message["event"], message["data"])
                for conn in list(self._connections.values()):
                    conn.send(payload)
            elif kind == kinds.REVOKE:
                for conn in self.of_user(message["userId"]):
                    seat = conn.seats.get(message["tripId"])
                    if seat is not None and seat.revoked_at is None:
                        seat.revoked_at = seat.last_seq  # at once, before the seat is vacated
                    if seat is not None:
                        self._revocations.put_nowait(SeatRevoked(conn, message["tripId"]))
            elif kind == kinds.VISIBILITY:
                if self._visibility is not None:
                    for conn in self.of_user(message["userId"]):
                        self._visibility.put_nowait(VisibilityChanged(conn, bool(message["hidden"])))
            elif kind == kinds.TAKEOVER:
                self.supersede(str(message["sessionId"]), int(message["generation"]))
            elif kind == kinds.DISCONNECT:
                for conn in self.of_user(message["userId"]):
                    conn.outlet.close(int(message["code"]), str(message.get("reason", "")))
            elif kind == RESYNC_KIND:
                self.resync()
        except Exception:  # a malformed message must not stop delivery of the next one
            log.exception("could not deliver a bus message of kind %r", kind)
        if reaches and accepted_at is not None:
            self._metrics.delivered(accepted_at)

    def _reaches(self, message: BusMessage) -> bool:
        """Whether delivering the message writes a frame on this node."""
        kind = message.get("kind")
        if kind == kinds.ROOM:
            return bool(self._rooms.get(message.get("tripId", "")))
        if kind == kinds.USER:
            return message.get("userId") in self._by_user
        return kind == kinds.ALL and bool(self._connections)

    def _deliver_room(self, message: BusMessage) -> None:
        trip_id = message["tripId"]
        members = self._rooms.get(trip_id)
        if not members:
            return
        seq: int | None = message.get("seq")
        sender, ref, exclude = message.get("sender"), message.get("ref"), message.get("excludeUser")
        data = self._open(message["data"])  # opened once for both encodings
        if seq is None and message["event"] in PRESENCE_EVENTS and self._summed_up(trip_id, len(members)):
            self._summaries[trip_id].add(message["event"], data)
            return
        plain = encode(message["event"], data)
        own = encode(message["event"], data, ref) if ref is not None and sender is not None else plain
        removed = removed_user(message["event"], message["data"])
        if seq is None or exclude is not None or removed is not None:
            self._deliver_each(trip_id, members, seq, sender, exclude, removed, own, plain)
            return
        # the common case (a record, to every member): this loop runs once per member for
        # every broadcast, so the sender's copy is taken out of it and a seat in step with
        # the room is served inline
        others = members.copy()  # a send may close a socket (too slow), which leaves the room
        mine = others.pop(sender, None) if sender is not None and own is not plain else None
        after = seq - 1
        for conn, seat in others.values():
            if seat.last_seq == after and not seat.holding and seat.revoked_at is None:
                seat.last_seq = seq
                conn.outlet.send(plain)
            else:
                self._offer(conn, trip_id, seat, seq, plain)
        if mine is not None:
            self._offer(mine[0], trip_id, mine[1], seq, own)

    def _deliver_each(
        self,
        trip_id: str,
        members: dict[str, tuple[Connection, Seat]],
        seq: int | None,
        sender: str | None,
        exclude: str | None,
        removed: str | None,
        own: bytes,
        plain: bytes,
    ) -> None:
        """A room signal (no ``seq``), one that leaves a user out, or a removal: member by member."""
        for session_id, (conn, seat) in list(members.items()):
            if exclude is not None and conn.user_id == exclude:
                continue
            self._offer(conn, trip_id, seat, seq, own if session_id == sender else plain)
            if removed is not None and removed == conn.user_id and seq is not None and seat.revoked_at is None:
                seat.revoked_at = seq  # the removal itself is the last thing this seat gets

    def _summed_up(self, trip_id: str, members: int) -> bool:
        """Whether the room's presence changes go into its next summary: it is large here, or
        changes wait for a summary already (a change sent alone would overtake them)."""
        if trip_id in self._summaries:
            return True
        if not 0 < self._summary_from <= members:
            return False
        self._gather(trip_id, PresenceChanges())
        return True

    def _gather(self, trip_id: str, changes: PresenceChanges) -> None:
        """The room's changes from now, told in one summary an interval later."""
        self._summaries[trip_id] = changes
        asyncio.get_running_loop().call_later(self._summary_seconds, self._send_summary, trip_id)

    def _send_summary(self, trip_id: str) -> None:
        changes = self._summaries.pop(trip_id, None)
        members = self._rooms.get(trip_id)
        if changes is None or not members:
            return
        data, rest = changes.summary(trip_id, self._summary_listed)
        if rest is not None:  # what the lists leave out starts the next summary: every change is sent
            self._gather(trip_id, rest)
        payload = encode("presence_summary", data)
        for conn, seat in list(members.values()):
            self._offer(conn, trip_id, seat, None, payload)

    def _offer(self, conn: Connection, trip_id: str, seat: Seat, seq: int | None, payload: bytes) -> None:
        if seat.cut_off(seq):
            return
        if seat.holding:
            seat.held.append((seq, payload))
            return
        if seq is None:
            conn.send(payload)
        elif seq == seat.last_seq + 1:
            seat.last_seq = seq
            conn.send(payload)
        elif seq > seat.last_seq + 1:
            seat.holding = True
            seat.held.append((seq, payload))
            self._spawn(self._fill_gap(conn, trip_id, seat))

    def resync(self) -> None:
        """The bus may have lost messages: fill every seat from the log before
        delivering anything newer (seats busy joining or filling do it after)."""
        for conn in list(self._connections.values()):
            for trip_id, seat in conn.seats.items():
                if seat.holding:
                    seat.stale = True
                else:
                    seat.holding = True
                    self._spawn(self._fill_gap(conn, trip_id, seat))

    def _release(self, conn: Connection, trip_id: str, seat: Seat) -> None:
        if seat.stale:
            seat.stale = False
            self._spawn(self._fill_gap(conn, trip_id, seat))
            return
        held, seat.held = seat.held, []
        seat.holding = False
        for seq, payload in held:
            if conn.seats.get(trip_id) is not seat:
                return
            self._offer(conn, trip_id, seat, seq, payload)

    async def _fill_gap(self, conn: Connection, trip_id: str, seat: Seat) -> None:
        """Send the seat what it missed, from the log, a page at a time: a seat far
        behind never holds more than a page of its stream in memory."""
        after = seat.last_seq
        while True:
            try:
                records = await self._store.read_stream(trip_id, after_version=after, limit=GAP_PAGE)
            except Exception:
                log.exception("could not fill a gap in trip %s from the log", trip_id)
                break
            done = len(records) < GAP_PAGE  # the last page
            if self._opener is not None:  # the page's keys read ahead, off the event loop
                try:
                    await self._opener.read_ahead(r.events for r in records)
                except Exception:
                    log.exception("could not read the keys of trip %s's records", trip_id)
                    break
            for record in records:
                frame = stream_broadcast(record)
                if conn.seats.get(trip_id) is not seat:
                    return
                if record.version is None or record.version <= seat.last_seq:
                    continue
                if seat.cut_off(record.version):
                    done = True
                    break
                if frame is not None:
                    # the sender's own copy echoes its ref, as it would have from the bus
                    own = record.ref is not None and record.session_id == conn.session_id
                    conn.send(self.encode(*frame, record.ref if own else None))
                seat.last_seq = record.version
                if frame is not None and removed_user(*frame) == conn.user_id and seat.revoked_at is None:
                    seat.revoked_at = record.version
            if done:  # a short page (an empty one too) is the last
                break
            last = records[-1].version
            if last is None or last <= after:
                break
            after = last
        self._release(conn, trip_id, seat)

    def _spawn(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def room_frames_since(self, records: list[Any], notes: Mapping[str, ChatNote] | None = None) -> list[bytes]:
        """Frames for recovered stream records (join with ``lastSeq``); ``notes``: the trip's
        (messages edited or deleted since are sent as they are now)."""
        frames = []
        for record in records:
            frame = stream_broadcast(record, notes)
            if frame is not None:
                frames.append(self.encode(*frame))
        return frames
