"""The cluster tests' real redis-server (`tests/cluster/cluster_env.py`), for the window's
tests of the saved cluster connection."""

from __future__ import annotations

import sys
from pathlib import Path

_CLUSTER_TESTS = str(Path(__file__).resolve().parents[1] / "cluster")
if _CLUSTER_TESTS not in sys.path:
    sys.path.append(_CLUSTER_TESTS)

from cluster_env import RedisServer, redis_server  # noqa: E402

__all__ = ["RedisServer", "redis_server"]
