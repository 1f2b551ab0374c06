"""Per-user and per-address token buckets for REST commands on one node (429 when empty).

The WebSocket side limits frames per connection and handshakes per user; a REST
command costs as much as a frame but has no connection to hang a bucket on, so
it is counted against its caller's user and its address.
"""

from __future__ import annotations

from dataclasses import dataclass

from domain.rate_limit import BucketRule
from service.admission import ConnectAttempts

COMMAND_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True, slots=True)
class RestRefusal:
    wait_ms: int
    message: str


class RestLimiter:
    def __init__(self, per_user: BucketRule, per_ip: BucketRule) -> None:
        self._per_user = per_user
        self._per_ip = per_ip
        self._users = ConnectAttempts()
        self._ips = ConnectAttempts()

    def take(self, user_id: str | None, ip: str, now: float) -> RestRefusal | None:
        """Spend one command of the address's allowance, and of the user's when one is
        signed in; None when both allow it."""
        wait = self._ips.take(ip, self._per_ip, now)
        if wait is not None:
            return RestRefusal(wait, "too many requests from this address")
        if user_id is not None:
            wait = self._users.take(user_id, self._per_user, now)
            if wait is not None:
                return RestRefusal(wait, "too many requests for this user")
        return None
