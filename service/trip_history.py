"""A trip's history: who changed what and when, the trip as it was, and going back to it.

Queries read the log (``projections.time_travel``, slim reads in bounded pages); a
restore is a command like any other: it leaves one record through the pipeline and
is broadcast as ``trip_updated`` (``trip_restored``).
"""

from __future__ import annotations

from typing import Any

from domain.errors import CommandRefused, ErrorCode, invalid
from domain.trip_decider import RestoreTrip
from domain.trip_model import Trip
from eventlog.ports import EventStore
from projections.time_travel import history_page, trip_at
from service.auth import Identity
from service.clock import iso, parse_iso
from service.pipeline import Origin, Pipeline, Request
from service.trips import TripService, actor_of


class TripHistory:
    def __init__(self, pipeline: Pipeline, trips: TripService, store: EventStore) -> None:
        self._pipeline = pipeline
        self._trips = trips
        self._store = store

    async def changes(self, identity: Identity, trip_id: str, before: int | None, limit: int) -> dict[str, Any]:
        """A page of the plan's changes, newest first: ``{"changes": [...], "next": CURSOR|null}``."""
        await self._trips.visible_trip(identity, trip_id)
        records, cursor = await history_page(self._store, trip_id, before, limit)
        changes: list[dict[str, Any]] = []
        for record in records:
            event = record.stream_event
            if event["type"] == "trip_created":
                kind, data = "trip_created", {"title": event["data"]["title"]}
            else:
                kind, data = event["data"]["updateType"], event["data"]["data"]
            changes.append(
                {"version": record.version, "updateType": kind, "data": data, "userId": record.user_id, "at": record.at}
            )
        return {"changes": changes, "next": cursor}

    async def as_of(self, identity: Identity, trip_id: str, version: int | None, instant: str | None) -> dict[str, Any]:
        """The trip as it was after ``version`` or at ``instant``: ``{"trip", "version", "head"}``."""
        await self._trips.visible_trip(identity, trip_id)
        until = None
        if instant is not None:
            try:
                until = iso(parse_iso(instant))
            except (ValueError, OverflowError):
                raise invalid("at", "must be an ISO 8601 instant") from None
        found = await trip_at(self._store, trip_id, version=version, until=until)
        if found.trip is None:
            raise CommandRefused(ErrorCode.NOT_FOUND, "the trip did not exist yet then")
        return {"trip": found.trip.to_json(), "version": found.version, "head": found.head}

    async def restore(self, origin: Origin, identity: Identity, trip_id: str, to_version: int) -> Trip:
        """Return the plan to how it was after ``to_version``, as one new change."""
        await self._trips.visible_trip(identity, trip_id)
        target = (await trip_at(self._store, trip_id, version=to_version)).trip
        request = Request(origin, "restore_trip", {"toVersion": to_version}, trip_id=trip_id)
        audience = await self._trips.audience(trip_id, identity.user_id)
        outcome = await self._pipeline.run(request, RestoreTrip(actor_of(identity), to_version, target, audience))
        assert outcome.trip is not None
        return outcome.trip
