"""The Docker queue document (2-enhanced-docker-queue.md): its Python examples, as written (the
import path `qtqueue`), on the user's default queue — here a data directory of the test's own.

Each test's body holds the document's code between `# --- the document` and `# ---`; around
it, only what the example takes for granted (a queue, a task id). No Docker daemon answers
here, so a push fails with the code that says so; the document's JSON actions are the API's
(tests/api)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from helpers.waiting import eventually

from qtqueue import DockerTask, Task, TaskQueue, TaskStatus, TaskType

S = TaskStatus


async def _running(queue: TaskQueue, task_id: str) -> bool:
    return (await queue.get_task(task_id)).status is S.RUNNING


async def test_docker_queue_doc_usage_1_push_docker_image(user_data_dir: Path) -> None:
    # --- the document
    from qtqueue.task_queue import DockerTask, TaskQueue, TaskType

    queue = TaskQueue()
    task = DockerTask(
        task_type=TaskType.PUSH, params={"image_name": "username/myapp", "tag": "latest"}
    )
    task_id = await queue.add_task(task)
    # ---
    pushed = await queue.wait_for(task_id, timeout_s=20)
    assert TaskType.PUSH is TaskType.DOCKER_PUSH
    assert (pushed.task_type, pushed.category, pushed.name, pushed.params["tag"]) == (
        "docker_push",
        "docker",
        "username/myapp",
        "latest",
    )
    assert pushed.status is S.FAILED and pushed.error_code == "DOCKER_DAEMON_UNAVAILABLE"
    await queue.close()


async def test_docker_queue_doc_usage_2_monitor_task_status(
    user_data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    queue = TaskQueue()
    task_id = await queue.add_task(
        DockerTask(task_type=TaskType.PUSH, params={"image_name": "username/myapp"})
    )
    await queue.wait_for(task_id, timeout_s=20)
    # --- the document
    # Get task status
    task = await queue.get_task(task_id)
    print(f"Status: {task.status.value}")
    print(f"Progress: {task.progress}%")
    print(f"Current step: {task.current_step}")

    # Get detailed summary
    summary = await queue.get_task_summary(task_id)
    print(f"Error: {summary['error']}")
    print(f"Can retry: {summary['retry']['can_retry']}")
    # ---
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Status: failed"
    assert re.fullmatch(r"Progress: \d+(\.\d+)?%", lines[1]) and lines[2].startswith(
        "Current step:"
    )
    info = task.error_info
    assert info is not None and info.description and info.suggestion
    assert lines[3].startswith("Error: {'code': 'DOCKER_DAEMON_UNAVAILABLE'")
    assert info.description in lines[3] and info.suggestion in lines[3]
    assert lines[4] == "Can retry: True" and task.can_retry is True
    await queue.close()


async def test_docker_queue_doc_usage_3_manage_tasks(user_data_dir: Path) -> None:
    queue = TaskQueue()
    task_id = await queue.add_task(
        Task(TaskType.CUSTOM_COMMAND, {"command": "sleep", "args": ["60"]})
    )
    # (set-up, not the document: the push fails once, without its queue's automatic retries)
    pushed = await queue.add_task(
        DockerTask(TaskType.PUSH, {"image_name": "username/myapp"}, max_retries=0)
    )
    await eventually(lambda: _running(queue, task_id), what="the task runs")
    assert (await queue.wait_for(pushed, timeout_s=20)).status is S.FAILED
    # --- the document (each call on a task in the state its comment names)
    # Pause running task
    await queue.pause_task(task_id)
    paused = await queue.get_task(task_id)
    # Resume paused task
    await queue.resume_task(task_id)
    resumed = await queue.get_task(task_id)
    # Retry failed task
    await queue.retry_task(pushed)
    # Cancel task
    await queue.cancel_task(task_id)
    # ---
    assert (paused.status, paused.duration is not None) == (S.PAUSED, True)
    assert resumed.status is S.RUNNING
    cancelled = await queue.get_task(task_id)
    assert cancelled.status is S.CANCELLED and cancelled.can_retry
    again = await queue.wait_for(pushed, timeout_s=20)
    assert (again.status, again.retry_count, again.error_code) == (
        S.FAILED,
        1,
        "DOCKER_DAEMON_UNAVAILABLE",
    )
    await queue.close()


async def test_docker_queue_doc_usage_4_get_queue_statistics(
    user_data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    queue = TaskQueue()
    for command in ("true", "true", "true", "false"):  # each runs once (no automatic retry)
        await queue.wait_for(
            await queue.add_task(
                Task(TaskType.CUSTOM_COMMAND, {"command": command}, max_retries=0)
            ),
            10,
        )
    # --- the document
    stats = await queue.get_queue_stats()
    print(f"Success rate: {stats['performance']['success_rate']}%")
    print(f"Average duration: {stats['performance']['average_duration_seconds']}s")
    print(f"Recent tasks: {stats['recent_activity']['last_hour']}")
    # ---
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Success rate: 75.0%"
    average = re.fullmatch(r"Average duration: (\S+)s", lines[1])
    assert average is not None and float(average[1]) > 0
    assert lines[2].startswith("Recent tasks: {'created': 4, ")
    assert "'completed': 3" in lines[2] and "'failed': 1" in lines[2]
    await queue.close()


async def test_docker_queue_doc_4_enhanced_task_information(user_data_dir: Path) -> None:
    """The fields the document lists for every task, read as attributes."""
    queue = TaskQueue()
    task = await queue.wait_for(
        await queue.add_task(Task(TaskType.CUSTOM_COMMAND, {"command": "false"}, max_retries=1)),
        10,
    )
    assert (task.retry_count, task.max_retries, task.can_retry) == (1, 1, True)
    assert task.duration is not None and task.duration == task.duration_s > 0
    assert task.started_at is not None and task.completed_at is not None
    assert task.error_code and task.error and task.error_info is not None
    assert task.error_info.description and task.error_info.suggestion
    done = await queue.wait_for(
        await queue.add_task(Task(TaskType.CUSTOM_COMMAND, {"command": "true"})), 10
    )
    assert (done.error_info, done.can_retry) == (None, False)
    await queue.close()
