"""A real 3-master Redis Cluster for the whole test session.

Register with ``pytest_plugins = ["tests.plugins.redis_cluster"]`` (or ``-p
tests.plugins.redis_cluster``). The cluster starts only when a test asks for it; it costs
about 2 s, most of it Redis's own wait before a fresh master accepts writes.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from frolic.stack.redis_cluster import start_cluster


@pytest.fixture(scope="session")
def redis_cluster_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``redis+cluster://`` URL of every node; pass it to ``frolic.redis_client.connect``."""
    with start_cluster(tmp_path_factory.mktemp("redis-cluster"), masters=3) as cluster:
        yield cluster.url
