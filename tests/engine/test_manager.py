"""QueueManager: one-call helpers that build the right task and add it."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers.gate import Gate
from helpers.waiting import eventually

from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.core.task import Priority, Task, TaskStatus, TaskType
from qtqueue.engine.manager import QueueManager
from qtqueue.engine.queue import TaskQueue

S = TaskStatus


@pytest.fixture
def manager(queue: TaskQueue) -> QueueManager:
    return QueueManager(queue)


async def test_a_custom_command_task_runs_its_program(manager: QueueManager) -> None:
    task_id = await manager.add_custom_command_task("echo", ["hello", "world"], tags=["demo"])
    done = await manager.queue.wait_for(task_id, timeout_s=10)
    assert done.status is S.COMPLETED
    assert (done.task_type, done.category, done.tags) == (
        TaskType.CUSTOM_COMMAND,
        "system",
        ["demo"],
    )
    assert done.name == "echo hello world"
    assert await manager.queue.read_log(task_id) == "hello world\n"


async def test_a_custom_command_task_can_use_the_shell(manager: QueueManager) -> None:
    task_id = await manager.add_custom_command_task("echo $((6 * 7))", shell=True, category="maths")
    done = await manager.queue.wait_for(task_id, timeout_s=10)
    assert done.category == "maths"
    assert await manager.queue.read_log(task_id) == "42\n"


async def test_a_custom_script_task_runs_its_script(manager: QueueManager, tmp_path: Path) -> None:
    script = tmp_path / "hello.py"
    script.write_text("import sys\nprint('hi', *sys.argv[1:])\n")
    task_id = await manager.add_custom_script_task(str(script), ["there"])
    done = await manager.queue.wait_for(task_id, timeout_s=10)
    assert done.status is S.COMPLETED, done.error
    assert done.task_type == TaskType.CUSTOM_SCRIPT
    assert await manager.queue.read_log(task_id) == "hi there\n"


async def test_a_system_monitor_task_is_low_priority_by_default(manager: QueueManager) -> None:
    task_id = await manager.add_system_monitor_task("memory")
    done = await manager.queue.wait_for(task_id, timeout_s=10)
    assert done.status is S.COMPLETED
    assert (done.priority, done.category) == (Priority.LOW, "system")
    assert done.result is not None and "memory" in done.result["latest"]
    urgent = await manager.add_system_monitor_task("cpu", priority=Priority.URGENT)
    assert (await manager.queue.get_task(urgent)).priority is Priority.URGENT


async def test_a_generic_task_takes_any_type_by_name(manager: QueueManager) -> None:
    task_id = await manager.add_generic_task(
        "custom_command", {"command": "true"}, name="named", priority=Priority.HIGH
    )
    done = await manager.queue.wait_for(task_id, timeout_s=10)
    assert (done.name, done.priority, done.status) == ("named", Priority.HIGH, S.COMPLETED)


async def test_a_push_task_is_a_docker_push_that_says_when_no_daemon_answers(
    manager: QueueManager, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-docker.sock")
    task_id = await manager.add_push_task("registry.example/app", "v1", max_retries=0)
    task = await manager.queue.wait_for(task_id, 20)
    assert (task.task_type, task.category) == (TaskType.DOCKER_PUSH, "docker")
    assert task.params["image_name"] == "registry.example/app" and task.params["tag"] == "v1"
    assert task.status is TaskStatus.FAILED
    assert task.error_code == TaskErrorCode.DOCKER_DAEMON_UNAVAILABLE.value


async def test_a_task_of_a_type_without_an_executor_is_refused(manager: QueueManager) -> None:
    with pytest.raises(QueueError) as raised:
        await manager.add_generic_task("no_such_type", {})
    assert raised.value.code is TaskErrorCode.QUEUE_UNKNOWN_TASK_TYPE
    assert await manager.queue.list_tasks() == []


async def test_the_queue_status_shows_the_summary_and_what_runs(
    manager: QueueManager, gate: Gate
) -> None:
    queue = manager.queue
    running = await queue.add_task(Task("gated", name="busy"))
    await eventually(lambda: running in gate.running)
    status = await manager.get_queue_status()
    assert status["summary"]["running_tasks"] == 1
    assert status["status_distribution"] == {"running": 1}
    assert status["running"] == [
        {"id": running, "name": "busy", "status": "running", "progress": 0.0}
    ]
    gate.open_all()


async def test_a_system_monitor_task_samples_the_overall_picture_by_default(
    manager: QueueManager,
) -> None:
    done = await manager.queue.wait_for(await manager.add_system_monitor_task(), timeout_s=10)
    assert done.params["monitor_type"] == "general" and done.result is not None
    assert set(done.result["latest"]) == {"at", "cpu", "memory", "disk"}


async def test_the_queue_status_has_the_documents_figures(manager: QueueManager) -> None:
    for command in ("true", "true", "false"):
        await manager.queue.wait_for(
            await manager.add_custom_command_task(command, max_retries=0), 10
        )
    await manager.queue.wait_for(await manager.add_system_monitor_task("memory"), 10)
    status = await manager.get_queue_status()
    assert status["summary"]["total_tasks"] == 4
    assert status["performance"]["success_rate"] == 75.0
    assert status["performance"]["average_duration_seconds"] > 0
    assert status["status_distribution"] == {"completed": 3, "failed": 1}
    assert status["type_distribution"] == {"custom_command": 3, "system_monitor": 1}
    assert status["error_distribution"] and status["running"] == []
    assert status["recent_activity"]["last_hour"]["created"] == 4
