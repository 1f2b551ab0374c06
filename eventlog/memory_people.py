"""``PeopleSeen`` (``eventlog.people_port``) in this process: one node's own, lost on restart."""

from __future__ import annotations

from eventlog.people_port import SeenPerson


class MemoryPeopleSeen:
    def __init__(self, capacity: int) -> None:
        self._capacity = max(1, capacity)
        self._seen: dict[str, tuple[float, SeenPerson]] = {}

    async def saw(self, person: SeenPerson, at: float) -> None:
        held = self._seen.get(person.user_id)
        if held is not None and held[0] > at:
            return  # a later sign-in is kept already
        self._seen[person.user_id] = (at, person)
        if len(self._seen) > self._capacity:  # one over: the least recent goes (a scan, once per newcomer)
            del self._seen[min(self._seen, key=lambda user_id: self._seen[user_id][0])]

    async def recent(self) -> list[SeenPerson]:
        return [person for _, person in sorted(self._seen.values(), key=lambda held: held[0], reverse=True)]

    async def forget(self, user_id: str) -> None:
        self._seen.pop(user_id, None)
