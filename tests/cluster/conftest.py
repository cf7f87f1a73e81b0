"""The cluster tests' fixture: a fresh redis-server per test (see cluster_env.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cluster_env import RedisServer, redis_server


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of this test's own on 127.0.0.1 (a free port, no persistence)."""
    with redis_server(tmp_path / "redis") as server:
        yield server
