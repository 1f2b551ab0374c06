from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import mongo_server

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@pytest.fixture
def redis_url() -> str:
    """The Redis the test command provides (TEST_REDIS_URL); tests keep to a private prefix."""
    from tests.redis_server import answers, shared_url

    url = shared_url()
    if not answers(url):
        pytest.skip(f"no Redis answers at {url} (set TEST_REDIS_URL)")
    return url


@pytest.fixture
def prefix(redis_url: str) -> Iterator[str]:
    """A key prefix of this test's own, whose keys are deleted afterwards."""
    from tests.redis_server import private_prefix

    with private_prefix(redis_url) as name:
        yield name


@pytest.fixture(scope="session")
def mongo_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``$MONGO_URL`` when set, else an nx-27017 started for this session (only if a test asks)."""
    with mongo_server.mongo_url(tmp_path_factory.mktemp("nx-27017")) as url:
        yield url


@pytest.fixture
def mongo_database(mongo_url: str) -> Iterator[str]:
    """A database of this test's own, dropped when the test ends."""
    name = mongo_server.unique_database()
    yield name
    mongo_server.drop_database(mongo_url, name)


@pytest.fixture(scope="session")
def redis_cluster_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A three-master Redis Cluster of the suite's own (``tests/redis_cluster.py``), for the session."""
    from tests.redis_cluster import private_cluster

    with private_cluster(tmp_path_factory.mktemp("redis-cluster")) as cluster:
        yield cluster.url
