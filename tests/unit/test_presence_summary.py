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

    assert changes.summary(TRIP, 100) == (
        {
            "tripId": TRIP,
            "joined": [{"userId": "tom", "timestamp": "t2"}],
            "left": [{"userId": "ana", "timestamp": "t3"}],
            "joinedCount": 1,
            "leftCount": 1,
        },
        None,
    )


def test_a_user_who_left_and_came_back_is_listed_as_joined_with_the_latest_entry() -> None:
    changes = PresenceChanges()
    changes.add(LEFT, signal("ana", "t1"))
    changes.add(JOINED, signal("ana", "t2", name="Ana"))

    summary, _ = changes.summary(TRIP, 100)
    assert summary["joined"] == [{"userId": "ana", "name": "Ana", "timestamp": "t2"}] and summary["left"] == []


def test_the_lists_are_capped_and_the_counts_say_how_many_are_listed_or_still_to_come() -> None:
    changes = PresenceChanges()
    for n in range(250):
        changes.add(JOINED, signal(f"u{n}", f"t{n}"))
    for n in range(3):
        changes.add(LEFT, signal(f"v{n}", "t"))

    summary, _ = changes.summary(TRIP, 100)
    assert [e["userId"] for e in summary["joined"]] == [f"u{n}" for n in range(100)]
    assert summary["joinedCount"] == 250 and summary["leftCount"] == 3 and len(summary["left"]) == 3


def test_the_changes_a_capped_summary_leaves_out_are_listed_in_the_next_ones() -> None:
    changes: PresenceChanges | None = PresenceChanges()
    assert changes is not None
    for n in range(400):  # a node restart: its 400 users leave at once
        changes.add(LEFT, signal(f"u{n}", "t"))

    frames = []
    while changes is not None:
        summary, changes = changes.summary(TRIP, 100)
        frames.append(summary)

    assert [len(f["left"]) for f in frames] == [100, 100, 100, 100]
    assert [f["leftCount"] for f in frames] == [400, 300, 200, 100]
    assert [e["userId"] for f in frames for e in f["left"]] == [f"u{n}" for n in range(400)]


def test_a_user_left_out_of_a_summary_who_comes_back_is_listed_once_as_they_are_now() -> None:
    changes = PresenceChanges()
    for n in range(150):
        changes.add(LEFT, signal(f"u{n}", "t1"))
    first, rest = changes.summary(TRIP, 100)
    assert rest is not None and len(first["left"]) == 100

    rest.add(JOINED, signal("u120", "t2"))  # left, not yet told, and back meanwhile
    rest.add(LEFT, signal("u5", "t2"))  # listed as left already, and left again (another session)
    second, after = rest.summary(TRIP, 100)

    assert after is None
    assert [e["userId"] for e in second["joined"]] == ["u120"]
    left = [e["userId"] for e in second["left"]]
    assert "u120" not in left and left == [f"u{n}" for n in range(100, 150) if n != 120] + ["u5"]
    assert second["joinedCount"] == 1 and second["leftCount"] == 50
