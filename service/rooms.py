"""Trip rooms: joining (with recovery from ``lastSeq``), leaving, typing and
presence.  Room signals are logged as commands but are not part of the trip's
stream, so they carry no ``seq``."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from config import Limits
from domain.chat_notes import ChatNote
from domain.errors import CommandRefused, ErrorCode
from domain.room import MemberBack, MemberGone, RoomMember, RosterNews
from domain.trip_model import Trip
from eventlog.ports import EventStore
from service.auth import Identity
from service.broadcaster import Broadcaster
from service.clock import Clock
from service.hub import Connection, Hub, SeatRevoked, VisibilityChanged
from service.pipeline import Origin, Pipeline, Request
from service.presence import RoomRosters
from service.trips import TripService

log = logging.getLogger("travelsense.rooms")

MAX_RECOVERY = 1000


class _Missed(NamedTuple):
    frames: list[bytes]  # the missed stream events, encoded
    up_to: int  # the last seq they (or the head) reach


def not_in_room() -> CommandRefused:
    return CommandRefused(ErrorCode.NOT_IN_ROOM, "join the trip's room first")


class RoomService:
    def __init__(
        self,
        *,
        trips: TripService,
        hub: Hub,
        rosters: RoomRosters,
        broadcaster: Broadcaster,
        pipeline: Pipeline,
        store: EventStore,
        clock: Clock,
        limits: Limits,
        seal_name: Callable[[str, str | None], str | None] | None = None,
    ) -> None:
        """``seal_name``: a member's name as the rosters keep it (sealed: Redis holds the shared ones)."""
        self._seal_name = seal_name
        self._trips = trips
        self._hub = hub
        self._rosters = rosters
        self._broadcaster = broadcaster
        self._pipeline = pipeline
        self._store = store
        self._clock = clock
        self._limits = limits
        self._typing: dict[tuple[str, str], asyncio.TimerHandle] = {}
        self._graces: dict[tuple[str, str], asyncio.TimerHandle] = {}  # (session, trip) -> a dropped member's expiry
        self._expiring: set[asyncio.Task[None]] = set()
        self._reading: dict[tuple[str, int, int], asyncio.Future[_Missed]] = {}  # missed events being read
        self._next_catch_up: dict[str, asyncio.Future[None]] = {}  # trip -> the read its joiners wait for
        self._catching_up: dict[str, asyncio.Future[None]] = {}  # trip -> the read under way

    async def follow(
        self,
        revocations: asyncio.Queue[SeatRevoked],
        news: asyncio.Queue[RosterNews],
        visibility: asyncio.Queue[VisibilityChanged] | None = None,
    ) -> None:
        """Act on seats whose access was revoked (from the hub), on members the shared
        rosters found gone or back (from presence) and on presence choices made on any
        node (from the hub), until cancelled."""
        chosen_queue: asyncio.Queue[VisibilityChanged] = visibility if visibility is not None else asyncio.Queue()
        revoked = asyncio.ensure_future(revocations.get())
        heard = asyncio.ensure_future(news.get())
        chosen = asyncio.ensure_future(chosen_queue.get())
        try:
            while True:
                done, _ = await asyncio.wait((revoked, heard, chosen), return_when=asyncio.FIRST_COMPLETED)
                try:
                    if revoked in done:
                        seat = revoked.result()
                        revoked = asyncio.ensure_future(revocations.get())
                        await self.revoke(seat.conn, seat.trip_id)
                    if heard in done:
                        item = heard.result()
                        heard = asyncio.ensure_future(news.get())
                        match item:
                            case MemberGone(trip_id, user_id):
                                await self.member_gone(trip_id, user_id)
                            case MemberBack(trip_id, member):
                                await self.member_back(trip_id, member)
                    if chosen in done:
                        change = chosen.result()
                        chosen = asyncio.ensure_future(chosen_queue.get())
                        await self._show_or_hide(change.conn, change.hidden)
                except Exception:  # one failed announcement must not stop the next
                    log.exception("rooms: could not act on a revocation, a roster change or a presence choice")
        finally:
            revoked.cancel()
            heard.cancel()
            chosen.cancel()

    def require_seat(self, conn: Connection, trip_id: str) -> None:
        if trip_id not in conn.seats:
            raise not_in_room()

    async def join(
        self, conn: Connection, origin: Origin, identity: Identity, payload: dict[str, Any], ref: str | None
    ) -> None:
        trip_id: str = payload["tripId"]
        last_seq: int | None = payload.get("lastSeq")
        rejoining = trip_id in conn.seats
        await self._may_see(identity, trip_id)
        if not rejoining and len(conn.seats) >= self._limits.max_rooms:
            raise CommandRefused(ErrorCode.FORBIDDEN, f"a connection may be in at most {self._limits.max_rooms} rooms")
        if self._hub.enter(conn, trip_id) is None:
            # retired while its access was checked (closed 4010: its session is another's), or
            # closed: refused, so that the join still leaves its one record
            raise CommandRefused(ErrorCode.UNAVAILABLE, "the connection closed while it joined: nothing was joined")
        try:
            member = self._member(conn)
            newly_visible = await self._rosters.join(trip_id, member)
            # read everything the answer needs first: once the join is recorded, it is answered
            trip = await self._caught_up(identity, trip_id)
            head = trip.version
            members, shown = await self._rosters.listed(trip_id, self._limits.member_list_max, conn.user_id)
            missed = await self._missed(trip_id, head, last_seq, trip.chat_notes)
            await self._pipeline.record(
                Request(origin, "join_trip_room", payload, ref, trip_id),
                ({"type": "user_joined", "data": {"tripId": trip_id, "hidden": conn.hidden}},),
            )
            joined = {
                "tripId": trip_id,
                "members": self._hub.shared_list(members),
                "seq": head,
                "recovered": missed is not None,
            }
            if shown > len(members):
                joined["memberCount"] = shown  # a capped list: how many visible users there are
            conn.send(self._hub.encode("trip_room_joined", joined, ref))
            self._hub.open_seat(conn, trip_id, self._send_missed(conn, trip, missed))
        except BaseException:
            if not rejoining:
                await self._unseat(conn, trip_id)
            raise
        if newly_visible:
            await self._announce_joined(conn, trip_id)

    async def _unseat(self, conn: Connection, trip_id: str) -> None:
        """A join or reseat that failed: out of the room here, and out of its roster."""
        self._hub.exit(conn, trip_id)
        if conn.handed_over is None:  # else the entry is the session's new connection's
            await self._rosters.leave(trip_id, conn.session_id)

    async def reseat(self, conn: Connection, identity: Identity, trip_id: str, last_seq: int | None) -> None:
        """A resumed session's room, given back without a join (its ``resume`` record is
        logged): access checked again, then what it missed since ``last_seq`` (a snapshot
        when it sent none, or too much was missed), then live frames."""
        if self._hub.enter(conn, trip_id) is None:
            return  # a later resume took the session over meanwhile: the room, and its held place, are its to take
        try:
            grace = self._graces.pop((conn.session_id, trip_id), None)
            if grace is not None:  # dropped from this node: still a member, seen again now
                grace.cancel()
                await self._rosters.seen(trip_id, conn.session_id, self._pipeline.now())
            member = self._member(conn)
            newly_visible = await self._rosters.join(trip_id, member)
            trip = await self._caught_up(identity, trip_id)
            members, shown = await self._rosters.listed(trip_id, self._limits.member_list_max, conn.user_id)
            missed = await self._missed(trip_id, trip.version, last_seq, trip.chat_notes)
            joined = {
                "tripId": trip_id,
                "members": self._hub.shared_list(members),
                "seq": trip.version,
                "recovered": missed is not None,
                "resumed": True,
            }
            if shown > len(members):
                joined["memberCount"] = shown
            conn.send(self._hub.encode("trip_room_joined", joined))
            self._hub.open_seat(conn, trip_id, self._send_missed(conn, trip, missed))
        except BaseException:
            await self._unseat(conn, trip_id)
            raise
        if newly_visible:
            await self._announce_joined(conn, trip_id)

    async def _may_see(self, identity: Identity, trip_id: str) -> None:
        """Refuse a join the trip does not let in: as this node knows the trip, and if that
        refuses, as the log has it now (access granted on another node may not be here yet).
        The join is checked again once seated (``_caught_up``)."""
        try:
            await self._trips.visible_trip(identity, trip_id, fresh=False)
        except CommandRefused:
            await self._caught_up(identity, trip_id)

    async def _caught_up(self, identity: Identity, trip_id: str) -> Trip:
        """The trip with every record the log held when this was called (what a joiner's
        answer starts from), if ``identity`` may see it.  The log is read once for all the
        joins asking at the same time: a join storm costs a read per read, not per join."""
        ahead = self._next_catch_up.get(trip_id)
        if ahead is None:
            ahead = self._next_catch_up[trip_id] = asyncio.ensure_future(self._catch_up(trip_id))
        await asyncio.shield(ahead)
        return await self._trips.visible_trip(identity, trip_id, fresh=False)

    async def _catch_up(self, trip_id: str) -> None:
        """One read for the callers of ``_caught_up`` so far: it starts after the read under way
        (which may have started before they asked) has ended, and takes no more callers then."""
        under_way = self._catching_up.get(trip_id)
        if under_way is not None:
            await asyncio.wait((under_way,))
        done = self._next_catch_up.pop(trip_id)
        self._catching_up[trip_id] = done
        try:
            await self._trips.catch_up(trip_id)
        finally:
            if self._catching_up.get(trip_id) is done:
                del self._catching_up[trip_id]

    def _member(self, conn: Connection) -> RoomMember:
        """The connection as its rooms' rosters list it: online now, its name sealed (rosters
        live in Redis), with its session's claim (a resumed connection's is the highest)."""
        name = self._seal_name(conn.user_id, conn.name) if self._seal_name is not None else conn.name
        return RoomMember(
            conn.session_id,
            conn.user_id,
            name,
            conn.hidden,
            "online",
            self._clock.monotonic(),
            self._pipeline.now(),
            conn.generation,
        )

    async def _missed(
        self, trip_id: str, head: int, last_seq: int | None, notes: Mapping[str, ChatNote]
    ) -> _Missed | None:
        """The frames of the trip's records after ``last_seq`` (None: a snapshot is sent instead).

        Read and encoded once for every connection asking the same at the same time: a room's
        members that reconnect together (a resume storm) share one read of the log."""
        if last_seq is None or last_seq > head or head - last_seq > MAX_RECOVERY:
            return None
        key = (trip_id, last_seq, head)
        shared = self._reading.get(key)
        if shared is None:
            shared = self._reading[key] = asyncio.ensure_future(self._read_missed(trip_id, head, last_seq, notes))
            shared.add_done_callback(lambda _: self._reading.pop(key, None))
        return await asyncio.shield(shared)

    async def _read_missed(self, trip_id: str, head: int, last_seq: int, notes: Mapping[str, ChatNote]) -> _Missed:
        records = await self._store.read_stream(trip_id, after_version=last_seq, limit=MAX_RECOVERY + 64)
        return _Missed(self._hub.room_frames_since(records, notes), max([head, *(r.version or 0 for r in records)]))

    def _send_missed(self, conn: Connection, trip: Trip, missed: _Missed | None) -> int:
        """Send what was missed (or the trip's snapshot); the last ``seq`` sent."""
        if missed is None:
            head = trip.version
            snapshot = {"tripId": trip.trip_id, "updateType": "snapshot", "trip": trip.to_json(), "version": head}
            conn.send(self._hub.encode("trip_updated", snapshot))
            return head
        for frame in missed.frames:
            conn.send(frame)
        return missed.up_to

    async def _announce_joined(self, conn: Connection, trip_id: str) -> None:
        data: dict[str, Any] = {"tripId": trip_id, "userId": conn.user_id}
        if conn.name is not None:
            data["name"] = conn.name
        data["timestamp"] = self._pipeline.now()
        await self._broadcaster.room_signal(trip_id, "user_joined", data, exclude_user=conn.user_id)

    async def leave(
        self, conn: Connection, origin: Origin, trip_id: str, ref: str | None, *, reason: str | None = None
    ) -> None:
        self.require_seat(conn, trip_id)
        command = "leave_trip_room" if reason is None else "room_access_revoked"
        await self._pipeline.record(
            Request(origin, command, {"tripId": trip_id}, ref, trip_id),
            ({"type": "user_left", "data": {"tripId": trip_id, **({"reason": reason} if reason else {})}},),
        )
        await self._vacate(conn, trip_id)
        data = {"tripId": trip_id} if reason is None else {"tripId": trip_id, "reason": reason}
        conn.send(self._hub.encode("trip_room_left", data, ref))

    async def _vacate(self, conn: Connection, trip_id: str) -> None:
        await self._stop_typing(conn, trip_id, announce=True)
        self._hub.exit(conn, trip_id)
        _, gone = await self._rosters.leave(trip_id, conn.session_id)
        if gone:
            await self._broadcaster.room_signal(
                trip_id,
                "user_left",
                {"tripId": trip_id, "userId": conn.user_id, "timestamp": self._pipeline.now()},
                exclude_user=conn.user_id,
            )

    async def leave_all(self, conn: Connection, *, dropped: bool = False) -> None:
        """The connection is gone: vacate every room it sat in.  A ``dropped`` one (no close
        frame: the network went) stays in the member lists for the grace period, so that a
        resume, on any node, shows no ``user_left``; a closed one is announced at once."""
        grace = self._limits.presence_grace_seconds
        for trip_id in list(conn.seats):
            if not dropped or grace <= 0:
                await self._vacate(conn, trip_id)
                continue
            await self._stop_typing(conn, trip_id, announce=True)
            self._hub.exit(conn, trip_id)
            await self._hold_place(conn, trip_id)

    async def hand_over(self, conn: Connection, trip_ids: tuple[str, ...]) -> None:
        """A resume took the connection's session over (``service.takeover``): nothing is
        announced.  Where the session's new connection is on another node (or not seated yet),
        this node's place for it is held as for a drop: the new connection's seat takes it
        over, else the grace ends it (and a shared roster keeps the entry of the higher claim)."""
        if self._hub.holds(conn.session_id):
            return  # the new connection is here: the rooms' entries are its own already
        for trip_id in trip_ids:
            try:
                await self._stop_typing(conn, trip_id, announce=False)
                await self._hold_place(conn, trip_id)
            except Exception:
                log.exception("rooms: could not hand session %s over in room %s", conn.session_id, trip_id)

    async def _hold_place(self, conn: Connection, trip_id: str) -> None:
        """Keep the connection's place in the room for the grace period, awaiting a resume."""
        await self._rosters.seen(trip_id, conn.session_id, self._pipeline.now())
        key = (conn.session_id, trip_id)
        grace = max(self._limits.presence_grace_seconds, 0.0)
        earlier = self._graces.pop(key, None)
        if earlier is not None:
            earlier.cancel()
        self._graces[key] = asyncio.get_running_loop().call_later(grace, self._grace_over, key, conn.user_id)

    def _grace_over(self, key: tuple[str, str], user_id: str) -> None:
        if self._graces.pop(key, None) is None:
            return
        if self._hub.seated(*key):
            # the session resumed on this node and sits in the room: the place is its new
            # connection's (a place kept after the resume had reseated it, keeping it took
            # a round trip to the shared roster); ending it would tell the room it left
            return
        task = asyncio.ensure_future(self._expire(*key, user_id))
        self._expiring.add(task)
        task.add_done_callback(self._expiring.discard)

    async def _expire(self, session_id: str, trip_id: str, user_id: str) -> None:
        """No resume within the grace period: the member goes (unless another node took it over)."""
        try:
            _, gone = await self._rosters.expire(trip_id, session_id)
            if gone:
                data = {"tripId": trip_id, "userId": user_id, "timestamp": self._pipeline.now()}
                await self._broadcaster.room_signal(trip_id, "user_left", data, exclude_user=user_id)
        except Exception:
            log.exception("rooms: could not end the grace of session %s in room %s", session_id, trip_id)

    async def member_gone(self, trip_id: str, user_id: str) -> None:
        """A shared roster found the user's last visible connection on a node that died."""
        await self._pipeline.record(
            Request(Origin("system", user_id), "room_presence_expired", {"tripId": trip_id}, trip_id=trip_id),
            ({"type": "user_left", "data": {"tripId": trip_id, "reason": "node_gone"}},),
        )
        await self._broadcaster.room_signal(
            trip_id,
            "user_left",
            {"tripId": trip_id, "userId": user_id, "timestamp": self._pipeline.now()},
            exclude_user=user_id,
        )

    async def member_back(self, trip_id: str, member: RoomMember) -> None:
        """This node's member is shown again after the shared roster lost it (a stall, a Redis restart)."""
        data: dict[str, Any] = {"tripId": trip_id, "userId": member.user_id}
        if member.name is not None:
            data["name"] = member.name
        data["timestamp"] = self._pipeline.now()
        await self._broadcaster.room_signal(trip_id, "user_joined", data, exclude_user=member.user_id)

    async def revoke(self, conn: Connection, trip_id: str) -> None:
        if trip_id not in conn.seats:
            return
        origin = Origin("system", conn.user_id, conn.role, conn.session_id)
        await self.leave(conn, origin, trip_id, None, reason="access_revoked")

    async def typing(self, conn: Connection, origin: Origin, payload: dict[str, Any], ref: str | None) -> None:
        trip_id, is_typing = payload["tripId"], payload["isTyping"]
        await self._record_signal(origin, "typing", payload, ref, "user_typing", {"isTyping": is_typing})
        key = (conn.session_id, trip_id)
        timer = self._typing.pop(key, None)
        if timer is not None:
            timer.cancel()
        if is_typing:
            loop = asyncio.get_running_loop()
            self._typing[key] = loop.call_later(
                self._limits.typing_clear_seconds,
                lambda: asyncio.ensure_future(self._stop_typing(conn, trip_id, announce=True, expired=True)),
            )
        if not conn.hidden:
            await self._announce_typing(conn, trip_id, is_typing)

    async def _stop_typing(self, conn: Connection, trip_id: str, *, announce: bool, expired: bool = False) -> None:
        timer = self._typing.pop((conn.session_id, trip_id), None)
        if timer is None:
            return
        if not expired:
            timer.cancel()
        if announce and not conn.hidden and trip_id in conn.seats:
            await self._announce_typing(conn, trip_id, False)

    async def _announce_typing(self, conn: Connection, trip_id: str, is_typing: bool) -> None:
        await self._broadcaster.room_signal(
            trip_id,
            "user_typing",
            {"tripId": trip_id, "userId": conn.user_id, "isTyping": is_typing},
            exclude_user=conn.user_id,
        )

    async def _record_signal(
        self, origin: Origin, command: str, payload: dict[str, Any], ref: str | None, event: str, data: dict[str, Any]
    ) -> None:
        """Room signals are logged as commands; they take no place in the trip's stream."""
        trip_id = payload["tripId"]
        await self._pipeline.record(
            Request(origin, command, payload, ref, trip_id), ({"type": event, "data": {"tripId": trip_id, **data}},)
        )

    async def viewing(self, origin: Origin, identity: Identity, trip_id: str, body: dict[str, Any]) -> str | None:
        """Which item of the trip the caller has open: a room signal (``user_viewing``) to
        the others, logged, outside the trip's stream; returns the item's id."""
        await self._trips.visible_trip(identity, trip_id)
        data: dict[str, Any] = {"tripId": trip_id, "userId": identity.user_id, "itemId": body.get("itemId")}
        if identity.name:
            data["name"] = identity.name
        await self._pipeline.record(
            Request(origin, "viewing", body, trip_id=trip_id), ({"type": "user_viewing", "data": data},)
        )
        await self._broadcaster.room_signal(trip_id, "user_viewing", data, exclude_user=identity.user_id)
        item_id: str | None = data["itemId"]
        return item_id

    async def chat_sent(self, conn: Connection, trip_id: str) -> None:
        """A chat message clears its sender's typing indicator at once."""
        await self._stop_typing(conn, trip_id, announce=True)

    async def set_hidden(self, conn: Connection, origin: Origin, hidden: bool, ref: str | None) -> None:
        """The user hides or shows their presence: saved (the record, folded into their
        choice for later sessions), applied to this connection before the answer, and to
        the user's other connections on every node through the bus."""
        await self._pipeline.record(
            Request(origin, "presence_visibility", {"hidden": hidden}, ref),
            ({"type": "presence_visibility_set", "data": {"hidden": hidden}},),
        )
        await self._show_or_hide(conn, hidden)
        await self._broadcaster.visibility(conn.user_id, hidden)
        conn.send(self._hub.encode("presence_visibility_set", {"hidden": hidden}, ref))

    async def _show_or_hide(self, conn: Connection, hidden: bool) -> None:
        if conn.hidden == hidden:
            return
        for trip_id in list(conn.seats):
            if hidden:
                await self._stop_typing(conn, trip_id, announce=True)
        conn.hidden = hidden
        for trip_id in list(conn.seats):
            member, gone = await self._rosters.leave(trip_id, conn.session_id)
            if member is None:
                continue
            shown = await self._rosters.join(trip_id, dataclasses.replace(member, hidden=hidden))
            data = {"tripId": trip_id, "userId": conn.user_id, "timestamp": self._pipeline.now()}
            if gone:
                await self._broadcaster.room_signal(trip_id, "user_left", data, exclude_user=conn.user_id)
            if shown:
                await self._announce_joined(conn, trip_id)

    async def presence(self, conn: Connection, origin: Origin, payload: dict[str, Any], ref: str | None) -> None:
        trip_id, status = payload["tripId"], payload["status"]
        await self._record_signal(origin, "presence_update", payload, ref, "user_presence_updated", {"status": status})
        await self._rosters.set_status(trip_id, conn.session_id, status, self._clock.monotonic())
        data = {"tripId": trip_id, "userId": conn.user_id, "status": status}
        if conn.hidden:
            conn.send(self._hub.encode("user_presence_updated", data, ref))
            return
        await self._broadcaster.room_signal(trip_id, "user_presence_updated", data, ref=ref, sender=conn.session_id)
