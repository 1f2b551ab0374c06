"""Trips, chat history and the trip stream over REST (docs/openapi.yaml)."""

from __future__ import annotations

from typing import Any

from domain import schemas
from domain.chat_notes import noted_view
from domain.errors import CommandRefused, ErrorCode
from handlers.base import ApiHandler
from handlers.bounded import RestEdge
from service.invites import TripInvites
from service.trip_history import TripHistory
from service.trips import TripService


class TripApiHandler(ApiHandler):
    def initialize(self, edge: RestEdge, trips: TripService) -> None:
        self.edge = edge
        self.trips = trips


class TripsHandler(TripApiHandler):
    async def post(self) -> None:
        async def create() -> None:
            identity = self.authenticate()
            body = schemas.check_body("create_trip", self.json_body())
            if "ownerId" in body and not identity.is_admin:
                raise CommandRefused(ErrorCode.FORBIDDEN, "only admins may choose a trip's owner")
            trip = await self.trips.create(self.origin, identity, body)
            self.send_json(trip.to_json(), 201)

        await self.answer(create, command="create_trip")


class TripHandler(ApiHandler):
    def initialize(self, edge: RestEdge, trips: TripService, history: TripHistory) -> None:
        self.edge = edge
        self.trips = trips
        self.history = history

    async def get(self, trip_id: str) -> None:
        async def read() -> None:
            identity = self.authenticate()
            trip_key = self.path_id(trip_id, "tripId")
            at = self.get_query_argument("at", None) or None
            if self.get_query_argument("atVersion", None) or at is not None:  # the trip as it was
                version = self.int_arg("atVersion", 0, 1, None) or None
                self.send_json((await self.history.as_of(identity, trip_key, version, at))["trip"])
                return
            trip = await self.trips.visible_trip(identity, trip_key)
            self.send_json(trip.to_json())

        await self.answer(read)


class CollaboratorsHandler(TripApiHandler):
    async def post(self, trip_id: str) -> None:
        async def add() -> None:
            identity = self.authenticate()
            trip_key = self.path_id(trip_id, "tripId")
            body = schemas.check_body("add_collaborator", self.json_body())
            trip = await self.trips.add_collaborator(self.origin, identity, trip_key, body["userId"].lower())
            self.send_json(trip.to_json())

        await self.answer(add, command="add_collaborator")


class CollaboratorHandler(TripApiHandler):
    async def delete(self, trip_id: str, user_id: str) -> None:
        async def remove() -> None:
            identity = self.authenticate()
            trip_key = self.path_id(trip_id, "tripId")
            user_key = self.path_id(user_id, "userId")
            trip = await self.trips.remove_collaborator(self.origin, identity, trip_key, user_key)
            self.send_json(trip.to_json())

        await self.answer(remove, command="remove_collaborator")


class MessagesHandler(TripApiHandler):
    async def get(self, trip_id: str) -> None:
        async def read() -> None:
            identity = self.authenticate()
            trip_key = self.path_id(trip_id, "tripId")
            limit = self.int_arg("limit", 50, 1, 200)
            before = self.get_query_argument("before", None) or None
            if before is not None:
                before = self.path_id(before, "before")
            messages = await self.trips.messages(identity, trip_key, limit, before)
            self.send_json({"messages": messages})

        await self.answer(read)


class TripEventsHandler(TripApiHandler):
    async def get(self, trip_id: str) -> None:
        async def read() -> None:
            identity = self.authenticate()
            trip_key = self.path_id(trip_id, "tripId")
            after = self.int_arg("after", 0, 0, None)
            limit = self.int_arg("limit", 100, 1, 1000)
            records, notes = await self.trips.stream(identity, trip_key, after, limit)
            events: list[dict[str, Any]] = []
            for record in records:
                event = record.stream_event
                data = event["data"]
                if event["type"] == "chat_message" and notes:  # edited or deleted since: as it is now
                    data = noted_view(data, notes.get(data["messageId"]))
                events.append(
                    {
                        "seq": record.version,
                        "type": event["type"],
                        "data": data,
                        "userId": record.user_id,
                        "timestamp": record.at,
                    }
                )
            next_cursor = records[-1].version if len(records) == limit else None
            self.send_json({"events": events, "next": next_cursor})

        await self.answer(read)


class _InvitesHandler(ApiHandler):
    """What both invite routes are given."""

    def initialize(self, edge: RestEdge, invites: TripInvites) -> None:
        self.edge = edge
        self.invites = invites


class TripInvitesHandler(_InvitesHandler):
    """``POST /api/trips/{tripId}/invites``: an invite link to the trip; ``DELETE``: every
    invite link made so far revoked (``service.invites``)."""

    async def post(self, trip_id: str) -> None:
        async def create() -> None:
            identity = self.authenticate()
            invite = await self.invites.create(self.origin, identity, self.path_id(trip_id, "tripId"))
            self.send_json(invite.view(), 201)

        await self.answer(create, command="create_invite")

    async def delete(self, trip_id: str) -> None:
        async def revoke() -> None:
            identity = self.authenticate()
            trip = await self.invites.revoke(self.origin, identity, self.path_id(trip_id, "tripId"))
            self.send_json(trip.to_json())

        await self.answer(revoke, command="revoke_invites")


class InviteAcceptHandler(_InvitesHandler):
    """``POST /api/invites/accept`` ``{invite}``: the caller joins the invite's trip as a collaborator."""

    async def post(self) -> None:
        async def accept() -> None:
            identity = self.authenticate()
            body = schemas.check_body("accept_invite", self.json_body())
            trip = await self.invites.accept(self.origin, identity, body["invite"])
            self.send_json(trip.to_json())

        await self.answer(accept, command="accept_invite")
