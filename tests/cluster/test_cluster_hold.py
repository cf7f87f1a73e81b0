"""Pausing a waiting (queued, not yet started) task on a cluster and resuming it, with
`qtqueue --redis URL pause|resume ID` and real `qtqueue worker` processes: a paused task leaves
its queue, shows as paused, no worker takes it, and resume puts it back at its place."""

from __future__ import annotations

import json
import time
from pathlib import Path

from cluster_env import RedisServer, run_workers
from helpers.cli import ok, qtqueue_command
from rq.registry import ScheduledJobRegistry

from qtqueue.cluster.jobs import enqueue, rq_queue
from qtqueue.cluster.reads import ClusterReader
from qtqueue.core.task import Permission, Task, TaskStatus
from qtqueue.executors import default_registry

REGISTRY = default_registry(entry_points=False)


def echo(name: str) -> Task:
    """A custom_command task that says its name."""
    return Task("custom_command", {"command": f"echo {name}", "shell": True}, name=name)


def add(redis: RedisServer, *names: str) -> list[Task]:
    tasks = [echo(n) for n in names]
    for t in tasks:
        enqueue(redis.client, t, REGISTRY)
    return tasks


def queued(redis: RedisServer) -> list[str]:
    """The ids in the default queue, in the order workers take them."""
    return rq_queue(redis.client, "default").get_job_ids()


def test_a_paused_waiting_task_is_not_taken_by_any_worker_until_resumed(
    redis: RedisServer, tmp_path: Path
) -> None:
    run = qtqueue_command(tmp_path)
    first, held, last = add(redis, "first", "held", "last")

    paused = ok(run("--redis", redis.url, "pause", held.id))

    assert paused.strip() == f"paused {held.id[:8]} held (now paused)"
    assert queued(redis) == [first.id, last.id]
    waiting = json.loads(ok(run("--redis", redis.url, "queue", "--json")))
    assert [r["id"] for r in waiting] == [first.id, last.id]  # paused: not waiting to start
    listed = json.loads(ok(run("--redis", redis.url, "ls", "--status", "paused", "--json")))
    assert [t["id"] for t in listed] == [held.id]
    for done in run_workers(redis.url, tmp_path, 2):
        assert done.returncode == 0, done.stderr
    reader = ClusterReader(redis.client)
    assert [reader.task(t.id).status for t in (first, held, last)] == [
        TaskStatus.COMPLETED, TaskStatus.PAUSED, TaskStatus.COMPLETED
    ]  # fmt: skip

    resumed = ok(run("--redis", redis.url, "resume", held.id))

    assert resumed.strip() == f"resumed {held.id[:8]} held (now pending)"
    assert queued(redis) == [held.id]
    for done in run_workers(redis.url, tmp_path, 1):
        assert done.returncode == 0, done.stderr
    assert reader.task(held.id).status == TaskStatus.COMPLETED


def test_resume_puts_a_held_task_back_at_its_place_and_a_cancelled_one_stays_out(
    redis: RedisServer, tmp_path: Path
) -> None:
    run = qtqueue_command(tmp_path)
    a, b, c = add(redis, "a", "b", "c")
    ok(run("--redis", redis.url, "pause", b.id))
    (d,) = add(redis, "d")  # added while b is held

    ok(run("--redis", redis.url, "resume", b.id))

    assert queued(redis) == [a.id, b.id, c.id, d.id]
    ok(run("--redis", redis.url, "pause", c.id))
    ok(run("--redis", redis.url, "cancel", c.id))
    refused = run("--redis", redis.url, "resume", c.id)
    assert refused.returncode == 1
    assert "QUEUE_INVALID_STATE" in refused.stderr
    assert queued(redis) == [a.id, b.id, d.id]
    assert ClusterReader(redis.client).task(c.id).status == TaskStatus.CANCELLED


def test_a_task_that_needs_approval_waits_held_until_approved_and_a_rejected_one_ends(
    redis: RedisServer, tmp_path: Path
) -> None:
    run = qtqueue_command(tmp_path)
    added = ok(run("--redis", redis.url, "add", "--approval", "human_required", "--name",
                   "deploy", "--json", "command", "--", "echo", "deployed"))  # fmt: skip
    deploy_id = json.loads(added)["id"]
    reader = ClusterReader(redis.client)
    refused_task = Task(
        "custom_command", {"command": "echo no", "shell": True}, name="refused",
        permission=Permission.HUMAN_REQUIRED,
    )  # fmt: skip
    enqueue(redis.client, refused_task, REGISTRY)
    (after,) = add(redis, "after")
    assert queued(redis) == [after.id]  # no worker can take the two awaiting approval
    for done in run_workers(redis.url, tmp_path, 1):
        assert done.returncode == 0, done.stderr
    waiting = reader.task(deploy_id)
    assert (waiting.status, waiting.wait_reason) == (TaskStatus.PENDING, "awaiting approval")
    rows = json.loads(ok(run("--redis", redis.url, "queue", "--json")))
    assert {(r["id"], r["held_by"]) for r in rows} == {
        (deploy_id, "approval"), (refused_task.id, "approval")
    }  # fmt: skip

    approved = ok(run("--redis", redis.url, "approve", deploy_id))
    rejected = ok(run("--redis", redis.url, "reject", refused_task.id, "--reason", "not today"))

    assert approved.strip() == f"approved {deploy_id[:8]} deploy (now pending)"
    assert rejected.strip() == f"rejected {refused_task.id[:8]} refused (now cancelled)"
    assert queued(redis) == [deploy_id]
    again = run("--redis", redis.url, "approve", deploy_id)
    assert again.returncode == 1 and "QUEUE_INVALID_STATE" in again.stderr
    for done in run_workers(redis.url, tmp_path, 1):
        assert done.returncode == 0, done.stderr
    assert reader.task(deploy_id).status == TaskStatus.COMPLETED
    assert reader.task(deploy_id).approved_at is not None
    ended = reader.task(refused_task.id)
    assert (ended.status, ended.error_code, ended.error) == (
        TaskStatus.CANCELLED, "QUEUE_REJECTED", "rejected: not today"
    )  # fmt: skip


def test_a_task_waiting_for_its_dependency_paused_stays_out_until_resumed(
    redis: RedisServer, tmp_path: Path
) -> None:
    run = qtqueue_command(tmp_path)
    (first,) = add(redis, "first")
    failing = Task("custom_command", {"command": "exit 1", "shell": True}, max_retries=0)
    enqueue(redis.client, failing, REGISTRY)
    second, third = (
        Task("custom_command", {"command": "echo dep", "shell": True}, depends_on=[d.id])
        for d in (first, failing)
    )
    for t in (second, third):
        enqueue(redis.client, t, REGISTRY)
        assert ok(run("--redis", redis.url, "pause", t.id)).endswith("(now paused)\n")
    for done in run_workers(redis.url, tmp_path, 1):  # first completes, failing fails
        assert done.returncode == 0, done.stderr
    reader = ClusterReader(redis.client)
    assert [reader.task(t.id).status for t in (second, third)] == [TaskStatus.PAUSED] * 2

    ok(run("--redis", redis.url, "resume", second.id))
    ok(run("--redis", redis.url, "resume", third.id))

    assert queued(redis) == [second.id]  # its dependency completed: queued at once
    ended = reader.task(third.id)  # its dependency failed meanwhile: it fails, as locally
    assert (ended.status, ended.error) == (TaskStatus.FAILED, f"dependency {failing.id} failed")
    for done in run_workers(redis.url, tmp_path, 1):
        assert done.returncode == 0, done.stderr
    assert reader.task(second.id).status == TaskStatus.COMPLETED


def test_a_scheduled_task_paused_leaves_the_schedule_and_resume_keeps_its_time(
    redis: RedisServer, tmp_path: Path
) -> None:
    run = qtqueue_command(tmp_path)
    at = time.time() + 3600
    task = Task("custom_command", {"command": "true", "shell": True}, run_at=at)
    enqueue(redis.client, task, REGISTRY)
    scheduled = ScheduledJobRegistry("default", connection=redis.client)

    ok(run("--redis", redis.url, "pause", task.id))

    assert scheduled.get_job_ids() == []
    assert ClusterReader(redis.client).task(task.id).status == TaskStatus.PAUSED
    ok(run("--redis", redis.url, "resume", task.id))
    assert scheduled.get_job_ids() == [task.id]
    assert abs(scheduled.get_scheduled_time(task.id).timestamp() - at) < 1
    assert ClusterReader(redis.client).task(task.id).status == TaskStatus.PENDING
