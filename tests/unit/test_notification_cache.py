"""The per-user notification fold and the budget the recent users are held within (pure)."""

from __future__ import annotations

from typing import Any

from eventlog.records import SlimRecord
from projections.notification_cache import USER_OVERHEAD, RecentNotifications, UserNotifications

ANA, BEN = "a" * 24, "b" * 24


def _record(position: int, *events: dict[str, Any]) -> SlimRecord:
    at = f"2026-12-07T00:00:{position:02d}.000Z"
    return SlimRecord(position, at, "notify", "accepted", None, None, None, None, None, None, 2, list(events))


def created(user: str, note: str) -> dict[str, Any]:
    return {"type": "notification_created", "data": {"notificationId": note, "userId": user, "title": note}}


def read(user: str, note: str) -> dict[str, Any]:
    return {"type": "notification_read", "data": {"notificationId": note, "userId": user}}


def test_a_users_fold_takes_only_their_events_and_each_record_once() -> None:
    notes = UserNotifications(ANA)
    chat = {"type": "chat_message", "data": {"messageId": "m", "userId": ANA, "message": "hi", "type": "text"}}
    assert notes.apply(_record(1, chat, created(ANA, "n1"), created(BEN, "n2")))
    assert notes.apply(_record(2, read(BEN, "n2"), read(ANA, "n9")))  # Ana has no n9: nothing to mark
    assert not notes.apply(_record(2, read(ANA, "n1")))  # folded already
    assert notes.of() == [
        {"notificationId": "n1", "title": "n1", "createdAt": "2026-12-07T00:00:01.000Z", "read": False}
    ]
    assert notes.apply(_record(3, read(ANA, "n1")))
    assert notes.of(unread_only=True) == [] and notes.find("n1") == {**notes.of()[0], "read": True}
    assert notes.find("n2") is None and notes.position == 3


def test_the_least_recently_used_users_are_dropped_past_the_budget() -> None:
    users = [f"{n:024x}" for n in range(6)]
    held = RecentNotifications(budget=3 * USER_OVERHEAD)
    for user in users:
        held.hold(UserNotifications(user))
    assert held.held_users == 3 and held.held_bytes <= 3 * USER_OVERHEAD
    held.hold(held.get(users[3]))  # used again: the newest
    held.hold(UserNotifications(users[0]))
    assert [held.holds(user) for user in users] == [True, False, False, True, False, True]


def test_a_user_heavier_than_the_budget_is_held_alone_and_reweighed_when_held_again() -> None:
    held = RecentNotifications(budget=USER_OVERHEAD)
    ana = UserNotifications(ANA)
    ana.apply(_record(1, created(ANA, "n1")))
    held.hold(UserNotifications(BEN))
    held.hold(ana)
    assert held.held_users == 1 and held.holds(ANA) and held.held_bytes == ana.weight > USER_OVERHEAD
    ana.apply(_record(2, created(ANA, "n2")))
    held.hold(ana)
    assert held.held_bytes == ana.weight
    assert RecentNotifications(None).get(BEN).position == 0  # not held: an empty fold to catch up
