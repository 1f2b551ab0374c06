"""Who is in each trip's room across the service (the member lists).

``RoomRosters`` is the port; ``LocalRosters`` serves a single node.  A shared
implementation (Redis) lets every node see every node's members.
"""

from __future__ import annotations

from typing import Protocol

from domain import room
from domain.room import RoomMember, Roster


class RoomRosters(Protocol):
    async def join(self, trip_id: str, member: RoomMember) -> bool: ...

    async def leave(self, trip_id: str, session_id: str) -> tuple[RoomMember | None, bool]: ...

    async def set_status(self, trip_id: str, session_id: str, status: str, at: float) -> None: ...

    async def members(self, trip_id: str) -> list[RoomMember]: ...


class LocalRosters:
    def __init__(self) -> None:
        self._rosters: dict[str, Roster] = {}

    async def join(self, trip_id: str, member: RoomMember) -> bool:
        roster, newly_visible = room.join(self._rosters.get(trip_id, room.EMPTY), member)
        self._rosters[trip_id] = roster
        return newly_visible

    async def leave(self, trip_id: str, session_id: str) -> tuple[RoomMember | None, bool]:
        roster, member, gone = room.leave(self._rosters.get(trip_id, room.EMPTY), session_id)
        if roster:
            self._rosters[trip_id] = roster
        else:
            self._rosters.pop(trip_id, None)
        return member, gone

    async def set_status(self, trip_id: str, session_id: str, status: str, at: float) -> None:
        if trip_id in self._rosters:
            self._rosters[trip_id] = room.set_status(self._rosters[trip_id], session_id, status, at)

    async def members(self, trip_id: str) -> list[RoomMember]:
        return list(self._rosters.get(trip_id, room.EMPTY).values())
