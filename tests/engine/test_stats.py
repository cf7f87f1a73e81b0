"""What the queue tells about itself and its tasks: statistics, task summaries, cleanup."""

from __future__ import annotations

from typing import Any

import pytest
from helpers.gate import Gate
from helpers.queues import QueueFactory
from helpers.waiting import eventually

from qtqueue.api.views import task_summary
from qtqueue.core.errors import CATALOG, QueueError, TaskErrorCode
from qtqueue.core.task import Priority, Task, TaskStatus, TaskType
from qtqueue.engine.queue import TaskQueue

C = TaskErrorCode
S = TaskStatus


async def ok(task_id: str, params: dict[str, Any]) -> dict[str, bool]:
    return {"ok": True}


async def bad(task_id: str, params: dict[str, Any]) -> None:
    raise QueueError(C.VALIDATION_INVALID_PARAMS, "bad input")


@pytest.fixture
def outcomes(queue: TaskQueue) -> TaskQueue:
    queue.register_handler("ok", ok)
    queue.register_handler("bad", bad)
    return queue


async def finish(queue: TaskQueue, *tasks: Task) -> list[str]:
    ids = await queue.add_tasks(list(tasks))
    for task_id in ids:
        await queue.wait_for(task_id, timeout_s=10)
    return ids


# --- get_queue_stats --------------------------------------------------------------------------


async def test_success_rate_after_three_completed_and_one_failed_is_75_percent(
    outcomes: TaskQueue,
) -> None:
    queue = outcomes
    await finish(queue, Task("ok"), Task("ok"), Task("bad"), Task("ok"))
    stats = await queue.get_queue_stats()
    assert stats["performance"]["success_rate"] == 75.0
    assert stats["performance"]["completed_tasks"] == 3
    assert stats["performance"]["failed_tasks"] == 1
    assert stats["status_distribution"] == {"completed": 3, "failed": 1}
    assert stats["type_distribution"] == {"ok": 3, "bad": 1}
    assert stats["error_distribution"] == {"VALIDATION_INVALID_PARAMS": 1}
    assert stats["recent_activity"]["last_hour"] == {
        "created": 4, "completed": 3, "failed": 1, "timeout": 0, "cancelled": 0,
    }  # fmt: skip
    assert stats["recent_activity"]["last_24_hours"]["created"] == 4


async def test_the_summary_counts_tasks_slots_running_and_waiting(
    make_queue: QueueFactory,
) -> None:
    queue = await make_queue(max_concurrent=1)
    gate = Gate()
    queue.register_handler("gated", gate.handler)
    empty = (await queue.get_queue_stats())["summary"]
    assert empty == {
        "total_tasks": 0, "max_concurrent_tasks": 1, "running_tasks": 0, "queue_size": 0,
        "queue_paused": False, "dead_letters": 0,
    }  # fmt: skip
    first, _, _ = await queue.add_tasks([Task("gated"), Task("gated"), Task("gated")])
    await eventually(lambda: first in gate.running)
    summary = (await queue.get_queue_stats())["summary"]
    assert summary["total_tasks"] == 3
    assert summary["running_tasks"] == 1
    assert summary["queue_size"] == 2
    queue.set_max_concurrent(3)
    await eventually(lambda: len(gate.running) == 3)
    summary = (await queue.get_queue_stats())["summary"]
    assert (summary["max_concurrent_tasks"], summary["running_tasks"], summary["queue_size"]) == (
        3, 3, 0,
    )  # fmt: skip
    gate.open_all()


async def test_retry_statistics_count_retries_and_tasks_at_their_limit(queue: TaskQueue) -> None:
    runs: dict[str, int] = {}

    async def twice_then_ok(task_id: str, params: dict[str, Any]) -> None:
        runs[task_id] = runs.get(task_id, 0) + 1
        if runs[task_id] <= params["failures"]:
            raise QueueError(C.NETWORK_TIMEOUT, "timed out")

    queue.register_handler("flaky", twice_then_ok)
    await finish(
        queue,
        Task("flaky", {"failures": 2}, max_retries=3, retry_backoff=[0.01]),  # 2 retries, ok
        Task("flaky", {"failures": 5}, max_retries=1, retry_backoff=[0.01]),  # 1 retry, at max
        Task("flaky", {"failures": 0}, max_retries=2),  # no retry
    )
    stats = await queue.get_queue_stats()
    assert stats["retry_statistics"] == {
        "total_retries": 3, "tasks_with_retries": 2, "tasks_at_max_retries": 1,
    }  # fmt: skip
    assert stats["summary"]["dead_letters"] == 1


async def test_a_task_that_completed_on_a_retry_counts_as_one_success(queue: TaskQueue) -> None:
    runs: list[int] = []

    async def once_flaky(task_id: str, params: dict[str, Any]) -> None:
        runs.append(1)
        if len(runs) == 1:
            raise QueueError(C.NETWORK_CONNECTION_FAILED, "connection refused")

    queue.register_handler("flaky", once_flaky)
    await finish(queue, Task("flaky", max_retries=1, retry_backoff=[0.01]))
    perf = (await queue.get_queue_stats())["performance"]
    assert (perf["completed_tasks"], perf["failed_tasks"], perf["success_rate"]) == (1, 0, 100.0)


# --- task_summary (api/views) -----------------------------------------------------------------


async def test_a_failed_task_summary_explains_the_error_and_offers_a_retry(
    queue: TaskQueue,
) -> None:
    (task_id,) = await finish(
        queue,
        Task(
            TaskType.CUSTOM_COMMAND,
            {"command": "exit 3", "shell": True},
            name="three",
            category="system",
            tags=["t"],
            priority=Priority.HIGH,
            max_retries=0,
        ),
    )
    summary = await task_summary(queue, task_id)
    info = CATALOG[C.SYSTEM_COMMAND_FAILED]
    assert summary["status"] == "failed"
    assert (summary["name"], summary["type"], summary["category"], summary["tags"]) == (
        "three", "custom_command", "system", ["t"],
    )  # fmt: skip
    assert summary["priority"] == "high"
    error = summary["error"]
    assert error["code"] == "SYSTEM_COMMAND_FAILED"
    assert error["description"] == info.description
    assert error["suggestion"] == info.suggestion
    assert error["retryable"] is info.retryable
    assert error["details"]["exit_code"] == 3
    assert "exited with code 3" in error["message"]
    assert summary["retry"] == {
        "count": 0, "max_retries": 0, "can_retry": True, "dead_letter": False,
        "retry_on": [], "no_retry_on": [], "next_attempt_at": None,
    }  # fmt: skip
    timing = summary["timing"]
    assert timing["created_at"] <= timing["started_at"] <= timing["completed_at"]
    assert timing["duration_seconds"] >= 0
    assert timing["waiting_seconds"] >= 0


async def test_a_completed_task_summary_has_no_error_and_no_retry(outcomes: TaskQueue) -> None:
    (task_id,) = await finish(outcomes, Task("ok"))
    summary = await task_summary(outcomes, task_id)
    assert summary["status"] == "completed"
    assert summary["error"] is None
    assert summary["retry"]["can_retry"] is False
    assert summary["progress"] == {"percent": 100.0, "current_step": ""}
    assert summary["result"] == {"ok": True}


async def test_a_running_task_summary_shows_its_progress(queue: TaskQueue, gate: Gate) -> None:
    task_id = await queue.add_task(Task("gated"))
    await eventually(lambda: task_id in gate.running)
    await queue.update_progress(task_id, 33.3, "thinking")
    summary = await task_summary(queue, task_id)
    assert summary["status"] == "running"
    assert summary["progress"] == {"percent": 33.3, "current_step": "thinking"}
    assert summary["retry"]["can_retry"] is False
    assert summary["timing"]["completed_at"] is None
    gate.open(task_id)


# --- cleanup ----------------------------------------------------------------------------------


async def test_cleanup_removes_finished_tasks_and_their_logs_and_keeps_unfinished_ones(
    queue: TaskQueue, gate: Gate
) -> None:
    finished = await finish(
        queue,
        Task(TaskType.CUSTOM_COMMAND, {"command": "echo one", "shell": True}),
        Task(
            TaskType.CUSTOM_COMMAND, {"command": "echo two; exit 1", "shell": True}, max_retries=0
        ),
    )
    running = await queue.add_task(Task("gated"))
    await eventually(lambda: running in gate.running)
    await queue.pause_queue()
    waiting = await queue.add_task(Task("gated"))
    assert all(queue.log_path(t).exists() for t in finished)

    assert await queue.cleanup(older_than_s=0) == 2

    assert [t.id for t in await queue.list_tasks()] == [running, waiting]
    assert not any(queue.log_path(t).exists() for t in finished)
    for task_id in finished:
        with pytest.raises(QueueError) as raised:
            await queue.get_task(task_id)
        assert raised.value.code is C.QUEUE_TASK_NOT_FOUND
    assert (await queue.get_queue_stats())["summary"]["total_tasks"] == 2
    gate.open_all()
    assert (await queue.wait_for(running, timeout_s=10)).status is S.COMPLETED


async def test_cleanup_keeps_tasks_younger_than_the_retention(outcomes: TaskQueue) -> None:
    await finish(outcomes, Task("ok"))
    assert await outcomes.cleanup(older_than_s=3600) == 0
    assert len(await outcomes.list_tasks()) == 1
