"""The universal queue document's parameter names and values: CUSTOM_SCRIPT's and
CUSTOM_COMMAND's `working_dir` (qtqueue's `cwd`) and SYSTEM_MONITOR's `monitor_type="general"`."""

from __future__ import annotations

from pathlib import Path

import pytest

from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.core.task import Task, TaskStatus, TaskType
from qtqueue.engine.queue import TaskQueue

S = TaskStatus


@pytest.mark.parametrize(
    ("task_type", "params"),
    [
        (TaskType.CUSTOM_COMMAND, {"command": "pwd"}),
        (TaskType.CUSTOM_SCRIPT, {"script_path": "where.sh"}),
    ],
)
async def test_working_dir_is_where_the_process_runs(
    queue: TaskQueue, tmp_path: Path, task_type: TaskType, params: dict[str, str]
) -> None:
    (tmp_path / "where.sh").write_text("pwd\n")
    task_id = await queue.add_task(Task(task_type, {**params, "working_dir": str(tmp_path)}))
    done = await queue.wait_for(task_id, 10)
    assert done.status is S.COMPLETED, done.error
    assert await queue.read_log(task_id) == f"{tmp_path}\n"
    assert done.params["cwd"] == str(tmp_path) and "working_dir" not in done.params


async def test_working_dir_and_cwd_together_are_refused(queue: TaskQueue) -> None:
    with pytest.raises(QueueError) as raised:
        await queue.add_task(
            Task(TaskType.CUSTOM_COMMAND, {"command": "pwd", "cwd": "/", "working_dir": "/tmp"})
        )
    assert raised.value.code is TaskErrorCode.VALIDATION_INVALID_PARAMS
    assert "working_dir" in str(raised.value)


async def test_a_general_sample_is_the_overall_picture(queue: TaskQueue) -> None:
    task_id = await queue.add_task(Task(TaskType.SYSTEM_MONITOR, {"monitor_type": "general"}))
    done = await queue.wait_for(task_id, 10)
    assert done.status is S.COMPLETED and done.result is not None
    latest = done.result["latest"]
    assert set(latest) == {"at", "cpu", "memory", "disk"}
    assert latest["cpu"]["cores"] >= 1 and len(latest["cpu"]["load_average"]) == 3
    assert latest["memory"]["total"] > 0 and latest["disk"]["total"] > 0
