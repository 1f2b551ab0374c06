"""The people-seen port: who signed in lately, so collaborators can be invited by name
(``service.signin.PeopleDirectory``, ``GET /api/people``).

Names are personal data: the adapters hold them only as the service hands them over,
sealed under each person's key (``service.privacy``), so erasing a person's keys masks
their name wherever it is kept.  The adapters keep the ``capacity`` people seen most
recently and forget the rest.  Adapters: ``eventlog.memory_people`` (one node, lost on
restart), ``eventlog.redis_people`` (shared by every node, kept across restarts), both
run by ``tests/contract/test_people_seen.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class SeenPerson:
    user_id: str
    name: str  # sealed, as the service handed it over
    role: str


class PeopleSeen(Protocol):
    async def saw(self, person: SeenPerson, at: float) -> None:
        """``person`` signed in at ``at`` (epoch seconds): kept, with this name and role,
        among the most recent; the least recent beyond the capacity are forgotten."""
        ...

    async def recent(self) -> list[SeenPerson]:
        """The people kept, the most recently seen first."""
        ...

    async def forget(self, user_id: str) -> None:
        """Forget the person (an erasure); nothing if they are not kept."""
        ...
