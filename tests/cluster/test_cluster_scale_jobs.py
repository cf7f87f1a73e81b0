"""What a qtqueue job costs and carries: its argument holds only what differs from a task's
defaults, and a work horse runs its attempt on the loop its worker made before the fork,
ending what the attempt left running as `asyncio.run` would."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from cluster_env import RedisServer
from rq.job import Job, JobStatus

from qtqueue.cluster import job as job_module
from qtqueue.cluster.jobs import SERIALIZER, enqueue, job_task, rq_queue
from qtqueue.cluster.queues import DRAIN_ORDER
from qtqueue.cluster.worker import QtqueueWorker
from qtqueue.core.task import Priority, Task
from qtqueue.executors import ExecutorRegistry, default_registry

REGISTRY = default_registry(entry_points=False)


def test_a_job_carries_what_differs_from_a_tasks_defaults_and_gives_back_the_whole_task(
    redis: RedisServer,
) -> None:
    task = Task(
        "custom_command",
        {"command": "echo hi", "shell": True},  # type: ignore[arg-type]
        name="greet",
        tags=["a", "b"],
        priority=Priority.HIGH,
        retry_on=["SYSTEM_TIMEOUT"],
        timeout_s=90,
    )
    job = enqueue(redis.client, task, REGISTRY)

    stored = Job.fetch(task.id, connection=redis.client, serializer=SERIALIZER)
    payload = stored.args[0]
    assert "status" not in payload and "progress" not in payload  # defaults stay out
    whole = job_task(stored)
    assert whole.id == task.id and whole.name == "greet" and whole.tags == ["a", "b"]
    assert whole.priority == Priority.HIGH and whole.retry_on == ["SYSTEM_TIMEOUT"]
    assert whole.timeout_s == 90 and whole.params["command"] == "echo hi"
    assert len(json.dumps(payload)) * 2 < len(json.dumps(whole.to_dict()))
    assert job.id == task.id


def test_what_an_attempt_leaves_running_is_ended_in_its_work_horse(
    redis: RedisServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("_registry", "_data_dir", "_loop", "_loop_pid"):  # restored after the test
        monkeypatch.setattr(job_module, name, getattr(job_module, name))
    ended = tmp_path / "ended.txt"

    async def leaves_a_task(task_id: str, params: dict[str, Any]) -> dict[str, Any]:
        async def background() -> None:
            try:
                await asyncio.sleep(60)
            finally:
                ended.write_text(task_id)  # its cleanup, when the attempt's loop ends it

        asyncio.get_running_loop().create_task(background())
        await asyncio.sleep(0)
        return {"left": 1}

    registry = ExecutorRegistry()
    registry.register_handler("leaves_a_task", leaves_a_task)
    job_module.configure(registry, tmp_path / "data")
    task = Task("leaves_a_task", max_retries=0)
    enqueue(redis.client, task, registry)
    worker = QtqueueWorker(
        [rq_queue(redis.client, q) for q in DRAIN_ORDER],
        connection=redis.client,
        serializer=SERIALIZER,
    )
    worker.work(burst=True, logging_level="WARNING")  # each job in a forked work horse

    stored = Job.fetch(task.id, connection=redis.client, serializer=SERIALIZER)
    assert stored.get_status() == JobStatus.FINISHED
    assert stored.return_value() == {"left": 1}
    assert ended.read_text() == task.id
