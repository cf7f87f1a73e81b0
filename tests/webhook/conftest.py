"""The webhook tests' own fixtures: a queue with the webhook family only, and the local aiohttp
receiver (webhook_server.py) shared by a test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from webhook_server import Receiver

from qtqueue.engine.queue import TaskQueue
from qtqueue.executors import ExecutorRegistry
from qtqueue.families.webhook import family


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """A fresh aiohttp receiver on 127.0.0.1, stopped after the test."""
    server = Receiver()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def wq(data_dir: Path) -> AsyncIterator[TaskQueue]:
    """A queue with the webhook family only."""
    registry = ExecutorRegistry()
    registry.add_family(family)
    async with TaskQueue(data_dir, registry=registry, max_concurrent=4) as queue:
        yield queue
