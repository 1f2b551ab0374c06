"""A chat message notifies the trip's members who are not in its room; the rooms'
rosters (a Redis round trip on several nodes) are asked only when there is such a
member to decide about."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from app import build
from config import Settings
from service.auth import Identity
from service.container import Services
from service.pipeline import Origin

OWNER, FRIEND = "650000000000000000000001", "650000000000000000000002"


def counting_roster_reads(services: Services) -> list[str]:
    """The trips whose rosters were read (the real rosters, only watched)."""
    asked: list[str] = []
    read = services.rosters.users

    async def watched(trip_id: str) -> Any:
        asked.append(trip_id)
        return await read(trip_id)

    services.rosters.users = watched  # type: ignore[method-assign]
    return asked


async def chat_once(services: Services, trip_id: str, ref: str) -> list[dict[str, Any]]:
    origin = Origin("ws", OWNER, "user", "session-1")
    outcome = await (
        await services.trips.chat(
            origin,
            Identity(OWNER, "user", "Ada", 2**31),
            trip_id,
            {"tripId": trip_id, "message": "hi", "type": "text"},
            ref,
        )
    )
    return list(outcome.record.events)


async def test_rosters_are_asked_only_when_another_member_could_be_notified(tmp_path: Path) -> None:
    services = await build(Settings(store_url=f"sqlite:///{tmp_path / 'events.db'}", jwt_secret="s" * 32))
    try:
        asked = counting_roster_reads(services)
        owner = Identity(OWNER, "user", "Ada", 2**31)
        alone = await services.trips.create(Origin("rest", OWNER), owner, {"title": "Solo"})
        shared = await services.trips.create(
            Origin("rest", OWNER), owner, {"title": "Shared", "collaborators": [FRIEND]}
        )

        events = await chat_once(services, alone.trip_id, "a1")
        assert [e["type"] for e in events] == ["chat_message"]
        assert asked == []  # no one else to notify: no roster read

        events = await chat_once(services, shared.trip_id, "s1")
        assert asked == [shared.trip_id]
        notified = [e["data"]["userId"] for e in events if e["type"] == "notification_created"]
        assert notified == [FRIEND]  # not in the room: notified
    finally:
        await services.store.close()


async def test_membership_is_read_without_folding_the_chat_messages_since(tmp_path: Path) -> None:
    services = await build(Settings(store_url=f"sqlite:///{tmp_path / 'events.db'}", jwt_secret="s" * 32))
    try:
        owner = Identity(OWNER, "user", "Ada", 2**31)
        trip = await services.trips.create(Origin("rest", OWNER), owner, {"title": "Shared", "collaborators": [FRIEND]})
        for n in range(3):
            await chat_once(services, trip.trip_id, f"m{n}")
        trips = services.read_side.trips
        members = trips.membership(trip.trip_id)
        assert members is not None and members.collaborators == (FRIEND,) and members.owner_id == OWNER
        assert members.version < trip.version + 3  # the newest message is not folded in ...
        settled = trips.get(trip.trip_id)
        assert settled is not None and settled.version == trip.version + 3  # ... until the state is asked for
        assert (settled.owner_id, settled.collaborators) == (members.owner_id, members.collaborators)
    finally:
        await services.store.close()
