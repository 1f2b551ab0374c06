"""Who is in a trip's room: a roster of connections, pure functions over it.

A user may hold several connections (tabs, devices); others see them once.
Hidden connections (``presence=hidden``) are in the room but never shown.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Any


@dataclass(frozen=True, slots=True)
class RoomMember:
    session_id: str
    user_id: str
    name: str | None
    hidden: bool
    status: str = "online"
    since: float = 0.0  # when the status was last set; the newest one wins


@dataclass(frozen=True, slots=True)
class MemberGone:
    """A shared roster found a user's last visible connection on a node that died."""

    trip_id: str
    user_id: str


@dataclass(frozen=True, slots=True)
class MemberBack:
    """This node's member is shown again after the shared roster lost it (a stall, a Redis restart)."""

    trip_id: str
    member: RoomMember


RosterNews = MemberGone | MemberBack

Roster = Mapping[str, RoomMember]
EMPTY: Roster = MappingProxyType({})


def _visible_sessions(roster: Roster, user_id: str) -> list[RoomMember]:
    return [m for m in roster.values() if m.user_id == user_id and not m.hidden]


def join(roster: Roster, member: RoomMember) -> tuple[Roster, bool]:
    """Add a connection; True when it makes its user newly visible to others."""
    if member.session_id in roster:
        return roster, False
    was_visible = bool(_visible_sessions(roster, member.user_id))
    updated = MappingProxyType({**roster, member.session_id: member})
    return updated, not member.hidden and not was_visible


def leave(roster: Roster, session_id: str) -> tuple[Roster, RoomMember | None, bool]:
    """Remove a connection; the flag is True when its user is no longer visible."""
    member = roster.get(session_id)
    if member is None:
        return roster, None, False
    updated = MappingProxyType({k: v for k, v in roster.items() if k != session_id})
    gone = not member.hidden and not _visible_sessions(updated, member.user_id)
    return updated, member, gone


def set_status(roster: Roster, session_id: str, status: str, at: float) -> Roster:
    member = roster.get(session_id)
    if member is None:
        return roster
    return MappingProxyType({**roster, session_id: replace(member, status=status, since=at)})


def visible_members(members: Iterable[RoomMember]) -> list[dict[str, Any]]:
    """The member list others see: one entry per visible user, latest status."""
    by_user: dict[str, RoomMember] = {}
    for member in members:
        if member.hidden:
            continue
        known = by_user.get(member.user_id)
        if known is None or member.since > known.since:
            by_user[member.user_id] = member
    out = []
    for member in by_user.values():
        entry: dict[str, Any] = {"userId": member.user_id}
        if member.name is not None:
            entry["name"] = member.name
        entry["status"] = member.status
        out.append(entry)
    return out
