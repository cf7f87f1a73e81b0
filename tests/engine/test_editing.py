"""Specification of editing a waiting task: the same task with new fields, checked as a new
task is, refused once it started."""

from __future__ import annotations

import pytest
from helpers.gate import Gate
from helpers.queues import QueueFactory

from engine.ordering_env import blocked, gated
from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.core.task import Priority, Task, TaskStatus, TaskType
from qtqueue.engine.events import EventKind, TaskEvent
from qtqueue.engine.queue import TaskQueue


async def test_an_edited_waiting_task_runs_with_its_new_fields_under_the_same_id(
    one_slot: tuple[TaskQueue, Gate],
) -> None:
    queue, gate = one_slot
    await blocked(queue, gate)
    task_id = await queue.add_task(gated("old", name="first name", tags=["a"]))
    heard: list[TaskEvent] = []
    queue.subscribe(heard.extend)

    edited = (await queue.get_task(task_id)).copy()
    edited.params = {"label": "new"}
    edited.name = "second name"
    edited.tags = ["b", "c"]
    edited.category = "builds"
    edited.timeout_s = 30
    saved = await queue.update_task(task_id, edited)

    assert saved.id == task_id and saved.status is TaskStatus.PENDING
    stored = await queue.get_task(task_id)
    assert (stored.name, stored.tags, stored.category, stored.timeout_s) == (
        "second name", ["b", "c"], "builds", 30,
    )  # fmt: skip
    assert any(e.task_id == task_id and e.kind is EventKind.CHANGED for e in heard)
    gate.open_all()
    assert (await queue.wait_for(task_id, timeout_s=10)).result == {"label": "new"}
    assert await queue.count_tasks() == 2


async def test_an_edit_keeps_the_place_unless_priority_or_queue_change(
    one_slot: tuple[TaskQueue, Gate],
) -> None:
    queue, gate = one_slot
    await blocked(queue, gate)
    a, b, c = await queue.add_tasks([gated(x) for x in "abc"])

    renamed = (await queue.get_task(a)).copy()
    renamed.name = "renamed"
    await queue.update_task(a, renamed)
    raised = (await queue.get_task(c)).copy()
    raised.priority = Priority.URGENT
    await queue.update_task(c, raised)

    gate.open_all()
    for task_id in (a, b, c):
        await queue.wait_for(task_id, timeout_s=10)
    assert gate.labels[1:] == ["c", "a", "b"]


async def test_an_edit_is_validated_as_a_new_task_is(one_slot: tuple[TaskQueue, Gate]) -> None:
    queue, gate = one_slot
    await blocked(queue, gate)
    task_id = await queue.add_task(Task(TaskType.CUSTOM_COMMAND, {"command": "true"}, name="cmd"))

    bad = (await queue.get_task(task_id)).copy()
    bad.params = {"command": ""}
    with pytest.raises(QueueError) as err:
        await queue.update_task(task_id, bad)
    assert err.value.code.value.startswith("VALIDATION_")
    no_queue = (await queue.get_task(task_id)).copy()
    no_queue.queue = "nowhere"
    with pytest.raises(QueueError) as err:
        await queue.update_task(task_id, no_queue)
    assert "nowhere" in str(err.value)
    deps = (await queue.get_task(task_id)).copy()
    deps.depends_on = ["something-else"]
    with pytest.raises(QueueError) as err:
        await queue.update_task(task_id, deps)
    assert "cancel it and add a new task" in str(err.value)
    assert (await queue.get_task(task_id)).params["command"] == "true"


async def test_a_started_task_cannot_be_edited(one_slot: tuple[TaskQueue, Gate]) -> None:
    queue, gate = one_slot
    busy = await blocked(queue, gate)

    edited = (await queue.get_task(busy)).copy()
    edited.name = "too late"
    with pytest.raises(QueueError) as err:
        await queue.update_task(busy, edited)
    assert err.value.code is TaskErrorCode.QUEUE_TASK_NOT_WAITING
    assert "not waiting" in str(err.value)
    assert (await queue.get_task(busy)).name != "too late"


async def test_an_edit_survives_a_restart(make_queue: QueueFactory) -> None:
    first = await make_queue(dispatch=False)
    first.register_handler("gated", Gate().handler)
    task_id = await first.add_task(gated("old", name="before"))
    edited = (await first.get_task(task_id)).copy()
    edited.name, edited.tags, edited.params = "after", ["kept"], {"label": "new"}
    edited.priority = Priority.HIGH
    await first.update_task(task_id, edited)
    await first.close()

    again = await make_queue(dispatch=False)
    stored = await again.get_task(task_id)
    assert (stored.name, stored.tags, stored.params) == ("after", ["kept"], {"label": "new"})
    assert (stored.priority, stored.queue) == (Priority.HIGH, "high_priority")
