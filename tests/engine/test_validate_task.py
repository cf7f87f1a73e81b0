"""TaskQueue.validate_task: the checks add_task makes, without queueing anything."""

from __future__ import annotations

import pytest

from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.core.task import Task, TaskType
from qtqueue.engine.queue import TaskQueue


async def test_a_valid_task_comes_back_completed_and_nothing_is_queued(queue: TaskQueue) -> None:
    checked = queue.validate_task(Task(TaskType.CUSTOM_COMMAND, {"command": "make"}))
    assert checked.name == "make" and checked.params["shell"] is False  # defaults filled in
    assert await queue.list_tasks() == []
    first = await queue.add_task(Task(TaskType.CUSTOM_COMMAND, {"command": "true"}))
    second = await queue.add_task(Task(TaskType.CUSTOM_COMMAND, {"command": "true"}))
    one, two = await queue.get_task(first), await queue.get_task(second)
    assert two.seq == one.seq + 1  # validating took no place in the queue's order


async def test_an_invalid_task_raises_what_add_task_would(queue: TaskQueue) -> None:
    bad = Task(TaskType.CUSTOM_COMMAND, {"command": "true", "grace_s": "soon"}, priority="top")
    with pytest.raises(QueueError) as checked:
        queue.validate_task(bad)
    with pytest.raises(QueueError) as added:
        await queue.add_task(bad)
    assert checked.value.code is added.value.code is TaskErrorCode.VALIDATION_INVALID_PARAMS
    assert str(checked.value) == str(added.value)
    assert await queue.list_tasks() == []
