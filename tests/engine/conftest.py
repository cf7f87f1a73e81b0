"""Fixtures: a real TaskQueue on a temporary data directory, and a gated handler."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from qtqueue.engine.queue import TaskQueue

from .helpers import Gate

QueueFactory = Callable[..., Awaitable[TaskQueue]]


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
async def make_queue(data_dir: Path) -> AsyncIterator[QueueFactory]:
    """Open TaskQueues on `data_dir` (keyword arguments go to TaskQueue); all closed at the end."""
    opened: list[TaskQueue] = []

    async def make(**kwargs: Any) -> TaskQueue:
        kwargs.setdefault("max_concurrent", 2)
        queue = TaskQueue(kwargs.pop("data_dir", data_dir), **kwargs)
        await queue.start()
        opened.append(queue)
        return queue

    try:
        yield make
    finally:
        for queue in reversed(opened):
            await queue.close()


@pytest.fixture
async def queue(make_queue: QueueFactory) -> TaskQueue:
    """A dispatching queue running two tasks at once, with a "gated" handler registered."""
    return await make_queue()


@pytest.fixture
def gate(queue: TaskQueue) -> Gate:
    g = Gate()
    queue.register_handler("gated", g.handler)
    return g


@pytest.fixture
async def one_slot(make_queue: QueueFactory) -> tuple[TaskQueue, Gate]:
    """A dispatching queue running one task at a time, and its "gated" handler."""
    queue = await make_queue(max_concurrent=1)
    g = Gate()
    queue.register_handler("gated", g.handler)
    return queue, g
