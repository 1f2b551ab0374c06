"""Who is in each trip's room across the service (the member lists).

``RoomRosters`` is the port; ``LocalRosters`` serves a single node, each
operation in constant time (``domain.room.RoomRoster``).  A shared
implementation (Redis) lets every node see every node's members.
"""

from __future__ import annotations

from typing import Any, Protocol

from domain.room import RoomMember, RoomRoster


class RoomRosters(Protocol):
    async def join(self, trip_id: str, member: RoomMember) -> bool: ...

    async def leave(self, trip_id: str, session_id: str) -> tuple[RoomMember | None, bool]: ...

    async def set_status(self, trip_id: str, session_id: str, status: str, at: float) -> None: ...

    async def seen(self, trip_id: str, session_id: str, at: str) -> None:
        """The member's connection dropped at ``at`` (ISO 8601): it stays, in its grace period."""
        ...

    async def expire(self, trip_id: str, session_id: str) -> tuple[RoomMember | None, bool]:
        """A dropped member's grace is over: ``leave``, unless a resume on another node took
        the session over (then nothing changes)."""
        ...

    async def members(self, trip_id: str) -> list[RoomMember]: ...

    async def users(self, trip_id: str) -> frozenset[str]:
        """The users with a connection in the room, hidden ones too."""
        ...

    async def listed(self, trip_id: str, limit: int, joiner: str) -> tuple[list[dict[str, Any]], int]:
        """The member list a joiner (user ``joiner``) is sent, at most ``limit`` users
        besides the joiner (``domain.room.capped``), and how many visible users the room has."""
        ...


class LocalRosters:
    def __init__(self) -> None:
        self._rosters: dict[str, RoomRoster] = {}

    async def join(self, trip_id: str, member: RoomMember) -> bool:
        roster = self._rosters.get(trip_id)
        if roster is None:
            roster = self._rosters[trip_id] = RoomRoster()
        return roster.join(member)

    async def leave(self, trip_id: str, session_id: str) -> tuple[RoomMember | None, bool]:
        roster = self._rosters.get(trip_id)
        if roster is None:
            return None, False
        left = roster.leave(session_id)
        if not roster:
            del self._rosters[trip_id]
        return left

    async def set_status(self, trip_id: str, session_id: str, status: str, at: float) -> None:
        roster = self._rosters.get(trip_id)
        if roster is not None:
            roster.set_status(session_id, status, at)

    async def seen(self, trip_id: str, session_id: str, at: str) -> None:
        roster = self._rosters.get(trip_id)
        if roster is not None:
            roster.seen(session_id, at)

    async def expire(self, trip_id: str, session_id: str) -> tuple[RoomMember | None, bool]:
        return await self.leave(trip_id, session_id)  # one node: nobody else can take it over

    async def members(self, trip_id: str) -> list[RoomMember]:
        roster = self._rosters.get(trip_id)
        return roster.members() if roster is not None else []

    async def users(self, trip_id: str) -> frozenset[str]:
        roster = self._rosters.get(trip_id)
        return roster.users() if roster is not None else frozenset()

    async def listed(self, trip_id: str, limit: int, joiner: str) -> tuple[list[dict[str, Any]], int]:
        roster = self._rosters.get(trip_id)
        if roster is None:
            return [], 0
        return roster.listed(limit, joiner), roster.visible_users
