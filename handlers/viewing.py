"""``PUT /api/trips/{tripId}/viewing``: which item of a trip the caller has open.

A room signal like typing: the others in the room get ``user_viewing`` so the
page can put the caller's avatar on that day, activity or constraint. It is
logged as a command and takes no place in the trip's stream; the page repeats
it while the item stays open, and others forget it after a while (a closed tab
sends nothing)."""

from __future__ import annotations

from domain import schemas
from handlers.base import ApiHandler
from handlers.bounded import RestEdge
from service.rooms import RoomService


class ViewingHandler(ApiHandler):
    def initialize(self, edge: RestEdge, rooms: RoomService) -> None:
        self.edge = edge
        self.rooms = rooms

    async def put(self, trip_id: str) -> None:
        async def tell() -> None:
            identity = self.authenticate()
            trip_key = self.path_id(trip_id, "tripId")
            body = schemas.check_body("viewing", self.json_body())
            item_id = await self.rooms.viewing(self.origin, identity, trip_key, body)
            self.send_json({"itemId": item_id})

        await self.answer(tell, command="viewing")
