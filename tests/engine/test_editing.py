"""Specification of editing a waiting task: the same task with new fields, checked as a new
task is, refused once it started."""

from __future__ import annotations

import time

import pytest
from helpers.gate import Gate
from helpers.queues import QueueFactory
from helpers.waiting import eventually

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


async def test_renaming_a_scheduled_task_keeps_its_start_time(
    one_slot: tuple[TaskQueue, Gate],
) -> None:
    queue, gate = one_slot
    start, expiry = time.time() + 7200, time.time() + 86400
    task_id = await queue.add_task(gated("later", run_at=start, expires_at=expiry))

    renamed = Task("gated", {"label": "later"}, name="renamed")  # built afresh: no run_at
    saved = await queue.update_task(task_id, renamed)
    gate.open_all()
    now = await queue.add_task(gated("now"))
    assert (await queue.wait_for(now, timeout_s=10)).status is TaskStatus.COMPLETED

    task = await queue.get_task(task_id)
    assert saved.name == "renamed" and task.status is TaskStatus.PENDING
    assert (task.run_at, task.expires_at) == (start, expiry)
    assert gate.labels == ["now"]


async def test_an_edit_into_a_free_category_starts_the_task(make_queue: QueueFactory) -> None:
    queue = await make_queue(max_concurrent=4)
    gate = Gate()
    queue.register_handler("gated", gate.handler)
    queue.set_category_limit("a", 1)
    await queue.add_task(gated("busy", category="a"))
    await eventually(lambda: gate.running, what="the first task of category a runs")
    waiting = await queue.add_task(gated("w", category="a"))
    await eventually(
        lambda: "limit" in queue.state.live[waiting].wait_reason, what="w is held by its category"
    )

    edited = (await queue.get_task(waiting)).copy()
    edited.category = "b"
    await queue.update_task(waiting, edited)

    await eventually(lambda: waiting in gate.running, what="the edited task starts")


async def test_a_time_to_live_given_to_a_parked_task_expires_it(
    one_slot: tuple[TaskQueue, Gate],
) -> None:
    queue, gate = one_slot
    dep = await blocked(queue, gate)
    child = await queue.add_task(gated("child", depends_on=[dep]))

    edited = (await queue.get_task(child)).copy()
    edited.ttl_s = 0.2
    await queue.update_task(child, edited)

    done = await queue.wait_for(child, timeout_s=10)
    assert done.status is TaskStatus.CANCELLED
    assert done.error_code == TaskErrorCode.QUEUE_TASK_EXPIRED.value


async def test_a_stale_edit_is_refused_rather_than_undo_a_change_made_meanwhile(
    one_slot: tuple[TaskQueue, Gate],
) -> None:
    queue, gate = one_slot
    await blocked(queue, gate)
    _, b = await queue.add_tasks([gated("a"), gated("b")])
    opened = (await queue.get_task(b)).copy()  # a window opens Edit on b
    await queue.set_priority(b, Priority.URGENT)  # the command line changes it meanwhile

    opened.name = "renamed in the dialog"
    with pytest.raises(QueueError) as err:
        await queue.update_task(b, opened)

    assert err.value.code is TaskErrorCode.QUEUE_TASK_CHANGED
    assert "reopen the task and edit again" in str(err.value)
    task = await queue.get_task(b)
    assert task.priority is Priority.URGENT and task.name != "renamed in the dialog"


async def test_an_edit_does_not_turn_a_string_into_a_list(one_slot: tuple[TaskQueue, Gate]) -> None:
    queue, gate = one_slot
    await blocked(queue, gate)
    task_id = await queue.add_task(gated("a", tags=["kept"]))

    edited = (await queue.get_task(task_id)).copy()
    edited.tags = "abc"  # type: ignore[assignment]
    with pytest.raises(QueueError) as err:
        await queue.update_task(task_id, edited)

    assert err.value.code is TaskErrorCode.VALIDATION_INVALID_PARAMS and "tags" in str(err.value)
    assert (await queue.get_task(task_id)).tags == ["kept"]


async def test_an_edit_is_not_stale_because_the_engine_said_anew_what_the_task_waits_for(
    one_slot: tuple[TaskQueue, Gate],
) -> None:
    queue, gate = one_slot
    await blocked(queue, gate)
    task_id = await queue.add_task(gated("a"))
    opened = (await queue.get_task(task_id)).copy()
    live = queue.state.live[task_id]
    queue.ordering.lifecycle.set_wait_reason(live, "waiting: memory is short")  # as a gate does
    await queue.settled()
    assert (await queue.get_task(task_id)).updated_at > opened.updated_at

    opened.name = "renamed"
    saved = await queue.update_task(task_id, opened)

    assert saved.name == "renamed" and (await queue.get_task(task_id)).name == "renamed"


async def test_an_edit_that_gives_the_start_time_now_starts_a_scheduled_task(
    one_slot: tuple[TaskQueue, Gate],
) -> None:
    queue, gate = one_slot
    gate.open_all()
    task_id = await queue.add_task(gated("later", run_at=time.time() + 7200))

    edited = (await queue.get_task(task_id)).copy()
    edited.run_at = time.time()
    await queue.update_task(task_id, edited)

    assert (await queue.wait_for(task_id, timeout_s=10)).status is TaskStatus.COMPLETED
