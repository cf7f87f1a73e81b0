"""The dependents of a task that failed, was dead-lettered or was cancelled, on a cluster, with
real `qtqueue worker` processes: as locally, a dependent that does not allow the failure ends
failed with QUEUE_DEPENDENCY_FAILED naming its dependency (and so do its own dependents), and
one that allows it runs (RQ alone would leave both deferred for ever)."""

from __future__ import annotations

from pathlib import Path

from cluster_env import RedisServer, log_lines, run_workers
from helpers.cli import ok, qtqueue_command

from qtqueue.cluster.jobs import enqueue
from qtqueue.cluster.reads import ClusterReader
from qtqueue.core.task import Task, TaskStatus
from qtqueue.executors import default_registry

REGISTRY = default_registry(entry_points=False)


def shell(line: str, **fields: object) -> Task:
    """A custom_command task running `line` through /bin/sh."""
    return Task("custom_command", {"command": line, "shell": True}, **fields)  # type: ignore[arg-type]


def add(redis: RedisServer, task: Task) -> Task:
    enqueue(redis.client, task, REGISTRY)
    return task


def test_a_failed_tasks_dependents_fail_in_turn_and_one_that_allows_it_runs(
    redis: RedisServer, tmp_path: Path
) -> None:
    first = add(redis, shell("exit 3", name="first", max_retries=1, retry_backoff=[0]))
    second = add(redis, shell("echo second", name="second", depends_on=[first.id]))
    third = add(redis, shell("echo third", name="third", depends_on=[second.id]))
    tolerant = add(redis, shell("echo tolerant ran", depends_on=[first.id],
                                allow_dependency_failure=True))  # fmt: skip

    for done in run_workers(redis.url, tmp_path, 2):
        assert done.returncode == 0, done.stderr

    reader = ClusterReader(redis.client)
    assert reader.task(first.id).status == TaskStatus.FAILED
    assert reader.task(first.id).dead_letter  # its one retry was used up first
    failed = reader.task(second.id)
    assert (failed.status, failed.error_code) == (TaskStatus.FAILED, "QUEUE_DEPENDENCY_FAILED")
    assert failed.error == f"dependency {first.id} failed"
    assert failed.error_details["dependency_id"] == first.id
    assert not failed.dead_letter
    in_turn = reader.task(third.id)
    assert (in_turn.status, in_turn.error) == (TaskStatus.FAILED, f"dependency {second.id} failed")
    assert reader.task(tolerant.id).status == TaskStatus.COMPLETED
    assert "tolerant ran" in log_lines(redis.client, tolerant.id)
    assert reader.tasks([TaskStatus.PENDING]) == []  # nothing left deferred


def test_cancelling_a_waiting_task_fails_its_dependents_and_runs_the_tolerant_ones(
    redis: RedisServer, tmp_path: Path
) -> None:
    run = qtqueue_command(tmp_path)
    first = add(redis, shell("echo first", name="first"))
    second = add(redis, shell("echo second", depends_on=[first.id]))
    tolerant = add(redis, shell("echo tolerant ran", depends_on=[first.id],
                                allow_dependency_failure=True))  # fmt: skip

    ok(run("--redis", redis.url, "cancel", first.id))

    reader = ClusterReader(redis.client)
    failed = reader.task(second.id)
    assert (failed.status, failed.error_code) == (TaskStatus.FAILED, "QUEUE_DEPENDENCY_FAILED")
    assert failed.error == f"dependency {first.id} was cancelled"
    assert reader.task(tolerant.id).status == TaskStatus.PENDING
    assert reader.task(tolerant.id).wait_reason == ""  # queued now, not deferred
    for done in run_workers(redis.url, tmp_path, 1):
        assert done.returncode == 0, done.stderr
    assert reader.task(tolerant.id).status == TaskStatus.COMPLETED
    assert reader.task(first.id).status == TaskStatus.CANCELLED


def test_retrying_the_failed_dependency_makes_its_failed_dependents_wait_for_it_again(
    redis: RedisServer, tmp_path: Path
) -> None:
    run = qtqueue_command(tmp_path)
    flag = tmp_path / "ready"
    first = add(redis, shell(f"test -e {flag}", name="first", max_retries=0))
    second = add(redis, shell("echo second", depends_on=[first.id]))
    third = add(redis, shell("echo third", depends_on=[second.id]))
    for done in run_workers(redis.url, tmp_path, 1):
        assert done.returncode == 0, done.stderr
    reader = ClusterReader(redis.client)
    assert reader.task(third.id).error == f"dependency {second.id} failed"
    flag.touch()

    ok(run("--redis", redis.url, "retry", first.id))

    for dependent in (second, third):
        waiting = reader.task(dependent.id)
        assert (waiting.status, waiting.error_code) == (TaskStatus.PENDING, None)
        assert waiting.wait_reason.startswith("waits for ")
    for done in run_workers(redis.url, tmp_path, 1):
        assert done.returncode == 0, done.stderr
    assert [reader.task(t.id).status for t in (first, second, third)] == [TaskStatus.COMPLETED] * 3
    assert "third" in log_lines(redis.client, third.id)
