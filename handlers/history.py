"""A trip's history and restore over REST (docs/openapi.yaml)."""

from __future__ import annotations

from domain import schemas
from handlers.base import ApiHandler
from handlers.bounded import RestEdge
from service.trip_history import TripHistory

HISTORY_PAGE_MAX = 200


class HistoryApiHandler(ApiHandler):
    def initialize(self, edge: RestEdge, history: TripHistory) -> None:
        self.edge = edge
        self.history = history


class TripHistoryHandler(HistoryApiHandler):
    async def get(self, trip_id: str) -> None:
        async def read() -> None:
            identity = self.authenticate()
            trip_key = self.path_id(trip_id, "tripId")
            limit = self.int_arg("limit", 50, 1, HISTORY_PAGE_MAX)
            raw_before = self.get_query_argument("before", None)
            before = self.int_arg("before", 0, 1, None) if raw_before else None
            self.send_json(await self.history.changes(identity, trip_key, before, limit))

        await self.answer(read)


class TripRestoreHandler(HistoryApiHandler):
    async def post(self, trip_id: str) -> None:
        async def restore() -> None:
            identity = self.authenticate()
            trip_key = self.path_id(trip_id, "tripId")
            body = schemas.check_body("restore_trip", self.json_body())
            trip = await self.history.restore(self.origin, identity, trip_key, body["toVersion"])
            self.send_json(trip.to_json())

        await self.answer(restore, command="restore_trip")
