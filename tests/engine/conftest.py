"""The engine's own fixtures: a handler the test lets through run by run, on the shared
`queue` (tests/conftest.py)."""

from __future__ import annotations

import pytest
from helpers.gate import Gate
from helpers.queues import QueueFactory

from qtqueue.engine.queue import TaskQueue


@pytest.fixture
def gate(queue: TaskQueue) -> Gate:
    """A "gated" handler registered on `queue`."""
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
