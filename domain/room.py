"""Who is in a trip's room: a roster of connections.

A user may hold several connections (tabs, devices); others see them once.
Hidden connections (``presence=hidden``) are in the room but never shown.

Every operation takes constant time whatever the room's size (a room of 10,000
joining at once after a node restart would otherwise cost the square of it), and
the member list a joiner is sent is capped: the first ``limit`` visible users to
arrive, the joiner among them (``RoomRoster.listed``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any


@dataclass(frozen=True, slots=True)
class RoomMember:
    session_id: str
    user_id: str
    name: str | None
    hidden: bool
    status: str = "online"
    since: float = 0.0  # when the status was last set; the newest one wins
    last_seen: str | None = None  # ISO 8601: when it joined, or when its connection dropped (then in its grace)
    claim: int = 0  # its session's claim (a resume's number, ``eventlog.claims``): a roster keeps the higher


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


def member_entry(member: RoomMember) -> dict[str, Any]:
    """One user as the member list shows them."""
    entry: dict[str, Any] = {"userId": member.user_id}
    if member.name is not None:
        entry["name"] = member.name
    entry["status"] = member.status
    if member.last_seen is not None:
        entry["lastSeen"] = member.last_seen
    return entry


def _shown(sessions: Iterable[RoomMember]) -> RoomMember:
    """The session whose status a user shows: the one set last."""
    return max(sessions, key=lambda m: m.since)


def visible_members(members: Iterable[RoomMember]) -> list[dict[str, Any]]:
    """The member list others see: one entry per visible user, latest status."""
    by_user: dict[str, RoomMember] = {}
    for member in members:
        if member.hidden:
            continue
        known = by_user.get(member.user_id)
        if known is None or member.since > known.since:
            by_user[member.user_id] = member
    return [member_entry(m) for m in by_user.values()]


def capped(entries: list[dict[str, Any]], limit: int, joiner: str) -> list[dict[str, Any]]:
    """The first ``limit`` entries, and the joiner's own if it comes later."""
    if len(entries) <= limit:
        return entries
    head = entries[:limit]
    if not any(e["userId"] == joiner for e in head):
        head += [e for e in entries[limit:] if e["userId"] == joiner]
    return head


class RoomRoster:
    """One room's connections (mutable, owned by one ``LocalRosters``)."""

    __slots__ = ("_listed", "_sessions", "_users", "_visible")

    def __init__(self) -> None:
        self._sessions: dict[str, RoomMember] = {}
        # user -> their visible sessions; in arrival order of the users, which the list keeps
        self._visible: dict[str, dict[str, RoomMember]] = {}
        self._listed: tuple[int, list[dict[str, Any]]] | None = None  # (limit, entries) until a visible change
        self._users: frozenset[str] | None = None  # every member's user, hidden or not, until one comes or goes

    def __len__(self) -> int:
        return len(self._sessions)

    @property
    def visible_users(self) -> int:
        return len(self._visible)

    def members(self) -> list[RoomMember]:
        return list(self._sessions.values())

    def users(self) -> frozenset[str]:
        """The users with a connection here (hidden ones too): asked once per chat message,
        built once per join or leave, not once per message."""
        if self._users is None:
            self._users = frozenset([m.user_id for m in self._sessions.values()])
        return self._users

    def join(self, member: RoomMember) -> bool:
        """Add a connection; True when it makes its user newly visible to others."""
        if member.session_id in self._sessions:
            return False
        self._sessions[member.session_id] = member
        self._users = None
        if member.hidden:
            return False
        self._listed = None
        sessions = self._visible.get(member.user_id)
        if sessions is None:
            self._visible[member.user_id] = {member.session_id: member}
            return True
        sessions[member.session_id] = member
        return False

    def leave(self, session_id: str) -> tuple[RoomMember | None, bool]:
        """Remove a connection; the flag is True when its user is no longer visible."""
        member = self._sessions.pop(session_id, None)
        if member is not None:
            self._users = None
        if member is None or member.hidden:
            return member, False
        self._listed = None
        sessions = self._visible[member.user_id]
        del sessions[session_id]
        if sessions:
            return member, False
        del self._visible[member.user_id]
        return member, True

    def set_status(self, session_id: str, status: str, at: float) -> None:
        member = self._sessions.get(session_id)
        if member is None:
            return
        member = self._sessions[session_id] = replace(member, status=status, since=at)
        if not member.hidden:
            self._visible[member.user_id][session_id] = member
            self._listed = None

    def seen(self, session_id: str, at: str) -> None:
        member = self._sessions.get(session_id)
        if member is None:
            return
        member = self._sessions[session_id] = replace(member, last_seen=at)
        if not member.hidden:
            self._visible[member.user_id][session_id] = member
            self._listed = None

    def listed(self, limit: int, joiner: str) -> list[dict[str, Any]]:
        """The member list a joiner is sent: the first ``limit`` visible users (and
        the joiner, when visible and later); built once per visible change."""
        if self._listed is None or self._listed[0] != limit:
            entries: list[dict[str, Any]] = []
            for sessions in self._visible.values():
                if len(entries) == limit:
                    break
                entries.append(member_entry(_shown(sessions.values())))
            self._listed = (limit, entries)
        entries = self._listed[1]
        if len(self._visible) > limit and joiner in self._visible and not any(e["userId"] == joiner for e in entries):
            return [*entries, member_entry(_shown(self._visible[joiner].values()))]
        return entries
