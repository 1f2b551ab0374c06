"""Trips and their chat: the application service behind REST and WebSocket."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from domain.errors import CommandRefused, ErrorCode
from domain.trip_decider import (
    Actor,
    AddCollaborator,
    ChatMessagePosted,
    CreateTrip,
    PostChatMessage,
    RemoveCollaborator,
    TripEvent,
    UpdateTrip,
    fresh_ids_for_days,
    fresh_ids_needed,
)
from domain.trip_model import Trip, can_view
from eventlog.ports import EventStore
from eventlog.records import LogRecord
from projections.notifications import NOTIFICATION_CREATED, notification_view
from projections.read_side import ReadSide
from service.auth import Identity
from service.broadcaster import Broadcaster
from service.presence import RoomRosters
from service.recorder import Origin
from service.runner import Outcome, TripRequest, TripRunner

CHAT_PREVIEW_LENGTH = 100


def actor_of(identity: Identity) -> Actor:
    return Actor(identity.user_id, identity.is_admin, identity.name)


class TripService:
    def __init__(
        self,
        runner: TripRunner,
        read_side: ReadSide,
        store: EventStore,
        broadcaster: Broadcaster,
        rosters: RoomRosters,
        new_id: Callable[[], str],
    ) -> None:
        self._runner = runner
        self._read_side = read_side
        self._store = store
        self._broadcaster = broadcaster
        self._rosters = rosters
        self._new_id = new_id

    # queries ---------------------------------------------------------------

    async def visible_trip(self, identity: Identity, trip_id: str, *, fresh: bool = True) -> Trip:
        trip = await self._read_side.trip(trip_id, fresh=fresh)
        if trip is None:
            raise CommandRefused(ErrorCode.TRIP_NOT_FOUND, "trip not found")
        if not can_view(trip, identity.user_id, identity.is_admin):
            raise CommandRefused(ErrorCode.FORBIDDEN, "you have no access to this trip")
        return trip

    async def messages(self, identity: Identity, trip_id: str, limit: int, before: str | None) -> list[dict[str, Any]]:
        await self.visible_trip(identity, trip_id)
        page = await self._read_side.chat_page(trip_id, limit, before)
        if page is None:
            raise CommandRefused(ErrorCode.VALIDATION_ERROR, "before: no such message", {"before": ["no such message"]})
        return page

    async def stream(self, identity: Identity, trip_id: str, after: int, limit: int) -> list[LogRecord]:
        await self.visible_trip(identity, trip_id)
        return await self._store.read_stream(trip_id, after_version=after, limit=limit)

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
        outcome = await self._runner.run(TripRequest(origin, "create_trip", trip_id, body), command)
        assert outcome.trip is not None
        return outcome.trip

    async def add_collaborator(self, origin: Origin, identity: Identity, trip_id: str, user_id: str) -> Trip:
        await self.visible_trip(identity, trip_id)
        request = TripRequest(origin, "add_collaborator", trip_id, {"userId": user_id})
        outcome = await self._runner.run(
            request, AddCollaborator(actor_of(identity), user_id), after_append=self._broadcast
        )
        assert outcome.trip is not None
        return outcome.trip

    async def remove_collaborator(self, origin: Origin, identity: Identity, trip_id: str, user_id: str) -> Trip:
        await self.visible_trip(identity, trip_id)
        request = TripRequest(origin, "remove_collaborator", trip_id, {"userId": user_id})

        async def broadcast_and_revoke(outcome: Outcome) -> None:
            await self._broadcast(outcome)
            await self._broadcaster.revoke(trip_id, user_id)

        outcome = await self._runner.run(
            request, RemoveCollaborator(actor_of(identity), user_id), after_append=broadcast_and_revoke
        )
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
    ) -> Outcome:
        update_type = payload["updateType"]
        command = UpdateTrip(
            actor_of(identity),
            update_type,
            update,
            payload.get("baseVersion"),
            tuple(self._new_id() for _ in range(fresh_ids_needed(update_type, update))),
        )
        request = TripRequest(origin, "trip_update", trip_id, payload, ref, _key(identity, ref))
        return await self._runner.run(request, command, after_append=self._broadcast)

    async def chat(
        self, origin: Origin, identity: Identity, trip_id: str, payload: dict[str, Any], ref: str | None
    ) -> Outcome:
        in_room = await self._in_room_if_needed(trip_id, identity.user_id)
        command = PostChatMessage(actor_of(identity), self._new_id(), payload["message"], payload["type"])

        def notify_absent(state: Trip | None, event: TripEvent) -> list[dict[str, Any]]:
            if state is None or not isinstance(event, ChatMessagePosted):
                return []
            members = [state.owner_id, *state.collaborators]
            return [
                {
                    "type": NOTIFICATION_CREATED,
                    "data": {
                        "notificationId": self._new_id(),
                        "userId": user,
                        "kind": "chat_message",
                        "tripId": trip_id,
                        "messageId": event.message_id,
                        "fromUserId": event.user_id,
                        "preview": event.message[:CHAT_PREVIEW_LENGTH],
                    },
                }
                for user in members
                # not looked up (no one else had access a moment ago): a member added since is notified
                if user != identity.user_id and (in_room is None or user not in in_room)
            ]

        request = TripRequest(origin, "chat_message", trip_id, payload, ref, _key(identity, ref))

        async def broadcast_and_notify(outcome: Outcome) -> None:
            await self._broadcast(outcome)
            for event in outcome.record.events[1:]:
                if event["type"] == NOTIFICATION_CREATED:
                    data = notification_view(event["data"], outcome.record.at)
                    await self._broadcaster.to_user(event["data"]["userId"], "notification", data)

        return await self._runner.run(request, command, side_events=notify_absent, after_append=broadcast_and_notify)

    async def _in_room_if_needed(self, trip_id: str, sender: str) -> set[str] | None:
        """Who is in the trip's room, for notifying the members who are not; None
        without asking the rosters (a round trip to Redis on several nodes) when
        the trip as this node knows it has no member but the sender."""
        known = self._read_side.trips.membership(trip_id)
        if known is not None and not ({known.owner_id, *known.collaborators} - {sender}):
            return None
        return {m.user_id for m in await self._rosters.members(trip_id)}

    async def _broadcast(self, outcome: Outcome) -> None:
        record = outcome.record
        await self._broadcaster.stream_record(record, ref=record.ref, sender=record.session_id)


def _key(identity: Identity, ref: str | None) -> str | None:
    return f"{identity.user_id}:{ref}" if ref is not None else None
