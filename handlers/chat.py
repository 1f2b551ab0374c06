"""One chat message over REST: edit it (PATCH) or delete it (DELETE), react to it (PUT and
DELETE of a reaction) (docs/openapi.yaml)."""

from __future__ import annotations

from domain import schemas
from handlers.trips import TripApiHandler
from service.frames import chat_change_frame, message_reactions


class MessageHandler(TripApiHandler):
    async def patch(self, trip_id: str, message_id: str) -> None:
        async def edit() -> None:
            identity = self.authenticate()
            trip_key = self.path_id(trip_id, "tripId")
            payload = {"tripId": trip_key, "messageId": self.path_id(message_id, "messageId")}
            payload.update(schemas.check_body("edit_message", self.json_body()))
            outcome = await (await self.trips.edit_message(self.origin, identity, trip_key, payload, None))
            self.send_json(chat_change_frame(outcome.record))

        await self.answer(edit, command="edit_message")

    async def delete(self, trip_id: str, message_id: str) -> None:
        async def delete() -> None:
            identity = self.authenticate()
            trip_key = self.path_id(trip_id, "tripId")
            payload = {"tripId": trip_key, "messageId": self.path_id(message_id, "messageId")}
            outcome = await (await self.trips.delete_message(self.origin, identity, trip_key, payload, None))
            self.send_json(chat_change_frame(outcome.record))

        await self.answer(delete, command="delete_message")


class ReactionHandler(TripApiHandler):
    """``/api/trips/{tripId}/messages/{messageId}/reactions/{emoji}`` (the emoji URL-encoded)."""

    async def put(self, trip_id: str, message_id: str, emoji: str) -> None:
        await self.answer(lambda: self._react(trip_id, message_id, emoji, add=True), command="add_reaction")

    async def delete(self, trip_id: str, message_id: str, emoji: str) -> None:
        await self.answer(lambda: self._react(trip_id, message_id, emoji, add=False), command="remove_reaction")

    async def _react(self, trip_id: str, message_id: str, emoji: str, *, add: bool) -> None:
        identity = self.authenticate()
        trip_key = self.path_id(trip_id, "tripId")
        payload = {
            "tripId": trip_key,
            "messageId": self.path_id(message_id, "messageId"),
            "emoji": schemas.check_emoji(emoji),
        }
        outcome = await (await self.trips.react(self.origin, identity, trip_key, payload, None, add=add))
        assert outcome.trip is not None
        self.send_json(message_reactions(outcome.trip, payload["messageId"]))


class ChatReadHandler(TripApiHandler):
    """``/api/trips/{tripId}/chat/read``: how far the user has read the trip's chat (GET), and
    marking it read up to a ``seq`` (PUT); both answer ``{tripId, readSeq, unread}``."""

    async def get(self, trip_id: str) -> None:
        async def read() -> None:
            identity = self.authenticate()
            self.send_json(await self.trips.unread(identity, self.path_id(trip_id, "tripId")))

        await self.answer(read)

    async def put(self, trip_id: str) -> None:
        async def mark() -> None:
            identity = self.authenticate()
            trip_key = self.path_id(trip_id, "tripId")
            body = schemas.check_body("mark_chat_read", self.json_body())
            self.send_json(await self.trips.mark_read(self.origin, identity, trip_key, body["seq"], None))

        await self.answer(mark, command="mark_chat_read")
