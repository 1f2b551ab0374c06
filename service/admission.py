"""Admission: which WebSocket handshakes are let in (docs/asyncapi.yaml), before the upgrade.

The origin, the per-user connect rate, and the connection caps (per node, per user,
per address).  Handshakes let in but not yet in the hub are counted too, so that a
burst of simultaneous handshakes cannot pass a cap together.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from config import Limits
from domain.rate_limit import Bucket, BucketRule, take
from service.clock import Clock
from service.hub import Hub
from service.origins import origin_allowed


@dataclass(frozen=True, slots=True)
class Refusal:
    """A handshake refused before the upgrade, as the HTTP answer says it."""

    status: int
    code: str
    message: str
    details: dict[str, Any] | None = None
    retry_after_seconds: int | None = None


class ConnectAttempts:
    """Per-user token buckets for WebSocket handshakes on this node (429 when empty).

    A bucket that has had time to refill completely holds no information, so it is
    dropped once more than ``max_tracked`` users are remembered.
    """

    def __init__(self, max_tracked: int = 10_000) -> None:
        self._buckets: dict[str, Bucket] = {}
        self._max_tracked = max_tracked
        self._prune_at = max_tracked

    def take(self, user_id: str, rule: BucketRule, now: float) -> int | None:
        """Spend one attempt; None when allowed, else the ms until the next one is."""
        bucket = self._buckets.get(user_id) or Bucket.full(rule, now)
        self._buckets[user_id], wait_ms = take(bucket, rule, now)
        if len(self._buckets) > self._prune_at and rule.refill_per_second > 0:
            refill = rule.burst / rule.refill_per_second
            self._buckets = {user: b for user, b in self._buckets.items() if now - b.updated < refill}
            self._prune_at = max(self._max_tracked, 2 * len(self._buckets))  # amortised O(1) per attempt
        return wait_ms


class Admissions:
    """Handshakes let in but not yet in the hub (their ``connect`` record is being
    written).  The connection caps count them too, so that a burst of simultaneous
    handshakes cannot pass a cap together."""

    def __init__(self) -> None:
        self.total = 0
        self._users: dict[str, int] = {}
        self._ips: dict[str, int] = {}

    def for_user(self, user_id: str) -> int:
        return self._users.get(user_id, 0)

    def for_ip(self, ip: str) -> int:
        return self._ips.get(ip, 0)

    def admit(self, user_id: str, ip: str) -> None:
        self.total += 1
        self._users[user_id] = self._users.get(user_id, 0) + 1
        self._ips[ip] = self._ips.get(ip, 0) + 1

    def settled(self, user_id: str, ip: str) -> None:
        """The handshake is in the hub now, or failed."""
        self.total -= 1
        for counts, key in ((self._users, user_id), (self._ips, ip)):
            left = counts.get(key, 0) - 1
            if left > 0:
                counts[key] = left
            else:
                counts.pop(key, None)


class Admission:
    def __init__(self, hub: Hub, limits: Limits, clock: Clock, allowed_origins: tuple[str, ...] | None) -> None:
        self._hub = hub
        self._limits = limits
        self._clock = clock
        self._allowed_origins = allowed_origins
        self._connect_rule = BucketRule(limits.connect_burst, limits.connect_per_second)
        self.attempts = ConnectAttempts()
        self.pending = Admissions()

    def origin_allowed(self, origin: str | None, scheme: str, host: str) -> bool:
        """By scheme, host and port (``service/origins.py``); a request without ``Origin`` is no browser's."""
        if origin is None:
            return True  # not a browser: nothing to hijack
        return origin_allowed(origin, scheme, host, self._allowed_origins)

    def admit(self, user_id: str, ip: str) -> Refusal | None:
        """Let a handshake in (counted from now on, until ``settled``), or say why not."""
        wait_ms = self.attempts.take(user_id, self._connect_rule, self._clock.monotonic())
        if wait_ms is not None:
            return Refusal(
                429,
                "RATE_LIMITED",
                "too many connection attempts for this user",
                {"retryAfterMs": wait_ms},
                math.ceil(wait_ms / 1000),
            )
        hub, pending, limits = self._hub, self.pending, self._limits
        if hub.count() + pending.total >= limits.max_connections:
            return Refusal(503, "UNAVAILABLE", "this node is at its connection limit")
        if hub.count_for_user(user_id) + pending.for_user(user_id) >= limits.max_connections_per_user:
            return Refusal(429, "RATE_LIMITED", "too many connections for this user")
        if hub.count_for_ip(ip) + pending.for_ip(ip) >= limits.max_connections_per_ip:
            return Refusal(429, "RATE_LIMITED", "too many connections from this address")
        pending.admit(user_id, ip)
        return None

    def settled(self, user_id: str, ip: str) -> None:
        """The handshake is in the hub now, or failed."""
        self.pending.settled(user_id, ip)
