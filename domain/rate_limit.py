"""Token buckets: how many inbound events a connection may send, and when."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class BucketRule:
    burst: float
    refill_per_second: float


@dataclass(frozen=True, slots=True)
class Bucket:
    tokens: float
    updated: float

    @staticmethod
    def full(rule: BucketRule, now: float) -> Bucket:
        return Bucket(rule.burst, now)


def take(bucket: Bucket, rule: BucketRule, now: float) -> tuple[Bucket, int | None]:
    """Spend one token; returns the new bucket and, when refused, ms until one is back."""
    tokens = min(rule.burst, bucket.tokens + (now - bucket.updated) * rule.refill_per_second)
    if tokens >= 1.0:
        return Bucket(tokens - 1.0, now), None
    if rule.refill_per_second <= 0:
        return Bucket(tokens, now), 60_000
    wait_ms = math.ceil((1.0 - tokens) / rule.refill_per_second * 1000)
    return Bucket(tokens, now), max(wait_ms, 1)
