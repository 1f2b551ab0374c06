"""The read side is derived from the log only: rebuilding from an empty read
side gives what the live one has, and applying a record twice changes nothing."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path
from typing import Any

from app import build
from config import Settings
from domain.errors import CommandRefused
from eventlog.ports import EventStore
from projections.read_side import ReadSide
from service.auth import Identity
from service.container import Services
from service.pipeline import Origin

USERS = [f"{n:024x}" for n in range(1, 7)]


def identity(user: str, *, admin: bool = False) -> Identity:
    return Identity(user, "admin" if admin else "user", f"user-{user[-1]}", 2**31)


async def services_on(path: Path) -> Services:
    return await build(Settings(store_url=f"sqlite:///{path}", jwt_secret="s" * 32))


async def mixed_session(services: Services, rng: random.Random, commands: int) -> int:
    """Hundreds of commands of every kind, some refused; returns how many were accepted."""
    trips = []
    for n in range(4):
        owner = USERS[n % 3]
        trip = await services.trips.create(
            Origin("rest", owner), identity(owner), {"title": f"Trip {n}", "collaborators": USERS[3:5]}
        )
        trips.append(trip.trip_id)
    accepted = 0
    for i in range(commands):
        trip_id = rng.choice(trips)
        user = rng.choice(USERS[:5])
        who = identity(user)
        origin = Origin("ws", user, "user", f"s{i % 7}")
        state = services.read_side.trips.get(trip_id)
        assert state is not None
        roll = rng.random()
        try:
            if roll < 0.35:
                await (
                    await services.trips.chat(
                        origin, who, trip_id, {"tripId": trip_id, "message": f"msg {i}", "type": "text"}, f"r{i}"
                    )
                )
            elif roll < 0.5:
                await (
                    await services.trips.update(
                        origin,
                        who,
                        trip_id,
                        {"tripId": trip_id, "updateType": "day_added"},
                        {"day": {"date": f"2026-12-{rng.randint(1, 28):02d}"}},
                        None,
                    )
                )
            elif roll < 0.6 and state.days:
                day = rng.choice(state.days)
                await (
                    await services.trips.update(
                        origin,
                        who,
                        trip_id,
                        {"tripId": trip_id, "updateType": "activity_added"},
                        {"dayId": day.day_id, "activity": {"title": f"a{i}"}},
                        None,
                    )
                )
            elif roll < 0.7 and any(d.activities for d in state.days):
                day = rng.choice([d for d in state.days if d.activities])
                act = rng.choice(day.activities)
                await (
                    await services.trips.update(
                        origin,
                        who,
                        trip_id,
                        {"tripId": trip_id, "updateType": "activity_updated", "baseVersion": max(1, state.version - 3)},
                        {"dayId": day.day_id, "activityId": act.activity_id, "changes": {"notes": f"n{i}"}},
                        None,
                    )
                )
            elif roll < 0.75 and state.days:
                await (
                    await services.trips.update(
                        origin,
                        who,
                        trip_id,
                        {"tripId": trip_id, "updateType": "day_removed"},
                        {"dayId": rng.choice(state.days).day_id},
                        None,
                    )
                )
            elif roll < 0.85:
                await (
                    await services.trips.update(
                        origin,
                        who,
                        trip_id,
                        {"tripId": trip_id, "updateType": "constraint_added"},
                        {"constraint": {"type": "budget", "value": {"max": i}}},
                        None,
                    )
                )
            elif roll < 0.9:
                await (
                    await services.trips.update(
                        origin,
                        who,
                        trip_id,
                        {"tripId": trip_id, "updateType": "day_removed"},
                        {"dayId": "9" * 24},
                        None,
                    )
                )  # refused: no such day
            elif roll < 0.95:
                target = rng.choice(USERS)
                await services.trips.add_collaborator(Origin("rest", user), who, trip_id, target)
            else:
                notes = await services.notifications.of(who, unread_only=True)
                if notes:
                    await services.notifications.mark_read(Origin("rest", user), who, notes[0]["notificationId"])
            accepted += 1
        except CommandRefused:
            pass
    return accepted


async def test_a_rebuild_from_an_empty_read_side_equals_the_live_one(tmp_path: Path) -> None:
    services = await services_on(tmp_path / "e.db")
    try:
        accepted = await mixed_session(services, random.Random(7), 400)
        assert accepted > 200
        for trip_id in list(services.read_side.trips.snapshot()):
            await services.read_side.catch_up_trip(trip_id)
        await services.read_side.catch_up_notifications()
        live = services.read_side.snapshot()
        rebuilt = (await ReadSide.rebuild(services.store)).snapshot()
        assert rebuilt == live
        assert sum(len(m) for m in live["chat"].values()) > 100
        assert any(live["notifications"].values())
    finally:
        await services.store.close()


async def test_applying_every_record_twice_changes_nothing(tmp_path: Path) -> None:
    services = await services_on(tmp_path / "e.db")
    try:
        await mixed_session(services, random.Random(11), 150)
        once = await ReadSide.rebuild(services.store)
        for record in await services.store.read_all(0, 100_000):
            once.apply_any(record)
        assert once.snapshot() == (await ReadSide.rebuild(services.store)).snapshot()
    finally:
        await services.store.close()


async def test_two_nodes_racing_on_one_stream_keep_versions_gap_free(tmp_path: Path) -> None:
    """Each node decides on its own cached state; a lost race re-reads and decides again."""
    node_a = await services_on(tmp_path / "shared.db")
    node_b = await services_on(tmp_path / "shared.db")
    try:
        owner = USERS[0]
        trip = await node_a.trips.create(Origin("rest", owner), identity(owner), {"title": "Race"})
        await node_b.read_side.catch_up_trip(trip.trip_id)

        async def writer(node: Services, tag: str) -> None:
            for i in range(25):
                await (
                    await node.trips.chat(
                        Origin("ws", owner, "user", tag),
                        identity(owner),
                        trip.trip_id,
                        {"tripId": trip.trip_id, "message": f"{tag}{i}", "type": "text"},
                        None,
                    )
                )

        await asyncio.gather(writer(node_a, "a"), writer(node_b, "b"))
        store: EventStore = node_a.store
        versions = [r.version for r in await store.read_stream(trip.trip_id)]
        assert versions == list(range(1, 52))
        logged = [r.events[0]["data"]["message"] for r in await store.read_stream(trip.trip_id, 1)]
        assert node_a.opener is not None  # sealed in the log; node A opens node B's with the shared keys
        messages: list[Any] = node_a.opener.open(logged)
        assert sorted(messages) == sorted([f"a{i}" for i in range(25)] + [f"b{i}" for i in range(25)])
    finally:
        await node_a.store.close()
        await node_b.store.close()
