"""Builds and appends the log record of every inbound command."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from domain.errors import CommandRefused
from eventlog.ports import EventStore
from eventlog.records import ACCEPTED, REFUSED, LogRecord, new_record
from service.clock import Clock, iso


@dataclass(frozen=True, slots=True)
class Origin:
    """Who sent a command, and through what."""

    source: str  # "ws", "rest" or "system"
    user_id: str | None = None
    role: str | None = None
    session_id: str | None = None


def refusal_json(refusal: CommandRefused) -> dict[str, Any]:
    out: dict[str, Any] = {"code": refusal.code.value, "message": refusal.message}
    if refusal.details is not None:
        out["details"] = refusal.details
    return out


class Recorder:
    def __init__(self, store: EventStore, clock: Clock, new_id: Callable[[], str]) -> None:
        self.store = store
        self.clock = clock
        self.new_id = new_id

    def now(self) -> str:
        return iso(self.clock.now())

    def build(self, origin: Origin, command: str, outcome: str, **fields: Any) -> LogRecord:
        meta = fields.pop("meta", None)
        if origin.role is not None:
            meta = {"role": origin.role, **(meta or {})}
        return new_record(
            record_id=self.new_id(),
            at=fields.pop("at", None) or self.now(),
            source=origin.source,
            command=command,
            outcome=outcome,
            user_id=origin.user_id,
            session_id=origin.session_id,
            meta=meta,
            **fields,
        )

    async def accepted(self, origin: Origin, command: str, **fields: Any) -> LogRecord:
        return await self.store.append(self.build(origin, command, ACCEPTED, **fields))

    async def refused(self, origin: Origin, command: str, refusal: CommandRefused, **fields: Any) -> LogRecord:
        record = await self.store.append(self.build(origin, command, REFUSED, error=refusal_json(refusal), **fields))
        refusal.recorded = True
        return record
