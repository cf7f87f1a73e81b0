"""Specification of the named queues' result and failure TTLs: completed tasks go once their
queue's result TTL has passed, failed / cancelled / timed-out ones once its failure TTL has,
dead letters stay until purged by hand. Time is a virtual clock the test moves: a task that is
kept is checked right after a deterministic cleanup, never by waiting."""

from __future__ import annotations

import asyncio
from typing import Any

from helpers.gate import Gate
from helpers.queues import QueueFactory
from helpers.virtual_time import VirtualTimer
from helpers.waiting import eventually

from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.core.task import Priority, Task, TaskStatus
from qtqueue.engine.queue import TaskQueue

C = TaskErrorCode
S = TaskStatus
HOUR = 3600.0
DAY = 24 * HOUR


async def on_virtual_time(make_queue: QueueFactory) -> tuple[TaskQueue, Gate, VirtualTimer]:
    """A queue on a virtual clock, with the engine-wide retention off: only the queues' own
    TTLs delete anything."""
    timer = VirtualTimer()
    queue = await make_queue(timer=timer, clock=timer.time, retention_s=None)
    gate = Gate()
    gate.open_all()
    queue.register_handler("gated", gate.handler)
    return queue, gate, timer


async def stored(queue: TaskQueue, task_id: str) -> bool:
    try:
        await queue.get_task(task_id)
    except QueueError as exc:
        assert exc.code is C.QUEUE_TASK_NOT_FOUND
        return False
    return True


async def finished(queue: TaskQueue, **fields: Any) -> str:
    task_id = await queue.add_task(Task("gated", **fields))
    await queue.wait_for(task_id, timeout_s=10)
    return task_id


async def test_each_queue_deletes_its_completed_tasks_after_its_result_ttl(
    make_queue: QueueFactory,
) -> None:
    queue, _, timer = await on_virtual_time(make_queue)
    default = await finished(queue)
    low = await finished(queue, priority=Priority.LOW)  # low_priority: results kept 12 h
    timer.advance(12 * HOUR - 1)
    assert await queue.cleanup() == 0
    timer.advance(2)
    assert await queue.cleanup() == 1
    assert not await stored(queue, low) and await stored(queue, default)
    timer.advance(12 * HOUR)
    assert await queue.cleanup() == 1
    assert not await stored(queue, default)


async def test_failed_tasks_are_kept_for_the_failure_ttl_and_dead_letters_until_purged(
    make_queue: QueueFactory,
) -> None:
    queue, _, timer = await on_virtual_time(make_queue)
    failing = {"fail": C.NETWORK_CONNECTION_FAILED.value}
    failed = await finished(queue, params=failing, max_retries=0)
    dead = await finished(queue, params=failing, max_retries=1, retry_backoff=0)
    assert (await queue.get_task(dead)).dead_letter
    timer.advance(DAY + 1)  # past the result TTL: failures are not results
    assert await queue.cleanup() == 0
    timer.advance(7 * DAY - DAY - 2)
    assert await queue.cleanup() == 0
    timer.advance(2)
    assert await queue.cleanup() == 1
    assert not await stored(queue, failed)
    timer.advance(365 * DAY)
    assert await queue.cleanup() == 0
    assert (await queue.get_task(dead)).dead_letter, "a dead letter stays until purged"


async def test_a_changed_failure_ttl_is_what_the_scheduled_cleanup_keeps_to(
    make_queue: QueueFactory,
) -> None:
    queue, _, timer = await on_virtual_time(make_queue)
    await queue.set_queue("default", failure_ttl_s=HOUR)
    cancelled = await queue.add_task(Task("gated", run_at=timer.time() + DAY))
    await queue.cancel_task(cancelled)
    completed = await finished(queue)
    await queue.settled()
    timer.advance(HOUR + 1)  # the cleanup timer falls due on the way
    await eventually(
        lambda: _gone(queue, cancelled), what="the cancelled task is deleted after an hour"
    )
    assert await stored(queue, completed), "its result is kept 24 h"


async def _gone(queue: TaskQueue, task_id: str) -> bool:
    return not await stored(queue, task_id)


async def test_a_failed_task_retried_while_a_cleanup_deletes_it_is_either_kept_or_refused(
    make_queue: QueueFactory,
) -> None:
    """A retry and a cleanup of the same expired failure, at the same time: the retry is
    acknowledged only for a task that stays (and runs again); otherwise it hears the task is
    gone. Never an acknowledged retry of a task the cleanup then deletes. The retry comes
    after the cleanup has taken 0, 1, 2… turns of the loop, so it meets each of its steps."""
    queue, _, timer = await on_virtual_time(make_queue)
    for turns in range(40):
        failed = await finished(queue, params={"fail": C.UNKNOWN_ERROR}, max_retries=0)
        timer.advance(8 * DAY)  # past the 7-day failure TTL
        cleanup = asyncio.ensure_future(queue.cleanup())
        for _ in range(turns):
            await asyncio.sleep(0)  # one turn of the loop (not a wait for time)
        try:
            await queue.retry_task(failed)
        except QueueError as exc:
            assert exc.code is C.QUEUE_TASK_NOT_FOUND
            await cleanup
            assert not await stored(queue, failed)
        else:
            await cleanup
            await queue.settled()
            assert await stored(queue, failed), f"retried after {turns} turns, then deleted"
            await queue.wait_for(failed, timeout_s=10)
