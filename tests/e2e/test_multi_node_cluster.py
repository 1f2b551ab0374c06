"""Several server processes on a three-master Redis Cluster (``--redis redis+cluster://...``): the
multi-node tests of room traffic and of presence, run again with the sharded bus and presence."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.test_multi_node import (
    test_presence_and_typing_span_nodes,
    test_room_traffic_reaches_every_node_in_one_seq_order_and_projections_agree,
)

pytestmark = pytest.mark.e2e

__all__ = [
    "test_presence_and_typing_span_nodes",
    "test_room_traffic_reaches_every_node_in_one_seq_order_and_projections_agree",
]


@pytest.fixture
def redis_url(redis_cluster_url: str) -> str:
    return redis_cluster_url


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/events.db"
