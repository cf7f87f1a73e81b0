"""What the queue-order tests share: a task the test's gate holds, and a filled only slot."""

from __future__ import annotations

from typing import Any

from helpers.gate import Gate
from helpers.waiting import eventually

from qtqueue.core.task import Task
from qtqueue.engine.queue import TaskQueue


def gated(label: Any = None, **fields: Any) -> Task:
    """A task of the test's "gated" handler; `label` is what it records when it starts."""
    return Task("gated", {"label": label}, **fields)


async def blocked(queue: TaskQueue, gate: Gate) -> str:
    """Fill the only slot with a task that runs until the test lets it through."""
    busy = await queue.add_task(gated("busy"))
    await eventually(lambda: gate.running, what="the blocker holds the only slot")
    return busy
