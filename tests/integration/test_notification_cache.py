"""A serving node holds only the recent users' notifications, within its budget, and reads the
others from the store by recipient: whatever it dropped, ``GET /api/notifications``, marking one
read and live delivery give the same answers as a fold of the whole log."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from app import build
from config import Limits, Settings
from domain.errors import CommandRefused
from eventlog.memory_store import MemoryEventStore
from eventlog.ports import EventStore
from projections.read_side import ReadSide
from service.auth import Identity
from service.container import Services
from service.pipeline import Origin
from tests.integration.test_session_pipeline import AWAY, FRIEND, OWNER, Client, chat, log_of, trip_with_room

pytestmark = pytest.mark.integration

USERS = [f"6500000000000000000000{n:02d}" for n in range(10, 16)]
ADMIN = Origin("rest", OWNER, "admin")
HOLDS_ONE_USER = Limits(notification_cache_mib=0)  # only the user just asked about stays held


def who(user: str) -> Identity:
    return Identity(user, "user", f"user-{user[-1]}", 2**31)


async def started(store: EventStore | None = None, **settings: str) -> Services:
    return await build(Settings(jwt_secret="s" * 32, limits=HOLDS_ONE_USER, **settings), store)  # type: ignore[arg-type]


async def stopped(services: Services) -> None:
    for follower in services.followers:
        follower.cancel()
    await services.bus.close()
    await services.store.close()


@pytest.fixture
async def node() -> AsyncIterator[Services]:
    services = await started(MemoryEventStore())
    try:
        yield services
    finally:
        await stopped(services)


async def _notify_everyone(node: Services, rounds: int) -> dict[str, list[str]]:
    ids: dict[str, list[str]] = {}
    for n in range(rounds):
        for user in USERS:
            notification_id, _ = await node.notifications.notify(ADMIN, {"userId": user, "title": f"t{n}"})
            ids.setdefault(user, []).append(notification_id)
    return ids


async def test_notifications_read_again_after_being_dropped_equal_a_fold_of_the_whole_log(node: Services) -> None:
    ids = await _notify_everyone(node, 3)
    for user in USERS:
        await node.notifications.mark_read(Origin("rest", user), who(user), ids[user][1])
    held = node.read_side.recent_notifications
    assert held.held_users == 1 and held.holds(USERS[-1])  # the others were dropped
    whole = await ReadSide.rebuild(node.store)
    for user in USERS:
        assert not held.holds(user)
        assert await node.notifications.of(who(user), False) == whole.notifications.of(user)
        unread = await node.notifications.of(who(user), True)
        assert [n["notificationId"] for n in unread] == [ids[user][0], ids[user][2]]  # exact unread
        assert unread == whole.notifications.of(user, unread_only=True)
    assert node.read_side.notifications.snapshot() == {}  # the whole log's are never folded on the node


async def test_marking_a_dropped_notification_read_answers_the_same_and_records_once(node: Services) -> None:
    ids = await _notify_everyone(node, 1)
    user, other = USERS[0], USERS[1]
    await node.notifications.of(who(user), False)
    await node.notifications.of(who(other), False)  # drops the first user
    first = await node.notifications.mark_read(Origin("rest", user), who(user), ids[user][0])
    await node.notifications.of(who(other), False)
    again = await node.notifications.mark_read(Origin("rest", user), who(user), ids[user][0])
    assert first == again and first["read"] is True
    assert len(await log_of(node, "mark_notification_read")) == 1  # already read: not recorded again
    with pytest.raises(CommandRefused, match="no such notification"):
        await node.notifications.mark_read(Origin("rest", other), who(other), ids[user][0])  # not theirs


def opened(node: Services, notifications: Any) -> Any:
    """As an answer shows them: the service keeps personal data sealed, frames and REST answers open it."""
    assert node.opener is not None
    return node.opener.open(notifications)


async def test_a_notification_delivered_live_is_listed_the_same_after_its_user_was_dropped(node: Services) -> None:
    trip_id, clients = await trip_with_room(node, OWNER, FRIEND)
    away = Client(node, AWAY)  # connected, not in the room
    await away.session.start()
    await node.notifications.of(who(AWAY), False)  # held, then caught up by recipient
    await clients[OWNER].send("chat_message", chat(trip_id, "dinner at 8?"), "c1")
    await clients[OWNER].settled()
    [live] = away.socket.events("notification")
    assert opened(node, await node.notifications.of(who(AWAY), False)) == [{**live["data"], "read": False}]
    await node.notifications.of(who(FRIEND), False)  # drops AWAY
    assert not node.read_side.recent_notifications.holds(AWAY)
    assert opened(node, await node.notifications.of(who(AWAY), True)) == [{**live["data"], "read": False}]


async def test_another_node_on_the_same_log_gives_the_same_answers(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'events.db'}"
    writer, reader = await started(store_url=url), await started(store_url=url)
    try:
        ids = await _notify_everyone(writer, 2)
        before = {user: await reader.notifications.of(who(user), False) for user in USERS}  # reader holds one
        for user in USERS:
            await writer.notifications.mark_read(Origin("rest", user), who(user), ids[user][0])
        for user in USERS:
            mine = await writer.notifications.of(who(user), False)
            assert await reader.notifications.of(who(user), False) == mine
            assert [n["read"] for n in mine] == [True, False] and [n["read"] for n in before[user]] == [False, False]
    finally:
        await stopped(writer)
        await stopped(reader)
