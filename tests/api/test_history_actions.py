"""The `history` action: the statistics tab's activity over time, for a window attached to an
engine of another process; run against a real TaskQueue on a real SQLite file."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from qtqueue.api.actions import run_action
from qtqueue.core.task import Task, TaskType
from qtqueue.engine.queue import TaskQueue

QueueFactory = Callable[..., Awaitable[TaskQueue]]


async def test_history_counts_what_finished_as_the_engine_does(make_queue: QueueFactory) -> None:
    queue = await make_queue()
    ok = await queue.add_task(Task(TaskType.CUSTOM_COMMAND, {"command": "true"}))
    bad = await queue.add_task(
        Task(TaskType.CUSTOM_COMMAND, {"command": "false"}, max_retries=0)
    )
    for task_id in (ok, bad):
        await queue.wait_for(task_id, 20)
    reply = await run_action(queue, {"action": "history", "params": {"since_s": 3600}})
    assert reply["ok"], reply
    result: dict[str, Any] = reply["result"]
    assert set(result) == set(await queue.get_history(3600))  # the same read, over the API
    assert sum(b["completed"] for b in result["buckets"]) == 1
    assert sum(b["failed"] for b in result["buckets"]) == 1


async def test_too_many_buckets_is_a_coded_error_with_the_fix(make_queue: QueueFactory) -> None:
    queue = await make_queue()
    reply = await run_action(
        queue, {"action": "history", "params": {"since_s": 86400, "bucket_s": 0.001}}
    )
    assert reply["ok"] is False
    error = reply["error"]
    assert error["code"] == "VALIDATION_INVALID_PARAMS"
    assert "at most 10000 buckets" in error["message"] and "wider bucket" in error["message"]
