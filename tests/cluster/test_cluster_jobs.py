"""What RQ is given for a qtqueue task: its queue, timeout, retries, TTLs and dependencies, as
the RQ-style design document's queues define them (what rq-dashboard and `rq info` show)."""

from __future__ import annotations

from pathlib import Path

import pytest
from cluster_env import RedisServer, run_workers
from rq.job import Job, JobStatus

from qtqueue.cluster.jobs import SERIALIZER, TIMEOUT_MARGIN_S, enqueue
from qtqueue.core.errors import QueueError
from qtqueue.core.task import Priority, Task
from qtqueue.executors import default_registry

REGISTRY = default_registry(entry_points=False)
HOUR = 3600


def command(line: str, **fields: object) -> Task:
    return Task("custom_command", {"command": line, "shell": True}, **fields)  # type: ignore[arg-type]


def fetch(redis: RedisServer, job_id: str) -> Job:
    return Job.fetch(job_id, connection=redis.client, serializer=SERIALIZER)


@pytest.mark.parametrize(
    ("priority", "queue", "timeout", "retries", "result_ttl"),
    [
        (Priority.URGENT, "high_priority", 1 * HOUR, 3, 24 * HOUR),
        (Priority.HIGH, "high_priority", 1 * HOUR, 3, 24 * HOUR),
        (Priority.NORMAL, "default", 2 * HOUR, 3, 24 * HOUR),
        (Priority.LOW, "low_priority", 4 * HOUR, 2, 12 * HOUR),
    ],
)
def test_a_task_gets_the_queue_its_priority_names_with_the_documents_defaults(
    redis: RedisServer, priority: Priority, queue: str, timeout: int, retries: int,
    result_ttl: int,
) -> None:  # fmt: skip
    task = command("true", priority=priority)

    enqueue(redis.client, task, REGISTRY)

    job = fetch(redis, task.id)
    assert job.origin == queue
    assert job.timeout == timeout + TIMEOUT_MARGIN_S
    assert job.retries_left == retries
    assert job.result_ttl == result_ttl
    assert job.failure_ttl == 7 * 24 * HOUR
    assert job.description == "true"


def test_a_tasks_own_retries_backoff_and_timeout_win_over_its_queues(
    redis: RedisServer,
) -> None:
    backoff = command("true", max_retries=4, retry_backoff=2.0, timeout_s=90, priority=Priority.LOW)
    listed = command("true", max_retries=2, retry_backoff=[5, 30])
    once = command("true", max_retries=0, timeout_s=0)

    for task in (backoff, listed, once):
        enqueue(redis.client, task, REGISTRY)

    assert fetch(redis, backoff.id).retry_intervals == [2, 4, 8, 16]
    assert fetch(redis, backoff.id).timeout == 90 + TIMEOUT_MARGIN_S
    assert fetch(redis, listed.id).retry_intervals == [5, 30]
    assert fetch(redis, once.id).retries_left is None
    assert fetch(redis, once.id).timeout == -1  # none


def test_a_dependent_task_runs_after_its_dependency_and_an_unknown_one_is_refused(
    redis: RedisServer, tmp_path: Path
) -> None:
    out = tmp_path / "order.txt"
    first = command(f"echo first >> {out}", priority=Priority.LOW)
    then = command(f"echo then >> {out}", priority=Priority.HIGH, depends_on=[first.id])
    enqueue(redis.client, first, REGISTRY)
    enqueue(redis.client, then, REGISTRY)

    with pytest.raises(QueueError) as refused:
        enqueue(redis.client, command("true", depends_on=["no-such-task"]), REGISTRY)
    assert fetch(redis, then.id).get_status() == JobStatus.DEFERRED
    run_workers(redis.url, tmp_path)

    assert refused.value.code == "QUEUE_TASK_NOT_FOUND"
    assert out.read_text().split() == ["first", "then"]
