"""Fixtures shared by the test packages: a data directory and a running queue on it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from qtqueue.engine.queue import TaskQueue
from qtqueue.executors import default_registry


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A fresh, short data directory (Unix socket paths must stay short)."""
    return tmp_path / "q"


@pytest.fixture
async def queue(data_dir: Path) -> AsyncIterator[TaskQueue]:
    """A started, dispatching TaskQueue with the built-in executors only."""
    async with TaskQueue(data_dir, registry=default_registry(entry_points=False)) as q:
        yield q
