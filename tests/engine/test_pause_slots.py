"""Specification: a paused running task keeps its slot (as pueue does). Its command is
suspended, not ended, so the global limit, its category's limit and its named queue's limit go
on counting it: nothing else starts in its place, and resuming it never runs more than a limit
allows. Real commands; negative claims are checked after the engine's dispatch pass has run."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import psutil
import pytest
from helpers.queues import QueueFactory
from helpers.waiting import eventually

from qtqueue.api.views import task_summary
from qtqueue.core.task import Task, TaskStatus, TaskType
from qtqueue.engine.queue import TaskQueue

S = TaskStatus


async def loop_settled() -> None:
    """Return once every callback the event loop had scheduled so far has run: the engine's
    dispatch passes are scheduled that way, so whatever they would start has started."""
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    loop.call_soon(done.set_result, None)
    await done


def long_command(**fields: Any) -> Task:
    """A real command that runs until it is cancelled."""
    return Task(TaskType.CUSTOM_COMMAND, {"command": "sleep", "args": ["600"]}, **fields)


async def global_limit(make_queue: QueueFactory) -> tuple[TaskQueue, dict[str, Any]]:
    return await make_queue(max_concurrent=1), {}


async def category_limit(make_queue: QueueFactory) -> tuple[TaskQueue, dict[str, Any]]:
    queue = await make_queue(max_concurrent=4)
    queue.set_category_limit("batch", 1)
    return queue, {"category": "batch"}


async def named_queue_limit(make_queue: QueueFactory) -> tuple[TaskQueue, dict[str, Any]]:
    queue = await make_queue(max_concurrent=4)
    await queue.set_queue("one", concurrency=1)
    return queue, {"queue": "one"}


Limited = Callable[[QueueFactory], Awaitable[tuple[TaskQueue, dict[str, Any]]]]


@pytest.mark.parametrize("limited", [global_limit, category_limit, named_queue_limit])
async def test_a_paused_running_task_keeps_its_slot_until_it_ends(
    make_queue: QueueFactory, limited: Limited
) -> None:
    queue, fields = await limited(make_queue)
    first = await queue.add_task(long_command(name="first", **fields))
    pid = await eventually(lambda: _pid(queue, first), what="the first command runs")
    second = await queue.add_task(long_command(name="second", **fields))

    paused = await queue.pause_task(first)
    await loop_settled()
    assert paused.status is S.PAUSED
    assert (await queue.get_task(second)).status is S.PENDING  # nothing took its place
    await eventually(
        lambda: psutil.Process(pid).status() == psutil.STATUS_STOPPED,
        what="the command is suspended, not ended",
    )
    summary = await task_summary(queue, first)
    assert summary["suspended"] is True and summary["holds_slot"] is True

    assert (await queue.resume_task(first)).status is S.RUNNING
    await loop_settled()
    assert (await queue.get_task(second)).status is S.PENDING
    assert (await queue.get_queue_stats())["summary"]["running_tasks"] == 1
    if "queue" in fields:
        assert [q["running"] for q in queue.list_queues() if q["name"] == "one"] == [1]

    await queue.cancel_task(first)  # its end frees the slot, and only then the next starts
    await eventually(lambda: _status(queue, second, S.RUNNING), what="second starts")
    await queue.cancel_task(second)


async def test_a_paused_task_is_counted_by_its_queue_and_its_summary_says_so(
    make_queue: QueueFactory,
) -> None:
    queue = await make_queue(max_concurrent=4)
    await queue.set_queue("one", concurrency=1)
    first = await queue.add_task(long_command(queue="one"))
    await eventually(lambda: _status(queue, first, S.RUNNING), what="the command runs")
    await queue.pause_task(first)
    assert [(q["running"], q["waiting"]) for q in queue.list_queues() if q["name"] == "one"] == [
        (1, 0)
    ]
    await queue.cancel_task(first)
    assert [q["running"] for q in queue.list_queues() if q["name"] == "one"] == [0]


async def test_a_held_pending_task_holds_no_slot(make_queue: QueueFactory) -> None:
    queue = await make_queue(max_concurrent=1)
    held = await queue.add_task(long_command(name="held", run_at=queue.clock() + 3600))
    await queue.pause_task(held)
    summary = await task_summary(queue, held)
    assert (summary["suspended"], summary["holds_slot"]) == (False, False)
    other = await queue.add_task(long_command(name="other"))
    await eventually(lambda: _status(queue, other, S.RUNNING), what="the free slot is used")
    await queue.cancel_task(other)
    await queue.cancel_task(held)


async def _status(queue: TaskQueue, task_id: str, status: TaskStatus) -> bool:
    return (await queue.get_task(task_id)).status is status


async def _pid(queue: TaskQueue, task_id: str) -> int | None:
    return (await queue.get_task(task_id)).pid
