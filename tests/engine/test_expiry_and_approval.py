"""Specification of time to live (`ttl_s`, active expiry) and approval (`permission`).

Real queues and handlers; expiry uses real time with short intervals and waits on the task's
end, never on a sleep.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from helpers.gate import Gate
from helpers.queues import QueueFactory
from helpers.waiting import eventually

from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.core.task import Permission, Task, TaskStatus
from qtqueue.engine.events import EventKind, TaskEvent
from qtqueue.engine.queue import TaskQueue

C = TaskErrorCode
S = TaskStatus


def gated(label: Any = None, **fields: Any) -> Task:
    return Task("gated", {"label": label}, **fields)


def notices(queue: TaskQueue) -> list[TaskEvent]:
    """The NOTICE events the queue publishes from now on, as they come."""
    heard: list[TaskEvent] = []
    queue.subscribe(lambda events: heard.extend(e for e in events if e.kind == EventKind.NOTICE))
    return heard


# --- Expiry -----------------------------------------------------------------------------------


async def test_ttl_sets_expires_at_from_the_creation_time(queue: TaskQueue, gate: Gate) -> None:
    before = time.time()
    task = await queue.get_task(await queue.add_task(gated(ttl_s=3600, run_at=before + 3600)))
    assert task.ttl_s == 3600
    assert task.expires_at == pytest.approx(task.created_at + 3600)
    earlier = await queue.get_task(
        await queue.add_task(gated(ttl_s=3600, expires_at=before + 60, run_at=before + 3600))
    )
    assert earlier.expires_at == before + 60  # the earlier of the two wins


@pytest.mark.parametrize("bad", [0, -1, "soon", True])
async def test_a_bad_ttl_is_refused(queue: TaskQueue, gate: Gate, bad: Any) -> None:
    with pytest.raises(QueueError) as err:
        await queue.add_task(gated(ttl_s=bad))
    assert err.value.code is C.VALIDATION_INVALID_PARAMS
    assert "ttl_s" in err.value.message


async def test_a_waiting_task_is_cancelled_when_it_expires_even_with_every_slot_busy(
    one_slot: tuple[TaskQueue, Gate],
) -> None:
    queue, gate = one_slot
    busy = await queue.add_task(gated("busy"))
    await eventually(lambda: busy in gate.running)
    short = await queue.add_task(gated("short", ttl_s=0.3))
    # Dispatch never reaches it (the only slot stays busy): the expiry timer ends it.
    ended = await queue.wait_for(short, timeout_s=10)
    assert ended.status is S.CANCELLED
    assert ended.error_code == C.QUEUE_TASK_EXPIRED
    assert ended.completed_at is not None
    assert ended.completed_at >= ended.expires_at  # type: ignore[operator]
    assert ended.completed_at - ended.expires_at < 2  # type: ignore[operator]
    assert busy in gate.running and short not in gate.started
    gate.open_all()


async def test_a_held_task_expires_too_but_a_started_one_does_not(
    queue: TaskQueue, gate: Gate
) -> None:
    held = await queue.add_task(gated("held", run_at=time.time() + 3600, ttl_s=0.3))
    await queue.pause_task(held)
    started = await queue.add_task(gated("started", ttl_s=0.3))
    await eventually(lambda: started in gate.running)
    assert (await queue.wait_for(held, timeout_s=10)).error_code == C.QUEUE_TASK_EXPIRED
    assert (await queue.get_task(started)).status is S.RUNNING
    gate.open(started)
    assert (await queue.wait_for(started, timeout_s=10)).status is S.COMPLETED


async def test_expiry_survives_a_restart(make_queue: QueueFactory) -> None:
    offline = await make_queue(dispatch=False)
    offline.register_handler("gated", Gate().handler)
    task_id = await offline.add_task(gated(run_at=time.time() + 3600, ttl_s=0.5))
    await offline.close()
    queue = await make_queue()
    queue.register_handler("gated", Gate().handler)
    assert (await queue.wait_for(task_id, timeout_s=10)).error_code == C.QUEUE_TASK_EXPIRED


async def test_an_expired_dependency_fails_its_dependent(queue: TaskQueue, gate: Gate) -> None:
    dep = await queue.add_task(gated("dep", run_at=time.time() + 3600, ttl_s=0.2))
    child = await queue.add_task(gated("child", depends_on=[dep]))
    ended = await queue.wait_for(child, timeout_s=10)
    assert ended.error_code == C.QUEUE_DEPENDENCY_FAILED
    assert ended.error_details == {"dependency_id": dep, "dependency_status": "cancelled"}


# --- Approval ---------------------------------------------------------------------------------


async def test_a_human_required_task_waits_for_approval_then_runs(
    queue: TaskQueue, gate: Gate
) -> None:
    heard = notices(queue)
    task_id = await queue.add_task(gated(name="careful", permission=Permission.HUMAN_REQUIRED))
    task = await queue.get_task(task_id)
    assert (task.status, task.wait_reason) == (S.PENDING, "awaiting approval")
    assert [(n.task_id, n.detail) for n in heard] == [(task_id, "awaiting approval: careful")]
    other = await queue.add_task(gated("other"))
    await eventually(lambda: other in gate.running, what="other tasks pass it by")
    assert task_id not in gate.started

    approved = await queue.approve_task(task_id)
    assert approved.approved_at is not None and approved.wait_reason == ""
    await eventually(lambda: task_id in gate.running, what="the approved task starts")
    gate.open_all()
    assert (await queue.wait_for(task_id, timeout_s=10)).status is S.COMPLETED
    with pytest.raises(QueueError) as again:
        await queue.approve_task(task_id)
    assert again.value.code is C.QUEUE_INVALID_STATE


async def test_a_rejected_task_ends_cancelled_with_the_reason(
    queue: TaskQueue, gate: Gate
) -> None:
    task_id = await queue.add_task(gated(permission=Permission.HUMAN_REQUIRED))
    rejected = await queue.reject_task(task_id, "not on a Friday")
    assert rejected.status is S.CANCELLED
    assert rejected.error_code == C.QUEUE_REJECTED
    assert rejected.error == "rejected: not on a Friday"
    assert rejected.error_details == {"reason": "not on a Friday"}
    assert task_id not in gate.started
    # Retried, it asks again.
    retried = await queue.retry_task(task_id)
    assert (retried.status, retried.wait_reason) == (S.PENDING, "awaiting approval")


async def test_only_tasks_awaiting_approval_can_be_approved_or_rejected(
    queue: TaskQueue, gate: Gate
) -> None:
    plain = await queue.add_task(gated())
    for action in (queue.approve_task, queue.reject_task):
        with pytest.raises(QueueError) as err:
            await action(plain)
        assert err.value.code is C.QUEUE_INVALID_STATE
        assert "needs no approval" in err.value.message
    with pytest.raises(QueueError) as missing:
        await queue.approve_task("nope")
    assert missing.value.code is C.QUEUE_TASK_NOT_FOUND
    gate.open_all()


async def test_waiting_for_approval_and_an_approval_survive_restarts(
    make_queue: QueueFactory,
) -> None:
    queue = await make_queue()
    queue.register_handler("gated", Gate().handler)
    first = await queue.add_task(gated("first", permission=Permission.HUMAN_REQUIRED))
    second = await queue.add_task(gated("second", permission=Permission.HUMAN_REQUIRED))
    await queue.close()

    offline = await make_queue(dispatch=False)  # e.g. `qtqueue approve` with no engine
    await offline.approve_task(first)
    await offline.close()

    reopened = await make_queue()
    gate = Gate()
    reopened.register_handler("gated", gate.handler)
    gate.open_all()
    assert (await reopened.wait_for(first, timeout_s=10)).status is S.COMPLETED
    waiting = await reopened.get_task(second)
    assert (waiting.status, waiting.wait_reason) == (S.PENDING, "awaiting approval")
    assert second not in gate.started


async def test_a_supervised_task_runs_and_a_notice_says_it_started(
    queue: TaskQueue, gate: Gate
) -> None:
    heard = notices(queue)
    task_id = await queue.add_task(gated(name="watched", permission=Permission.SUPERVISED))
    await eventually(lambda: task_id in gate.running)
    await eventually(lambda: heard, what="a notice")
    assert [(n.kind, n.task_id, n.detail) for n in heard] == [
        (EventKind.NOTICE, task_id, "supervised task started: watched")
    ]
    gate.open_all()
    assert (await queue.wait_for(task_id, timeout_s=10)).status is S.COMPLETED
