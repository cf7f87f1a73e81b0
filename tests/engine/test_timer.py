"""Specification of the engine's time seam: with an injected timer (`TaskQueue(timer=...)`),
delays, retry backoff and expiry come when the test moves time, and `settled()` makes a
negative claim ("it has not started") a fact, not a wait."""

from __future__ import annotations

from typing import Any

from helpers.gate import Gate
from helpers.queues import QueueFactory
from helpers.virtual_time import VirtualTimer
from helpers.waiting import eventually

from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.core.task import Task, TaskStatus
from qtqueue.engine.queue import TaskQueue

C = TaskErrorCode
S = TaskStatus


def gated(label: Any = None, **fields: Any) -> Task:
    return Task("gated", {"label": label}, **fields)


async def retry_queued(queue: TaskQueue, task_id: str) -> Task | None:
    task = await queue.get_task(task_id)
    return task if task.status is S.PENDING and task.retry_count == 1 else None


async def on_virtual_time(
    make_queue: QueueFactory, **kwargs: Any
) -> tuple[TaskQueue, Gate, VirtualTimer]:
    timer = VirtualTimer()
    queue = await make_queue(timer=timer, clock=timer.time, **kwargs)
    gate = Gate()
    queue.register_handler("gated", gate.handler)
    return queue, gate, timer


async def test_a_task_runs_at_its_run_at_and_not_a_moment_before(make_queue: QueueFactory) -> None:
    queue, gate, timer = await on_virtual_time(make_queue)
    later = await queue.add_task(gated("later", run_at=timer.time() + 60))
    now = await queue.add_task(gated("now"))
    await queue.settled()
    assert gate.started == [now]

    timer.advance(59.5)
    await queue.settled()
    assert gate.started == [now], "half a second early, it has not started"
    assert (await queue.get_task(later)).status is S.PENDING

    timer.advance(0.5)
    await queue.settled()
    assert gate.started == [now, later]


async def test_a_retry_waits_out_its_backoff(make_queue: QueueFactory) -> None:
    queue, _, timer = await on_virtual_time(make_queue)
    attempts: list[float] = []

    async def flaky(task_id: str, params: dict[str, Any]) -> None:
        attempts.append(timer.time())
        if len(attempts) == 1:
            raise QueueError(C.NETWORK_CONNECTION_FAILED, "connection refused")

    queue.register_handler("flaky", flaky)
    task_id = await queue.add_task(Task("flaky", max_retries=1, retry_backoff=[30.0]))
    # Its first attempt fails at once: the retry is queued, due in 30 s.
    task = await eventually(lambda: retry_queued(queue, task_id))
    assert len(attempts) == 1
    assert task.run_at == attempts[0] + 30.0

    timer.advance(29.9)
    await queue.settled()
    assert len(attempts) == 1, "no retry before its backoff"
    timer.advance(0.1)
    done = await queue.wait_for(task_id, timeout_s=10)
    assert done.status is S.COMPLETED
    assert attempts[1] - attempts[0] == 30.0


async def test_a_waiting_task_expires_at_its_time_and_not_before(make_queue: QueueFactory) -> None:
    queue, gate, timer = await on_virtual_time(make_queue, max_concurrent=1)
    busy = await queue.add_task(gated("busy"))
    waiting = await queue.add_task(gated("waiting", ttl_s=30))
    await queue.settled()

    timer.advance(29.0)
    await queue.settled()
    assert (await queue.get_task(waiting)).status is S.PENDING

    timer.advance(1.0)
    expired = await queue.wait_for(waiting, timeout_s=10)
    assert expired.status is S.CANCELLED
    assert expired.error_code == C.QUEUE_TASK_EXPIRED.value
    assert gate.started == [busy]
