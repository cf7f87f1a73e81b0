"""Specification of task dependencies: `depends_on`, failure propagation, retries, restarts.

Real queues, real handlers gated by the test, real commands; waits are on events and
conditions, never on sleeps.
"""

from __future__ import annotations

from typing import Any

import pytest
from helpers.gate import Gate
from helpers.queues import QueueFactory
from helpers.waiting import eventually

from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.core.task import Task, TaskStatus, TaskType, new_task_id
from qtqueue.engine.queue import TaskQueue

C = TaskErrorCode
S = TaskStatus


def gated(label: Any = None, **fields: Any) -> Task:
    return Task("gated", {"label": label}, **fields)


def failing(label: Any = None, **fields: Any) -> Task:
    """A gated task that fails (SYSTEM_COMMAND_FAILED) once let through."""
    return Task("gated", {"label": label, "fail": C.SYSTEM_COMMAND_FAILED.value}, **fields)


async def pending_reason(queue: TaskQueue, task_id: str) -> str:
    task = await queue.get_task(task_id)
    return task.wait_reason if task.status is S.PENDING else ""


async def test_a_task_starts_only_once_all_its_dependencies_completed(
    queue: TaskQueue, gate: Gate
) -> None:
    a, b = await queue.add_tasks([gated("a"), gated("b")])
    after = await queue.add_task(gated("after", depends_on=[a, b]))
    await eventually(lambda: len(gate.running) == 2, what="a and b run")
    reason = await pending_reason(queue, after)
    assert reason == f"waiting for 2 dependencies: {a[:8]}…, {b[:8]}…"

    gate.open(a)
    await queue.wait_for(a, timeout_s=10)
    assert await eventually(
        lambda: pending_reason(queue, after), what="still waiting, for b only"
    ) == f"waiting for 1 dependency: {b[:8]}…"
    assert after not in gate.started

    gate.open(b)
    await eventually(lambda: after in gate.running, what="the dependent starts")
    gate.open(after)
    done = await queue.wait_for(after, timeout_s=10)
    assert done.status is S.COMPLETED
    assert gate.started.index(after) > max(gate.started.index(a), gate.started.index(b))


@pytest.mark.parametrize(
    ("how", "ended", "words"),
    [("fail", "failed", "failed"), ("cancel", "cancelled", "was cancelled")],
)
async def test_a_failed_or_cancelled_dependency_fails_its_dependents_naming_it(
    queue: TaskQueue, gate: Gate, how: str, ended: str, words: str
) -> None:
    dep = await queue.add_task(failing("dep", max_retries=0))
    child = await queue.add_task(gated("child", depends_on=[dep]))
    grandchild = await queue.add_task(gated("grandchild", depends_on=[child]))
    await eventually(lambda: dep in gate.running)
    if how == "fail":
        gate.open(dep)
    else:
        await queue.cancel_task(dep)

    failed = await queue.wait_for(child, timeout_s=10)
    assert failed.status is S.FAILED
    assert failed.error_code == C.QUEUE_DEPENDENCY_FAILED
    assert failed.error == f"dependency {dep} {words}"
    assert failed.error_details == {"dependency_id": dep, "dependency_status": ended}
    assert not failed.dead_letter
    further = await queue.wait_for(grandchild, timeout_s=10)
    assert further.error_details["dependency_id"] == child
    assert child not in gate.started and grandchild not in gate.started


async def test_a_timed_out_dependency_fails_its_dependent(queue: TaskQueue) -> None:
    dep = await queue.add_task(
        Task(
            TaskType.CUSTOM_COMMAND,
            {"command": "sleep 5", "shell": True},
            timeout_s=0.2,
            max_retries=0,
        )
    )
    child = await queue.add_task(
        Task(TaskType.CUSTOM_COMMAND, {"command": "true", "shell": True}, depends_on=[dep])
    )
    ended = await queue.wait_for(child, timeout_s=10)
    assert (await queue.get_task(dep)).status is S.TIMEOUT
    assert ended.error_code == C.QUEUE_DEPENDENCY_FAILED
    assert ended.error_details["dependency_status"] == "timeout"


async def test_with_allow_dependency_failure_it_runs_once_every_dependency_ended(
    queue: TaskQueue, gate: Gate
) -> None:
    bad = await queue.add_task(failing("bad", max_retries=0))
    good = await queue.add_task(gated("good"))
    cleanup = await queue.add_task(
        gated("cleanup", depends_on=[bad, good], allow_dependency_failure=True)
    )
    await eventually(lambda: len(gate.running) == 2)
    gate.open(bad)
    assert (await queue.wait_for(bad, timeout_s=10)).status is S.FAILED
    assert await pending_reason(queue, cleanup) == f"waiting for 1 dependency: {good[:8]}…"
    gate.open(good)
    gate.open(cleanup)
    assert (await queue.wait_for(cleanup, timeout_s=10)).status is S.COMPLETED


async def test_a_dependency_that_already_completed_is_met_at_once(
    queue: TaskQueue, gate: Gate
) -> None:
    gate.open_all()
    first = await queue.add_task(gated("first"))
    await queue.wait_for(first, timeout_s=10)
    second = await queue.add_task(gated("second", depends_on=[first]))
    assert (await queue.wait_for(second, timeout_s=10)).status is S.COMPLETED


async def test_a_batch_may_depend_on_its_own_new_tasks(queue: TaskQueue, gate: Gate) -> None:
    first, second, third = (gated(n) for n in ("first", "second", "third"))
    third.depends_on = [second.id]
    second.depends_on = [first.id]
    # Listed out of order on purpose: order in the batch does not matter.
    await queue.add_tasks([third, second, first])
    gate.open_all()
    for t in (first, second, third):
        assert (await queue.wait_for(t.id, timeout_s=10)).status is S.COMPLETED
    assert gate.labels == ["first", "second", "third"]


async def test_cycles_and_unknown_dependencies_are_refused_and_nothing_is_added(
    queue: TaskQueue, gate: Gate
) -> None:
    a, b, c = gated("a"), gated("b"), gated("c")
    a.depends_on, b.depends_on, c.depends_on = [b.id], [c.id], [a.id]
    with pytest.raises(QueueError) as cycle:
        await queue.add_tasks([a, b, c])
    assert cycle.value.code is C.QUEUE_DEPENDENCY_CYCLE
    assert " -> " in cycle.value.message
    assert set(cycle.value.details["cycle"]) == {a.id, b.id, c.id}

    itself = gated("itself")
    itself.depends_on = [itself.id]
    with pytest.raises(QueueError) as own:
        await queue.add_task(itself)
    assert own.value.code is C.QUEUE_DEPENDENCY_CYCLE

    missing = new_task_id()
    with pytest.raises(QueueError) as unknown:
        await queue.add_task(gated("orphan", depends_on=[missing]))
    assert unknown.value.code is C.QUEUE_TASK_NOT_FOUND
    assert missing in unknown.value.message
    assert await queue.list_tasks() == []


async def test_retrying_the_failed_dependency_lets_its_dependents_run_again(
    queue: TaskQueue, gate: Gate
) -> None:
    dep = await queue.add_task(failing("dep", max_retries=0))
    child = await queue.add_task(gated("child", depends_on=[dep]))
    grandchild = await queue.add_task(gated("grandchild", depends_on=[child]))
    await eventually(lambda: dep in gate.running)
    gate.open(dep)
    assert (await queue.wait_for(grandchild, timeout_s=10)).status is S.FAILED

    # Retry it without the failure: the dependents go back to waiting, then run.
    gate._gates.pop(dep, None)
    again = await queue.retry_task(dep)
    assert again.status in (S.PENDING, S.RUNNING)
    assert (await queue.get_task(child)).status is S.PENDING
    assert (await queue.get_task(grandchild)).status is S.PENDING
    assert await pending_reason(queue, grandchild) == f"waiting for 1 dependency: {child[:8]}…"
    await eventually(lambda: gate.runs(dep) == 2, what="the retried dependency runs")
    gate.open_all()  # it fails again: the dependents fail again, with the same culprit
    assert (await queue.wait_for(child, timeout_s=10)).error_details["dependency_id"] == dep


async def test_retrying_a_dependency_that_then_completes_runs_the_dependents(
    make_queue: QueueFactory,
) -> None:
    queue = await make_queue()
    flag = {"fail": True}

    async def flaky(task_id: str, params: dict[str, Any]) -> dict[str, Any]:
        if flag["fail"]:
            raise QueueError(C.SYSTEM_COMMAND_FAILED, "broken for now")
        return {}

    queue.register_handler("flaky", flaky)
    dep = await queue.add_task(Task("flaky", max_retries=0))
    child = await queue.add_task(Task("flaky", depends_on=[dep]))
    assert (await queue.wait_for(child, timeout_s=10)).status is S.FAILED
    flag["fail"] = False
    await queue.retry_task(dep)
    assert (await queue.wait_for(child, timeout_s=10)).status is S.COMPLETED


async def test_waiting_dependents_survive_a_restart(make_queue: QueueFactory) -> None:
    queue = await make_queue()
    gate = Gate()
    queue.register_handler("gated", gate.handler)
    dep = await queue.add_task(gated("dep"))
    child = await queue.add_task(gated("child", depends_on=[dep]))
    await eventually(lambda: dep in gate.running)
    await queue.close()  # dep is requeued; child keeps waiting

    reopened = await make_queue()
    gate2 = Gate()
    reopened.register_handler("gated", gate2.handler)
    await eventually(lambda: dep in gate2.running, what="dep runs again after the restart")
    assert await pending_reason(reopened, child) == f"waiting for 1 dependency: {dep[:8]}…"
    gate2.open_all()
    assert (await reopened.wait_for(child, timeout_s=10)).status is S.COMPLETED
    assert gate2.started == [dep, child]


async def test_after_a_restart_a_failed_dependency_still_fails_its_dependent_and_retry_works(
    make_queue: QueueFactory,
) -> None:
    offline = await make_queue(dispatch=False)
    offline.register_handler("gated", Gate().handler)
    dep = await offline.add_task(gated("dep"))
    child = await offline.add_task(gated("child", depends_on=[dep]))
    await offline.cancel_task(dep)
    assert (await offline.get_task(child)).status is S.PENDING  # offline: nothing is decided
    await offline.close()

    queue = await make_queue()
    gate = Gate()
    queue.register_handler("gated", gate.handler)
    ended = await queue.wait_for(child, timeout_s=10)
    assert ended.error_code == C.QUEUE_DEPENDENCY_FAILED
    assert ended.error_details == {"dependency_id": dep, "dependency_status": "cancelled"}
    await queue.close()

    again = await make_queue()  # the reverse index is rebuilt from the store
    gate2 = Gate()
    again.register_handler("gated", gate2.handler)
    gate2.open_all()
    await again.retry_task(dep)
    assert (await again.wait_for(child, timeout_s=10)).status is S.COMPLETED
