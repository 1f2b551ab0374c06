"""The spent-tickets port: a WebSocket ticket (``service.signin``) is good on every node,
so whether it was used is kept where every node sees it.

A ticket proves itself (it is signed with the secret the nodes share); what a signature
cannot prove is that it was not used before.  ``spend`` answers that, once per ticket,
atomically: of any number of calls with one ticket id, on any nodes, exactly one gets
True.  Adapters: ``eventlog.memory_tickets`` (one node), ``eventlog.redis_tickets`` (every
node sharing one Redis), both run by ``tests/contract/test_spent_tickets.py``.
"""

from __future__ import annotations

from typing import Protocol


class SpentTickets(Protocol):
    async def spend(self, ticket_id: str, keep_seconds: float) -> bool:
        """True the first time ``ticket_id`` is spent, False every time after; the ticket is
        remembered for ``keep_seconds`` (at least until it expires), then forgotten.  Raises
        ``StoreUnavailable`` when the answer cannot be had (nothing is then spent)."""
        ...
