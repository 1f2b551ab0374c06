"""A large room's presence summary: each user's net change, capped lists, counts."""

from __future__ import annotations

from domain.presence_summary import JOINED, LEFT, PresenceChanges

TRIP = "6650c3e2a41f5b7d9e0c1a2b"


def signal(user: str, at: str, **extra: str) -> dict[str, str]:
    return {"tripId": TRIP, "userId": user, "timestamp": at, **extra}


def test_a_user_who_joined_and_left_within_the_interval_is_listed_as_left_only() -> None:
    changes = PresenceChanges()
    changes.add(JOINED, signal("ana", "t1", name="Ana"))
    changes.add(JOINED, signal("tom", "t2"))
    changes.add(LEFT, signal("ana", "t3"))

    assert changes.summary(TRIP, 100) == {
        "tripId": TRIP,
        "joined": [{"userId": "tom", "timestamp": "t2"}],
        "left": [{"userId": "ana", "timestamp": "t3"}],
        "joinedCount": 1,
        "leftCount": 1,
    }


def test_a_user_who_left_and_came_back_is_listed_as_joined_with_the_latest_entry() -> None:
    changes = PresenceChanges()
    changes.add(LEFT, signal("ana", "t1"))
    changes.add(JOINED, signal("ana", "t2", name="Ana"))

    summary = changes.summary(TRIP, 100)
    assert summary["joined"] == [{"userId": "ana", "name": "Ana", "timestamp": "t2"}] and summary["left"] == []


def test_the_lists_are_capped_and_the_counts_say_how_many_changed_in_all() -> None:
    changes = PresenceChanges()
    for n in range(250):
        changes.add(JOINED, signal(f"u{n}", f"t{n}"))
    for n in range(3):
        changes.add(LEFT, signal(f"v{n}", "t"))

    summary = changes.summary(TRIP, 100)
    assert [e["userId"] for e in summary["joined"]] == [f"u{n}" for n in range(100)]
    assert summary["joinedCount"] == 250 and summary["leftCount"] == 3 and len(summary["left"]) == 3
