"""Specification of named queues: drain order, per-queue limits and defaults, result TTL,
persistence. Real queues and handlers; waits are on events and conditions."""

from __future__ import annotations

from typing import Any

import pytest
from helpers.gate import Gate
from helpers.queues import QueueFactory
from helpers.waiting import eventually

from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.core.task import Priority, Task, TaskStatus, TaskType
from qtqueue.engine.queue import TaskQueue

C = TaskErrorCode
S = TaskStatus


def gated(label: Any = None, **fields: Any) -> Task:
    return Task("gated", {"label": label}, **fields)


async def test_queues_drain_high_then_default_then_low_then_by_priority_then_fifo(
    one_slot: tuple[TaskQueue, Gate],
) -> None:
    queue, gate = one_slot
    await queue.set_queue("reports")  # user-defined: drained with default
    busy = await queue.add_task(gated("busy"))
    await eventually(lambda: busy in gate.running)
    waiting = [
        ("low-urgent", "low_priority", Priority.URGENT),
        ("default-normal", "default", Priority.NORMAL),
        ("high-low", "high_priority", Priority.LOW),
        ("reports-high", "reports", Priority.HIGH),
        ("default-normal-2", "default", Priority.NORMAL),
        ("high-normal", "high_priority", Priority.NORMAL),
    ]
    ids = [await queue.add_task(gated(label, queue=q, priority=p)) for label, q, p in waiting]
    gate.open_all()
    for task_id in ids:
        await queue.wait_for(task_id, timeout_s=10)
    assert gate.labels == [
        "busy", "high-normal", "high-low", "reports-high", "default-normal",
        "default-normal-2", "low-urgent",
    ]  # fmt: skip


async def test_a_queue_runs_no_more_than_its_concurrency_within_the_global_limit(
    make_queue: QueueFactory,
) -> None:
    queue = await make_queue(max_concurrent=3)
    gate = Gate()
    queue.register_handler("gated", gate.handler)
    settings = await queue.set_queue("nightly", concurrency=1)
    assert settings["concurrency"] == 1 and settings["rank"] == 1
    nightly = await queue.add_tasks([gated("nightly", queue="nightly") for _ in range(3)])
    other = await queue.add_task(gated("other"))
    await eventually(lambda: other in gate.running and nightly[0] in gate.running)
    assert (await queue.get_task(nightly[1])).wait_reason == (
        "waiting: queue 'nightly' is at its limit of 1"
    )
    assert [q["running"] for q in queue.list_queues() if q["name"] == "nightly"] == [1]
    await queue.set_queue("nightly", concurrency=2)  # raised at run time: one more starts
    await eventually(lambda: nightly[1] in gate.running)
    gate.open_all()
    for task_id in [*nightly, other]:
        assert (await queue.wait_for(task_id, timeout_s=10)).status is S.COMPLETED
    assert gate.peak_by_label["nightly"] == 2


async def test_a_queue_gives_its_timeout_and_retries_to_tasks_that_set_none(
    queue: TaskQueue, gate: Gate
) -> None:
    await queue.set_queue("careful", timeout_s=30, max_retries=2)
    plain = await queue.get_task(await queue.add_task(gated(queue="careful")))
    assert (plain.timeout_s, plain.max_retries) == (30, 2)
    own = await queue.get_task(
        await queue.add_task(gated(queue="careful", timeout_s=5, max_retries=1))
    )
    assert (own.timeout_s, own.max_retries) == (5, 1)
    gate.open_all()


async def test_unknown_queues_and_bad_settings_are_refused(queue: TaskQueue, gate: Gate) -> None:
    with pytest.raises(QueueError) as unknown:
        await queue.add_task(gated(queue="nope"))
    assert unknown.value.code is C.VALIDATION_INVALID_PARAMS
    assert "no queue named 'nope'" in unknown.value.message
    assert "qtqueue queues set nope" in unknown.value.message
    with pytest.raises(QueueError) as bad:
        await queue.set_queue("x", concurrency=0, result_ttl_s=-1, colour="red")
    assert bad.value.code is C.VALIDATION_INVALID_PARAMS
    assert len(bad.value.details["fields"]) == 3
    with pytest.raises(QueueError) as name:
        await queue.set_queue("no spaces")
    assert name.value.code is C.VALIDATION_INVALID_FORMAT
    assert [q["name"] for q in queue.list_queues()] == [
        "high_priority", "default", "low_priority",
    ]  # fmt: skip


async def test_a_queue_with_a_result_ttl_deletes_its_finished_tasks(
    make_queue: QueueFactory,
) -> None:
    queue = await make_queue(retention_s=None)
    await queue.set_queue("scratch", result_ttl_s=0.3)
    kept = await queue.add_task(Task(TaskType.CUSTOM_COMMAND, {"command": "true"}))
    gone = await queue.add_task(Task(TaskType.CUSTOM_COMMAND, {"command": "true"}, queue="scratch"))
    await queue.wait_for(gone, timeout_s=10)

    async def deleted() -> bool:
        try:
            await queue.get_task(gone)
        except QueueError as exc:
            return exc.code is C.QUEUE_TASK_NOT_FOUND
        return False

    await eventually(deleted, what="the scratch task is deleted after its TTL")
    assert (await queue.get_task(kept)).status is S.COMPLETED


async def test_queue_settings_survive_a_restart(make_queue: QueueFactory) -> None:
    queue = await make_queue()
    await queue.set_queue("nightly", concurrency=1, timeout_s=60)
    await queue.set_queue("low_priority", concurrency=2)
    await queue.set_queue("nightly", timeout_s=None)  # cleared; concurrency kept
    await queue.close()
    reopened = await make_queue(dispatch=False)
    shown = {q["name"]: q for q in reopened.list_queues()}
    assert (shown["nightly"]["concurrency"], shown["nightly"]["timeout_s"]) == (1, None)
    assert shown["low_priority"]["concurrency"] == 2
    assert list(shown) == ["high_priority", "default", "nightly", "low_priority"]
