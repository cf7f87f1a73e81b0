"""Issue 17, "Tested for real": 1,000 tasks over 4 `qtqueue worker` processes, each worker in a
network namespace of its own (a machine of its own, reaching Redis over a veth pair), and one
of them SIGKILLed mid-task with its work horse and command, as when its machine dies."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from pathlib import Path

from cluster_env import WORKER_TIMEOUT_S, RedisServer, log_lines
from cluster_scale_env import kill_machine, machines, namespaces_possible, start_worker
from helpers.waiting import wait_until
from rq.job import Job, JobStatus
from rq.registry import FailedJobRegistry, StartedJobRegistry

from qtqueue.cluster.jobs import SERIALIZER, enqueue, rq_queue
from qtqueue.cluster.queues import DRAIN_ORDER
from qtqueue.core.task import Priority, Task
from qtqueue.executors import default_registry

REGISTRY = default_registry(entry_points=False)
TASKS = 1000
WORKERS = 4
#: Past every heartbeat a dead worker's job can still have (RQ: the job monitoring interval,
#: 30 s, plus 60 s): RQ's maintenance finds the job abandoned after that.
HEARTBEAT_PAST_S = 120


def appending(task_id: str, out: Path, **fields: object) -> Task:
    """A task that appends its own id to `out` (one line: the count of its runs)."""
    line = f"echo {task_id} >> {out}"
    return Task("custom_command", {"command": line, "shell": True}, id=task_id, **fields)  # type: ignore[arg-type]


def test_a_thousand_tasks_over_four_workers_one_killed_mid_task_each_run_once(
    redis: RedisServer, tmp_path: Path
) -> None:
    out, mark = tmp_path / "ran.txt", tmp_path / "long.pid"
    long_id = str(uuid.uuid4())
    # The first task a worker takes (high priority) waits once, so that its worker is killed
    # while it runs; its retry finds the mark and appends its id like the others.
    long_line = (
        f"if [ -e {mark} ]; then echo {long_id} >> {out}; "
        f"else echo $$ > {mark}.tmp && mv {mark}.tmp {mark} && sleep 60; fi"
    )
    long_task = Task(
        "custom_command",
        {"command": long_line, "shell": True},  # type: ignore[arg-type]
        id=long_id,
        priority=Priority.HIGH,
        max_retries=1,
        retry_backoff=[0],
    )
    enqueue(redis.client, long_task, REGISTRY)
    ids = [str(uuid.uuid4()) for _ in range(TASKS - 1)]
    for task_id in ids:
        enqueue(redis.client, appending(task_id, out, max_retries=1), REGISTRY)

    with machines(redis.client, redis.port, WORKERS + 1) as places:
        assert bool(places.namespaces) == namespaces_possible()
        workers = [
            start_worker(
                places.prefix[i], places.urls[i], tmp_path, f"w{i}", tmp_path / f"w{i}.log"
            )
            for i in range(WORKERS)
        ]
        try:
            wait_until(lambda: mark.exists(), timeout_s=30, what="the long task to start")
            killed = kill_machine(int(mark.read_text()))
            for i, worker in enumerate(workers):
                code = worker.wait(timeout=WORKER_TIMEOUT_S)
                log = (tmp_path / f"w{i}.log").read_text()
                assert code == (-9 if f"w{i}" == killed else 0), log
        finally:
            for worker in workers:
                if worker.poll() is None:
                    worker.kill()
                    worker.wait()
        started = StartedJobRegistry(queue=rq_queue(redis.client, "high_priority"))

        # Not lost: the killed worker's task is still "started", in its queue's registry.
        assert started.get_job_ids() == [long_id]
        # RQ's maintenance (each live worker runs it every 10 minutes) with the clock past the
        # dead worker's last heartbeat: the job is abandoned, and retried (it has one retry).
        started.cleanup(timestamp=time.time() + HEARTBEAT_PAST_S)
        last = start_worker(places.prefix[WORKERS], places.urls[WORKERS], tmp_path, "w-last",
                            tmp_path / "w-last.log")  # fmt: skip
        assert last.wait(timeout=WORKER_TIMEOUT_S) == 0, (tmp_path / "w-last.log").read_text()

    runs = Counter(out.read_text().split())
    assert set(runs) == {long_id, *ids}  # every task ran
    assert max(runs.values()) == 1  # and none twice
    for name in DRAIN_ORDER:
        assert FailedJobRegistry(queue=rq_queue(redis.client, name)).count == 0
    jobs = Job.fetch_many([long_id, *ids], connection=redis.client, serializer=SERIALIZER)
    assert all(j is not None and j.get_status() == JobStatus.FINISHED for j in jobs)
    # The second run of the killed task says why it ran again: not a silent second run.
    long_job = jobs[0]
    assert long_job is not None
    assert long_job.meta["attempt"] == 2
    lines = log_lines(redis.client, long_id)
    interrupted = [n for n, line in enumerate(lines) if "QUEUE_TASK_INTERRUPTED" in line]
    assert interrupted, lines
    assert lines[interrupted[0]].startswith(
        f"[qtqueue] retrying: QUEUE_TASK_INTERRUPTED: the worker running it ({killed})"
    )
    assert "[qtqueue] attempt 2" in lines[interrupted[0] :]
