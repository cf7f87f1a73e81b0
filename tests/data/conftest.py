"""A queue with the data family only (its settings: a small memory limit), and real files of
every format in the test's folder (data_env.py writes them)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from qtqueue.engine.queue import TaskQueue
from qtqueue.executors import ExecutorRegistry
from qtqueue.families.data import family


@pytest.fixture
async def dq(data_dir: Path) -> AsyncIterator[TaskQueue]:
    """A started queue with the data family only, duckdb held to 128 MB and 2 threads."""
    registry = ExecutorRegistry()
    registry.add_family(family)
    async with TaskQueue(
        data_dir,
        registry=registry,
        max_concurrent=2,
        executor_settings={"data_memory_limit_mb": 128, "data_threads": 2},
    ) as queue:
        yield queue
