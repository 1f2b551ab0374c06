"""Trips and their chat: the application service behind REST and WebSocket."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from domain.chat_notes import ChatNote
from domain.errors import CommandRefused, ErrorCode
from domain.read_marks import decide_read
from domain.trip_collab import current_values
from domain.trip_decider import (
    Actor,
    AddCollaborator,
    CreateTrip,
    DeleteChatMessage,
    EditChatMessage,
    PostChatMessage,
    ReactToChatMessage,
    RemoveCollaborator,
    UndoChange,
    UpdateTrip,
    fresh_ids_for_days,
    fresh_ids_needed,
)
from domain.trip_model import Trip, can_view
from domain.trip_notices import Audience
from eventlog.ports import EventStore
from eventlog.records import LogRecord
from eventlog.sealing import Opener
from projections.read_side import ReadSide
from service.auth import Identity
from service.ids import ObjectIdFactory
from service.pipeline import Handle, Origin, Pipeline, Request, idempotency_key
from service.presence import RoomRosters

UNREAD_COUNTED = 1000  # unread messages are counted up to this many ("1000 or more")


def actor_of(identity: Identity) -> Actor:
    return Actor(identity.user_id, identity.is_admin, identity.name)


class TripService:
    """Trip commands become pipeline requests; queries read the read side and the log."""

    def __init__(
        self,
        pipeline: Pipeline,
        read_side: ReadSide,
        store: EventStore,
        rosters: RoomRosters,
        new_id: ObjectIdFactory,
        opener: Opener | None = None,
    ) -> None:
        self._pipeline = pipeline
        self._read_side = read_side
        self._store = store
        self._rosters = rosters
        self._new_id = new_id
        self._opener = opener  # opens the state's sealed values, to tell a change from a re-sent value

    # queries ---------------------------------------------------------------

    async def visible_trip(self, identity: Identity, trip_id: str, *, fresh: bool = True) -> Trip:
        trip = await self._read_side.trip(trip_id, fresh=fresh)
        if trip is None:
            raise CommandRefused(ErrorCode.TRIP_NOT_FOUND, "trip not found")
        if not can_view(trip, identity.user_id, identity.is_admin):
            raise CommandRefused(ErrorCode.FORBIDDEN, "you have no access to this trip")
        return trip

    async def catch_up(self, trip_id: str) -> None:
        """Read what the log holds of the trip beyond what this node has seen."""
        await self._read_side.catch_up_trip(trip_id)

    async def state(self, trip_id: str) -> Trip | None:
        """The trip as this node knows it (read from the log if it does not)."""
        return await self._read_side.trip(trip_id, fresh=False)

    async def messages(self, identity: Identity, trip_id: str, limit: int, before: str | None) -> list[dict[str, Any]]:
        await self.visible_trip(identity, trip_id)
        page = await self._read_side.chat_page(trip_id, limit, before)
        if page is None:
            raise CommandRefused(ErrorCode.VALIDATION_ERROR, "before: no such message", {"before": ["no such message"]})
        return page

    async def stream(
        self, identity: Identity, trip_id: str, after: int, limit: int
    ) -> tuple[list[LogRecord], Mapping[str, ChatNote]]:
        """The stream's records, and the trip's chat notes (a deleted message's text is never shown)."""
        trip = await self.visible_trip(identity, trip_id)
        return await self._store.read_stream(trip_id, after_version=after, limit=limit), trip.chat_notes

    # commands ---------------------------------------------------------------

    async def create(
        self, origin: Origin, identity: Identity, body: dict[str, Any], *, trip_id: str | None = None
    ) -> Trip:
        owner = (body.get("ownerId") or identity.user_id).lower()
        trip_id = trip_id or self._new_id()
        days = body.get("days", [])
        command = CreateTrip(
            trip_id,
            body["title"],
            owner,
            tuple(body.get("collaborators", ())),
            tuple(days),
            tuple(self._new_id() for _ in range(fresh_ids_for_days(days))),
        )
        outcome = await self._pipeline.run(Request(origin, "create_trip", body, trip_id=trip_id), command)
        assert outcome.trip is not None
        return outcome.trip

    async def add_collaborator(self, origin: Origin, identity: Identity, trip_id: str, user_id: str) -> Trip:
        await self.visible_trip(identity, trip_id)
        request = Request(origin, "add_collaborator", {"userId": user_id}, trip_id=trip_id)
        outcome = await self._pipeline.run(request, AddCollaborator(actor_of(identity), user_id))
        assert outcome.trip is not None
        return outcome.trip

    async def remove_collaborator(self, origin: Origin, identity: Identity, trip_id: str, user_id: str) -> Trip:
        await self.visible_trip(identity, trip_id)
        request = Request(origin, "remove_collaborator", {"userId": user_id}, trip_id=trip_id)
        outcome = await self._pipeline.run(request, RemoveCollaborator(actor_of(identity), user_id))
        assert outcome.trip is not None
        return outcome.trip

    async def update(
        self,
        origin: Origin,
        identity: Identity,
        trip_id: str,
        payload: dict[str, Any],
        update: dict[str, Any],
        ref: str | None,
    ) -> Handle:
        update_type = payload["updateType"]
        command = UpdateTrip(
            actor_of(identity),
            update_type,
            update,
            payload.get("baseVersion"),
            tuple(self._new_id() for _ in range(fresh_ids_needed(update_type, update))),
            await self.audience(trip_id, identity.user_id),
            await self._unchanged(trip_id, update_type, update),
        )
        key = idempotency_key(identity.user_id, trip_id, "trip_update", ref)
        return await self._pipeline.submit(Request(origin, "trip_update", payload, ref, trip_id, key), command)

    async def _unchanged(self, trip_id: str, update_type: str, update: dict[str, Any]) -> frozenset[str]:
        """The fields a change sends with the value they have now: ``decide`` leaves them out
        (a re-saved title replaces nobody's).  Only here can the sealed values be compared."""
        changes = update.get("changes")
        if not isinstance(changes, dict):
            return frozenset()
        trip = await self._read_side.trip(trip_id, fresh=False)
        current = current_values(trip, update_type, update) if trip is not None else None
        if not current:
            return frozenset()
        shown = self._opener.open(current) if self._opener is not None else current
        return frozenset(name for name, value in changes.items() if name in shown and shown[name] == value)

    async def revert(
        self, origin: Origin, identity: Identity, trip_id: str, kind: str, payload: dict[str, Any], ref: str | None
    ) -> Handle:
        """Undo (``kind="undo"``) or redo the sender's latest change to the trip."""
        key = idempotency_key(identity.user_id, trip_id, kind, ref)
        command = UndoChange(actor_of(identity), kind, await self.audience(trip_id, identity.user_id))
        return await self._pipeline.submit(Request(origin, kind, payload, ref, trip_id, key), command)

    async def chat(
        self, origin: Origin, identity: Identity, trip_id: str, payload: dict[str, Any], ref: str | None
    ) -> Handle:
        present = await self._in_room_if_needed(trip_id, identity.user_id)
        mentions = tuple(user.lower() for user in payload.get("mentions", ()))
        command = PostChatMessage(
            actor_of(identity), self._new_id(), payload["message"], payload["type"], present, mentions
        )
        key = idempotency_key(identity.user_id, trip_id, "chat_message", ref)
        return await self._pipeline.submit(Request(origin, "chat_message", payload, ref, trip_id, key), command)

    async def audience(self, trip_id: str, author: str) -> Audience:
        """Who is told of the values a change replaces: the members outside the room."""
        return Audience(self._new_id(), await self._in_room_if_needed(trip_id, author))

    async def edit_message(
        self, origin: Origin, identity: Identity, trip_id: str, payload: dict[str, Any], ref: str | None
    ) -> Handle:
        message_id = payload["messageId"]
        author = await self._read_side.chat_author(trip_id, message_id)
        command = EditChatMessage(actor_of(identity), message_id, payload["message"], self._pipeline.now(), author)
        key = idempotency_key(identity.user_id, trip_id, "edit_message", ref)
        return await self._pipeline.submit(Request(origin, "edit_message", payload, ref, trip_id, key), command)

    async def delete_message(
        self, origin: Origin, identity: Identity, trip_id: str, payload: dict[str, Any], ref: str | None
    ) -> Handle:
        message_id = payload["messageId"]
        author = await self._read_side.chat_author(trip_id, message_id)
        command = DeleteChatMessage(actor_of(identity), message_id, self._pipeline.now(), author)
        key = idempotency_key(identity.user_id, trip_id, "delete_message", ref)
        return await self._pipeline.submit(Request(origin, "delete_message", payload, ref, trip_id, key), command)

    async def react(
        self, origin: Origin, identity: Identity, trip_id: str, payload: dict[str, Any], ref: str | None, *, add: bool
    ) -> Handle:
        """Add (or remove) the user's reaction ``payload["emoji"]`` to a message."""
        message_id = payload["messageId"]
        author = await self._read_side.chat_author(trip_id, message_id)
        command = ReactToChatMessage(actor_of(identity), message_id, payload["emoji"], add, author)
        name = "add_reaction" if add else "remove_reaction"
        key = idempotency_key(identity.user_id, trip_id, name, ref)
        return await self._pipeline.submit(Request(origin, name, payload, ref, trip_id, key), command)

    # read state ------------------------------------------------------------

    async def mark_read(
        self, origin: Origin, identity: Identity, trip_id: str, seq: int, ref: str | None
    ) -> dict[str, Any]:
        """Mark the trip's chat read up to ``seq`` for the user; their devices are told (the
        record's reactions).  Returns the mark and the unread count after it."""
        trip = await self._read_side.trip(trip_id)  # fresh: a node with nobody in the room lags the log
        await self._read_side.catch_up_read_marks()
        current = self._read_side.read_marks.of(identity.user_id, trip_id)
        event = decide_read(trip, identity.user_id, identity.is_admin, seq, current)
        request = Request(origin, "mark_chat_read", {"tripId": trip_id, "seq": seq}, ref, trip_id)
        await self._pipeline.record(request, (event,))
        assert trip is not None  # decide_read refuses a trip that is not there
        return await self._unread_after(identity, trip, event["data"]["seq"])

    async def unread(self, identity: Identity, trip_id: str) -> dict[str, Any]:
        """How far the user has read the trip's chat, and how many messages of others follow."""
        # fresh, as the count is: this node may have no member in the room to keep the trip current
        trip = await self.visible_trip(identity, trip_id)
        await self._read_side.catch_up_read_marks()
        return await self._unread_after(identity, trip, self._read_side.read_marks.of(identity.user_id, trip_id))

    async def _unread_after(self, identity: Identity, trip: Trip, seq: int) -> dict[str, Any]:
        """The unread count after ``seq``: a message deleted since it was posted (the fresh trip's
        notes say which) is no longer there to read."""
        notes = trip.chat_notes.items()
        deleted = [m for m, note in notes if note.deleted and note.author_id != identity.user_id]
        count = await self._store.count_chat_messages(trip.trip_id, seq, identity.user_id, UNREAD_COUNTED, deleted)
        return {"tripId": trip.trip_id, "readSeq": seq, "unread": count}

    async def _in_room_if_needed(self, trip_id: str, sender: str) -> frozenset[str] | None:
        """Who is in the trip's room, for notifying the members who are not; None
        without asking the rosters (a round trip to Redis on several nodes) when
        the trip as this node knows it has no member but the sender."""
        known = self._read_side.trips.membership(trip_id)
        if known is not None and not ({known.owner_id, *known.collaborators} - {sender}):
            return None
        return await self._rosters.users(trip_id)
