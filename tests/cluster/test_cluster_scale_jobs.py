"""What a qtqueue job costs and carries: its argument holds only what differs from a task's
defaults; a work horse runs its attempt on the loop its worker made before the fork, ending
what the attempt left running as `asyncio.run` would; it opens its Redis connection without
reading package metadata; a finished task's meta is written in RQ's own end-of-job
transaction; and the worker loads no library that hooks into each of its forks."""

from __future__ import annotations

import asyncio
import importlib.metadata
import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from cluster_env import WORKER_TIMEOUT_S, RedisServer, run_workers
from helpers.cli import qtqueue_env
from redis import Redis
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


@pytest.fixture
def job_module_state(monkeypatch: pytest.MonkeyPatch) -> None:
    """What `job.configure` sets in this process, restored after the test."""
    for name in ("_registry", "_data_dir", "_loop", "_loop_pid"):
        monkeypatch.setattr(job_module, name, getattr(job_module, name))


@pytest.mark.usefixtures("job_module_state")
def test_what_an_attempt_leaves_running_is_ended_in_its_work_horse(
    redis: RedisServer, tmp_path: Path
) -> None:
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


def _commands(client: Redis, into: list[dict[str, Any]], ready: threading.Event) -> None:
    """Every command Redis runs (MONITOR), into `into`, until `ECHO monitor-end`."""
    with client.monitor() as monitor:
        ready.set()
        while True:
            command = monitor.next_command()
            if command["command"] == f"ECHO {MONITOR_END}":
                return
            into.append(command)


MONITOR_END = "monitor-end"


def _transactions(commands: list[dict[str, Any]]) -> tuple[list[list[str]], list[str]]:
    """The MULTI…EXEC blocks of `commands` (per client), and the commands outside any."""
    open_blocks: dict[tuple[str, str], list[str]] = {}
    blocks, alone = [], []
    for c in commands:
        who, line = (str(c["client_address"]), str(c["client_port"])), str(c["command"])
        if line == "MULTI":
            open_blocks[who] = []
        elif line == "EXEC" and who in open_blocks:
            blocks.append(open_blocks.pop(who))
        elif who in open_blocks:
            open_blocks[who].append(line)
        else:
            alone.append(line)
    return blocks, alone


def test_a_finished_tasks_meta_says_completed_in_the_transaction_that_finishes_its_job(
    redis: RedisServer, tmp_path: Path
) -> None:
    tasks = [
        Task("custom_command", {"command": "true", "shell": True}, max_retries=0)  # type: ignore[arg-type]
        for _ in range(3)
    ]
    for task in tasks:
        enqueue(redis.client, task, REGISTRY)
    seen: list[dict[str, Any]] = []
    ready = threading.Event()
    watcher = threading.Thread(
        target=_commands, args=(Redis.from_url(redis.url), seen, ready), daemon=True
    )
    watcher.start()
    assert ready.wait(10)
    (done,) = run_workers(redis.url, tmp_path)  # a real `qtqueue worker --burst`
    redis.client.echo(MONITOR_END)
    watcher.join(10)
    assert done.returncode == 0, done.stderr

    blocks, alone = _transactions(seen)
    for task in tasks:
        key = f"HSET rq:job:{task.id} "
        meta_writes = [c for c in alone if c.startswith(key + "meta ")]
        # A reader never sees the job "finished" with a meta that still says "running": the
        # meta's end is written in RQ's own end-of-job transaction, not in a write before it.
        assert not [c for c in meta_writes if '"completed"' in c], meta_writes
        ending = [b for b in blocks if any(c.startswith(key) and "status finished" in c for c in b)]
        assert len(ending) == 1, ending
        assert any(c.startswith(key + "meta ") and '"completed"' in c for c in ending[0])
        stored = Job.fetch(task.id, connection=redis.client, serializer=SERIALIZER)
        assert stored.get_status() == JobStatus.FINISHED
        assert stored.meta["status"] == stored.meta["phase"] == "completed"
        assert stored.meta["ended_at"] >= stored.meta["started_at"]


async def _noop(task_id: str, params: dict[str, Any]) -> None:
    """A task that does nothing."""


@pytest.mark.usefixtures("job_module_state")
def test_a_work_horse_reads_no_package_metadata_to_open_its_redis_connection(
    redis: RedisServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads = tmp_path / "metadata-reads.txt"
    real_version = importlib.metadata.version

    def version(name: str) -> str:  # inherited by every work horse forked below
        with reads.open("a") as out:
            out.write(f"{os.getpid()} {name}\n")
        return real_version(name)

    monkeypatch.setattr(importlib.metadata, "version", version)
    registry = ExecutorRegistry()
    registry.register_handler("noop", _noop)
    job_module.configure(registry, tmp_path / "data")
    ids = [enqueue(redis.client, Task("noop", max_retries=0), registry).id for _ in range(3)]
    conn = Redis.from_url(redis.url)  # a worker's own client, as `qtqueue worker` makes it
    worker = QtqueueWorker(
        [rq_queue(conn, q) for q in DRAIN_ORDER], connection=conn, serializer=SERIALIZER
    )
    worker.work(burst=True, logging_level="WARNING")  # each job in a forked work horse

    jobs = Job.fetch_many(ids, connection=redis.client, serializer=SERIALIZER)
    assert [j.get_status() if j else None for j in jobs] == [JobStatus.FINISHED] * 3
    lines = reads.read_text().splitlines() if reads.exists() else []
    # Each horse opened its own connection without reading redis-py's metadata from disk
    # (~1.5 ms a job): the worker resolved it once, before forking.
    assert [line for line in lines if int(line.split()[0]) != os.getpid()] == []


def test_a_worker_loads_no_library_that_hooks_into_each_of_its_forks(
    redis: RedisServer, tmp_path: Path
) -> None:
    task = Task("custom_command", {"command": "true", "shell": True}, max_retries=0)  # type: ignore[arg-type]
    enqueue(redis.client, task, REGISTRY)
    env = qtqueue_env(tmp_path) | {"PYTHONPROFILEIMPORTTIME": "1"}  # each import, on stderr
    argv = [sys.executable, "-m", "qtqueue", "--data-dir", str(tmp_path / "q"), "worker"]
    done = subprocess.run(
        [*argv, "--redis", redis.url, "--burst"],
        capture_output=True,
        text=True,
        env=env,
        timeout=WORKER_TIMEOUT_S,
    )
    assert done.returncode == 0, done.stderr
    stored = Job.fetch(task.id, connection=redis.client, serializer=SERIALIZER)
    assert stored.get_status() == JobStatus.FINISHED
    imported = [line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines()]
    assert "qtqueue.cluster.job" in imported  # the worker's imports are there
    # filelock (the local engine's data-directory lock) runs its own hooks around every
    # fork (os.register_at_fork): ~0.5 ms a job for a worker that forks once per job.
    assert [m for m in imported if m.split(".")[0] == "filelock"] == []
