"""``domain.room.RoomRoster`` and ``service.presence.LocalRosters``: who is shown,
announced and listed; the member list a joiner gets is capped, the joiner in it."""

from __future__ import annotations

from domain.room import RoomMember, RoomRoster, capped, visible_members
from service.presence import LocalRosters


def member(session: str, user: str, *, hidden: bool = False, name: str | None = None) -> RoomMember:
    return RoomMember(session, user, name, hidden)


def test_a_user_is_announced_on_the_first_visible_connection_and_gone_with_the_last() -> None:
    roster = RoomRoster()
    assert roster.join(member("s1", "u1")) is True
    assert roster.join(member("s2", "u1")) is False  # a second tab
    assert roster.join(member("s1", "u1")) is False  # the same connection again
    assert roster.join(member("h1", "u2", hidden=True)) is False
    assert roster.leave("s1") == (member("s1", "u1"), False)
    assert roster.leave("h1") == (member("h1", "u2", hidden=True), False)
    assert roster.leave("s2") == (member("s2", "u1"), True)
    assert roster.leave("s2") == (None, False)
    assert len(roster) == 0


def test_a_hidden_connection_does_not_make_its_user_visible_nor_keep_them() -> None:
    roster = RoomRoster()
    roster.join(member("h", "u1", hidden=True))
    assert roster.join(member("s", "u1")) is True
    assert roster.leave("s")[1] is True
    assert roster.listed(10, "u1") == []


def test_the_list_shows_each_visible_user_once_with_the_status_set_last() -> None:
    roster = RoomRoster()
    roster.join(member("a1", "ua", name="Ada"))
    roster.join(member("a2", "ua", name="Ada"))
    roster.join(member("b1", "ub"))
    roster.set_status("a1", "busy", 2.0)
    roster.set_status("a2", "away", 1.0)
    assert roster.listed(10, "ub") == [
        {"userId": "ua", "name": "Ada", "status": "busy"},
        {"userId": "ub", "status": "online"},
    ]
    assert roster.listed(10, "ub") == visible_members(roster.members())


def test_a_large_room_lists_the_first_users_to_arrive_and_the_joiner() -> None:
    roster = RoomRoster()
    for i in range(5):
        roster.join(member(f"s{i}", f"u{i}"))
    assert [e["userId"] for e in roster.listed(3, "u1")] == ["u0", "u1", "u2"]
    assert [e["userId"] for e in roster.listed(3, "u4")] == ["u0", "u1", "u2", "u4"]
    assert roster.visible_users == 5
    roster.leave("s0")
    assert [e["userId"] for e in roster.listed(3, "u1")] == ["u1", "u2", "u3"]


def test_hidden_joins_leave_the_list_as_built_and_visible_changes_rebuild_it() -> None:
    roster = RoomRoster()
    roster.join(member("s1", "u1"))
    first = roster.listed(10, "u1")
    for i in range(100):
        roster.join(member(f"h{i}", f"admin{i}", hidden=True))
    assert roster.listed(10, "u1") is first
    roster.set_status("s1", "away", 1.0)
    assert roster.listed(10, "u1") == [{"userId": "u1", "status": "away"}]


def test_capped_keeps_the_joiner_from_beyond_the_limit() -> None:
    entries = [{"userId": f"u{i}", "status": "online"} for i in range(4)]
    assert capped(entries, 10, "u3") == entries
    assert [e["userId"] for e in capped(entries, 2, "u3")] == ["u0", "u1", "u3"]
    assert [e["userId"] for e in capped(entries, 2, "u0")] == ["u0", "u1"]


async def test_local_rosters_list_and_count_and_forget_an_empty_room() -> None:
    rosters = LocalRosters()
    assert await rosters.listed("t", 2, "u0") == ([], 0)
    for i in range(3):
        await rosters.join("t", member(f"s{i}", f"u{i}"))
    await rosters.join("t", member("h", "admin", hidden=True))
    listed, shown = await rosters.listed("t", 2, "u2")
    assert ([e["userId"] for e in listed], shown) == (["u0", "u1", "u2"], 3)
    assert len(await rosters.members("t")) == 4
    for session in ("s0", "s1", "s2", "h"):
        await rosters.leave("t", session)
    assert await rosters.members("t") == []
    assert await rosters.leave("t", "s0") == (None, False)


async def test_the_users_in_a_room_follow_joins_and_leaves_hidden_ones_too() -> None:
    rosters = LocalRosters()
    assert await rosters.users("t") == frozenset()
    await rosters.join("t", member("s1", "u1"))
    await rosters.join("t", member("h1", "u2", hidden=True))
    assert await rosters.users("t") == {"u1", "u2"}
    await rosters.join("t", member("s2", "u1"))  # a second tab
    await rosters.join("t", member("s3", "u3"))
    assert await rosters.users("t") == {"u1", "u2", "u3"}
    await rosters.leave("t", "s1")
    assert await rosters.users("t") == {"u1", "u2", "u3"}  # still there in the other tab
    await rosters.leave("t", "s2")
    await rosters.leave("t", "h1")
    assert await rosters.users("t") == {"u3"}
