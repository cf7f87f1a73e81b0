"""The universal queue document (1-universal-queue.md): its Python examples, as written (the
import path `qtqueue`), on the user's default queue — here a data directory of the test's own.

Each test's body holds the document's code between `# --- the document` and `# ---`; around
it, only what the example takes for granted (a queue, a task id, a script that exists)."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import pytest
from helpers.waiting import eventually

from qtqueue import Task, TaskQueue, TaskStatus, TaskType
from qtqueue.core.errors import error_info
from qtqueue.engine.queue import DB_NAME

S = TaskStatus


async def _status(queue: TaskQueue, task_id: str) -> TaskStatus:
    return (await queue.get_task(task_id)).status


async def _running(queue: TaskQueue, task_id: str) -> bool:
    return await _status(queue, task_id) is S.RUNNING


@pytest.fixture
def script(tmp_path: Path) -> Path:
    """The document's /path/to/script.sh: prints where it runs and its arguments."""
    path = tmp_path / "script.sh"
    path.write_text('#!/bin/sh\necho "in $(pwd): $*"\n')
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


async def test_universal_queue_doc_usage_1_docker_operations(user_data_dir: Path) -> None:
    # --- the document
    from qtqueue.task_queue import Task, TaskQueue, TaskType

    queue = TaskQueue()

    # Docker push
    docker_task = Task(
        task_type=TaskType.DOCKER_PUSH,
        params={"image_name": "username/myapp", "tag": "latest"},
        category="docker",
        tags=["docker", "push", "production"],
    )
    task_id = await queue.add_task(docker_task)
    # ---
    assert queue.data_dir == user_data_dir and (user_data_dir / DB_NAME).exists()
    task = await queue.wait_for(task_id, timeout_s=20)
    assert (task.task_type, task.category, task.tags) == (
        "docker_push",
        "docker",
        ["docker", "push", "production"],
    )
    # No Docker daemon answers here: the push fails with a code that says so, and how to fix it.
    assert task.status is S.FAILED and task.error_code == "DOCKER_DAEMON_UNAVAILABLE"
    assert task.error_info is not None and task.error_info.suggestion
    await queue.close()


async def test_universal_queue_doc_usage_2_custom_script_execution(
    user_data_dir: Path, script: Path
) -> None:
    queue = TaskQueue()
    # --- the document (the script's path is the test's)
    # Custom script
    script_task = Task(
        task_type=TaskType.CUSTOM_SCRIPT,
        params={"script_path": str(script), "script_args": ["arg1", "arg2"], "working_dir": "/tmp"},
        category="custom",
        tags=["script", "automation"],
    )
    task_id = await queue.add_task(script_task)
    # ---
    done = await queue.wait_for(task_id, timeout_s=10)
    assert done.status is S.COMPLETED, done.error
    assert await queue.read_log(task_id) == "in /tmp: arg1 arg2\n"
    assert (done.category, done.tags) == ("custom", ["script", "automation"])
    await queue.close()


async def test_universal_queue_doc_usage_3_custom_command_execution(
    user_data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "config.json").write_text('{"greeting": "configured"}')
    (tmp_path / "script.py").write_text(
        "import json, sys\nprint(sys.argv[1:], json.load(open(sys.argv[2]))['greeting'])\n"
    )
    monkeypatch.chdir(tmp_path)  # where the example's script.py and config.json are
    queue = TaskQueue()
    # --- the document
    # Custom command
    command_task = Task(
        task_type=TaskType.CUSTOM_COMMAND,
        params={
            "command": "python",
            "args": ["script.py", "--config", "config.json"],
            "shell": False,
        },
        category="system",
        tags=["python", "automation"],
    )
    task_id = await queue.add_task(command_task)
    # ---
    done = await queue.wait_for(task_id, timeout_s=10)
    assert done.status is S.COMPLETED, done.error
    assert await queue.read_log(task_id) == "['--config', 'config.json'] configured\n"
    await queue.close()


async def test_universal_queue_doc_usage_4_system_monitoring(user_data_dir: Path) -> None:
    queue = TaskQueue()
    # --- the document
    # System monitoring
    monitor_task = Task(
        task_type=TaskType.SYSTEM_MONITOR,
        params={"monitor_type": "general"},
        category="monitoring",
        tags=["system", "health"],
    )
    task_id = await queue.add_task(monitor_task)
    # ---
    done = await queue.wait_for(task_id, timeout_s=10)
    assert done.status is S.COMPLETED, done.error
    assert done.result is not None
    latest = done.result["latest"]
    # The overall picture: CPU with its load, memory and disk, as real figures.
    assert set(latest) == {"at", "cpu", "memory", "disk"}
    assert latest["cpu"]["cores"] >= 1 and len(latest["cpu"]["load_average"]) == 3
    assert latest["memory"]["total"] > 0 and 0 <= latest["disk"]["percent"] <= 100
    assert re.fullmatch(r"cpu \d+%, memory \d+%, disk / \d+%\n", await queue.read_log(task_id))
    await queue.close()


async def test_universal_queue_doc_task_management_1_task_filtering(user_data_dir: Path) -> None:
    queue = TaskQueue()
    pushed = await queue.add_task(
        Task(TaskType.DOCKER_PUSH, {"image_name": "me/app"}, category="docker", tags=["production"])
    )
    monitored = await queue.add_task(Task(TaskType.SYSTEM_MONITOR, tags=["test"]))
    # --- the document
    # Filter by category
    docker_tasks = await queue.get_tasks_by_category("docker")
    kubernetes_tasks = await queue.get_tasks_by_category("kubernetes")

    # Filter by tags
    production_tasks = await queue.get_tasks_by_tag("production")
    test_tasks = await queue.get_tasks_by_tag("test")

    # Filter by type
    push_tasks = await queue.get_tasks_by_type(TaskType.DOCKER_PUSH)
    monitor_tasks = await queue.get_tasks_by_type(TaskType.SYSTEM_MONITOR)
    # ---
    assert [t.id for t in docker_tasks] == [pushed] and kubernetes_tasks == []
    assert [t.id for t in production_tasks] == [pushed]
    assert [t.id for t in test_tasks] == [monitored]
    assert [t.id for t in push_tasks] == [pushed]
    assert [t.id for t in monitor_tasks] == [monitored]
    await queue.close()


async def test_universal_queue_doc_task_management_2_task_control(user_data_dir: Path) -> None:
    queue = TaskQueue()
    task_id = await queue.add_task(
        Task(TaskType.CUSTOM_COMMAND, {"command": "sleep", "args": ["60"]})
    )
    # (set-up: it fails once, without its queue's automatic retries)
    failed_id = await queue.add_task(
        Task(TaskType.CUSTOM_COMMAND, {"command": "false"}, max_retries=0)
    )
    await eventually(lambda: _running(queue, task_id), what="the task runs")
    assert (await queue.wait_for(failed_id, timeout_s=10)).status is S.FAILED
    # --- the document (each call on a task in the state its comment names)
    # Pause running task
    await queue.pause_task(task_id)
    assert await _status(queue, task_id) is S.PAUSED
    # Resume paused task
    await queue.resume_task(task_id)
    assert await _status(queue, task_id) is S.RUNNING
    # Retry failed task
    await queue.retry_task(failed_id)
    # Cancel task
    await queue.cancel_task(task_id)
    # ---
    assert await _status(queue, task_id) is S.CANCELLED
    again = await queue.wait_for(failed_id, timeout_s=10)
    assert (again.status, again.retry_count) == (S.FAILED, 1)
    await queue.close()


async def test_universal_queue_doc_task_management_3_task_monitoring(
    user_data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    queue = TaskQueue()
    task_id = await queue.add_task(Task(TaskType.CUSTOM_SCRIPT, {"script_path": "/no/such.sh"}))
    await queue.wait_for(task_id, timeout_s=10)
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
    assert lines[:3] == ["Status: failed", "Progress: 0.0%", "Current step: "]
    info = error_info("DATA_FILE_NOT_FOUND")
    assert lines[3].startswith("Error: {'code': 'DATA_FILE_NOT_FOUND'")
    assert info.description in lines[3] and info.suggestion in lines[3]
    assert lines[4] == "Can retry: True"
    await queue.close()


async def test_universal_queue_doc_queue_manager_integration_1_using_queue_manager(
    user_data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "script.py").write_text("print('script.py ran')\n")
    monkeypatch.chdir(tmp_path)  # where the example's script.py is
    from qtqueue import get_task_queue

    ids = []
    # --- the document
    from qtqueue.queue_manager import queue_manager

    # Add Docker push task
    task_id = await queue_manager.add_push_task(image_name="username/myapp", tag="latest")
    ids.append(task_id)

    # Add custom script task
    task_id = await queue_manager.add_custom_script_task(
        script_path="/path/to/script.sh", script_args=["arg1", "arg2"]
    )
    ids.append(task_id)

    # Add custom command task
    task_id = await queue_manager.add_custom_command_task(
        command="python", args=["script.py"], shell=False
    )
    ids.append(task_id)

    # Add system monitor task
    task_id = await queue_manager.add_system_monitor_task(monitor_type="general")
    ids.append(task_id)

    # Add generic task
    task_id = await queue_manager.add_generic_task(
        task_type=TaskType.DATA_PROCESS, params={"operation": "backup"}
    )
    ids.append(task_id)
    # ---
    queue = get_task_queue()
    assert queue_manager.queue is queue and queue.data_dir == user_data_dir
    push, script, command, monitor, generic = [await queue.wait_for(i, 20) for i in ids]
    assert (push.task_type, push.category, push.params["image_name"], push.params["tag"]) == (
        "docker_push",
        "docker",
        "username/myapp",
        "latest",
    )
    assert push.error_code == "DOCKER_DAEMON_UNAVAILABLE"  # no daemon here
    # The document's script path is a placeholder: the task says the file is missing.
    assert (script.error_code, script.params["script_args"]) == (
        "DATA_FILE_NOT_FOUND",
        ["arg1", "arg2"],
    )
    assert command.status is S.COMPLETED and await queue.read_log(command.id) == "script.py ran\n"
    assert monitor.status is S.COMPLETED and monitor.result is not None
    assert {"cpu", "memory", "disk"} <= set(monitor.result["latest"])
    # The data family backs up qtqueue's own database to JSON (test_universal_queue_doc_data_*).
    assert generic.status is S.COMPLETED and generic.result is not None, generic.error
    assert generic.result["format"] == "json" and Path(generic.result["output"]).is_file()


async def test_universal_queue_doc_queue_manager_integration_2_queue_statistics(
    user_data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from qtqueue.queue_manager import queue_manager

    done = await queue_manager.add_custom_command_task(command="true")
    failed = await queue_manager.add_custom_command_task(command="false")
    for task_id in (done, failed):
        await queue_manager.queue.wait_for(task_id, 10)
    capsys.readouterr()
    # --- the document
    # Get comprehensive statistics
    stats = await queue_manager.get_queue_status()

    print(f"Total tasks: {stats['summary']['total_tasks']}")
    print(f"Success rate: {stats['performance']['success_rate']}%")
    print(f"Average duration: {stats['performance']['average_duration_seconds']}s")

    # Status distribution
    for status, count in stats["status_distribution"].items():
        if count > 0:
            print(f"{status}: {count}")

    # Type distribution
    for task_type, count in stats["type_distribution"].items():
        if count > 0:
            print(f"{task_type}: {count}")
    # ---
    lines = capsys.readouterr().out.splitlines()
    assert lines[:2] == ["Total tasks: 2", "Success rate: 50.0%"]
    average = re.fullmatch(r"Average duration: (\d+\.\d+(e-\d+)?)s", lines[2])
    assert average is not None and float(average[1]) > 0
    assert sorted(lines[3:5]) == ["completed: 1", "failed: 1"]
    assert lines[5:] == ["custom_command: 2"]
