"""``PUT /api/trips/{tripId}/viewing``: which item of a trip the caller has open.

A room signal like typing: the others in the room get ``user_viewing`` so the
page can put the caller's avatar on that day, activity or constraint. It is
logged as a command and takes no place in the trip's stream; the page repeats
it while the item stays open, and others forget it after a while (a closed tab
sends nothing)."""

from __future__ import annotations

from typing import Any

from domain import schemas
from handlers.base import ApiHandler


class ViewingHandler(ApiHandler):
    async def put(self, trip_id: str) -> None:
        async def tell() -> None:
            identity = self.authenticate()
            trip_key = self.path_id(trip_id, "tripId")
            body = schemas.check_body("viewing", self.json_body())
            await self.services.trips.visible_trip(identity, trip_key)
            data: dict[str, Any] = {"tripId": trip_key, "userId": identity.user_id, "itemId": body.get("itemId")}
            if identity.name:
                data["name"] = identity.name
            await self.services.recorder.accepted(
                self.origin, "viewing", trip_id=trip_key, payload=body, events=({"type": "user_viewing", "data": data},)
            )
            await self.services.broadcaster.room_signal(trip_key, "user_viewing", data, exclude_user=identity.user_id)
            self.send_json({"itemId": data["itemId"]})

        await self.answer(tell, command="viewing")
