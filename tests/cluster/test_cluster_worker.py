"""qtqueue tasks run by real `qtqueue worker --burst` processes over a real redis-server."""

from __future__ import annotations

from pathlib import Path

import psutil
from cluster_env import RedisServer, burst_worker_with_a_sleeping_task, log_lines, run_workers
from helpers.cli import ok, qtqueue_command
from helpers.waiting import wait_until
from rq.command import send_stop_job_command
from rq.job import Job, JobStatus
from rq.registry import FailedJobRegistry

from qtqueue.cluster.context import LOG_STREAM_MAXLEN
from qtqueue.cluster.jobs import SERIALIZER, enqueue
from qtqueue.core.log_streams import MARK_END_TEXT, MARK_ERR_TEXT
from qtqueue.core.task import Priority, Task
from qtqueue.engine.queue import TaskQueue
from qtqueue.executors import default_registry

REGISTRY = default_registry(entry_points=False)


def shell(line: str, **fields: object) -> Task:
    """A custom_command task running `line` through /bin/sh."""
    return Task("custom_command", {"command": line, "shell": True}, **fields)  # type: ignore[arg-type]


def fetch(redis: RedisServer, job_id: str) -> Job:
    return Job.fetch(job_id, connection=redis.client, serializer=SERIALIZER)


def test_a_task_added_with_redis_runs_on_a_worker_with_result_progress_and_log(
    redis: RedisServer, tmp_path: Path
) -> None:
    run = qtqueue_command(tmp_path)
    line = "echo hello; echo 40%; echo 'step: copying'; echo done"
    task_id = ok(run("--redis", redis.url, "add", "command", "--", "sh", "-c", line)).strip()

    workers = run_workers(redis.url, tmp_path)

    assert workers[0].returncode == 0, workers[0].stderr
    job = fetch(redis, task_id)
    assert job.get_status() == JobStatus.FINISHED
    assert job.return_value() == {"exit_code": 0}
    assert job.origin == "default"  # normal priority
    assert job.meta["progress"] == 40.0
    assert job.meta["status"] == "completed"
    assert job.meta["worker"] == "w0"
    assert log_lines(redis.client, task_id) == ["hello", "40%", "step: copying", "done"]


async def test_a_failing_command_ends_in_the_failed_registry_as_locally_after_its_retries(
    redis: RedisServer, tmp_path: Path, queue: TaskQueue
) -> None:
    line = "echo 'cp: cannot create regular file: No space left on device' >&2; exit 1"
    local_id = await queue.add_task(shell(line, max_retries=0))
    local = await queue.wait_for(local_id)
    task = shell(line, max_retries=2, retry_backoff=[0])
    enqueue(redis.client, task, REGISTRY)

    run_workers(redis.url, tmp_path)

    job = fetch(redis, task.id)
    assert task.id in FailedJobRegistry("default", connection=redis.client)
    error = job.meta["error"]
    assert local.error_code == "SYSTEM_DISK_SPACE"
    assert error["code"] == local.error_code
    assert error["message"] == local.error
    assert local.error_info is not None
    assert error["description"] == local.error_info.description
    assert error["suggestion"] == local.error_info.suggestion
    assert job.meta["attempt"] == 3  # the first run and its two retries
    lines = log_lines(redis.client, task.id)
    assert "[qtqueue] attempt 3" in lines
    # the command's stderr line is marked on its own; the engine's note after it is plain
    said = "cp: cannot create regular file: No space left on device"
    raw = [f[b"line"].decode() for _, f in redis.client.xrange(f"qtqueue:log:{task.id}")]
    assert raw.count(f"{MARK_ERR_TEXT}{said}{MARK_END_TEXT}") == 3
    assert lines[-1] == f"[qtqueue] failed: SYSTEM_DISK_SPACE: {local.error}"


def test_a_failure_its_task_never_retries_is_not_retried(
    redis: RedisServer, tmp_path: Path
) -> None:
    task = shell("exit 3", max_retries=3, retry_backoff=[0], no_retry_on=["SYSTEM_COMMAND_FAILED"])
    enqueue(redis.client, task, REGISTRY)

    run_workers(redis.url, tmp_path)

    job = fetch(redis, task.id)
    assert job.get_status() == JobStatus.FAILED
    assert job.meta["attempt"] == 1
    assert job.meta["error"]["code"] == "SYSTEM_COMMAND_FAILED"


def test_one_worker_drains_high_then_default_then_low(redis: RedisServer, tmp_path: Path) -> None:
    out = tmp_path / "order.txt"
    for name, priority in (("low", Priority.LOW), ("normal", Priority.NORMAL),
                           ("high", Priority.HIGH), ("urgent", Priority.URGENT)):  # fmt: skip
        enqueue(redis.client, shell(f"echo {name} >> {out}", priority=priority), REGISTRY)

    run_workers(redis.url, tmp_path)

    assert out.read_text().split() == ["high", "urgent", "normal", "low"]


def test_200_tasks_over_4_workers_each_run_exactly_once(redis: RedisServer, tmp_path: Path) -> None:
    out = tmp_path / "ran.txt"
    ids = []
    for _ in range(200):
        task = shell(f'echo "$QTQUEUE_TASK_ID" >> {out}')
        enqueue(redis.client, task, REGISTRY)
        ids.append(task.id)

    workers = run_workers(redis.url, tmp_path, count=4)

    assert [w.returncode for w in workers] == [0, 0, 0, 0], [w.stderr for w in workers]
    ran = out.read_text().split()
    assert sorted(ran) == sorted(ids)  # every one, none twice
    finished = {fetch(redis, i).meta["worker"] for i in ids}
    assert finished <= {"w0", "w1", "w2", "w3"}


def test_a_task_past_its_timeout_fails_as_locally_and_its_command_is_gone(
    redis: RedisServer, tmp_path: Path
) -> None:
    pid_file = tmp_path / "sleep.pid"
    task = shell(f"sleep 30 & echo $! > {pid_file}; wait", timeout_s=1.0, max_retries=0)
    enqueue(redis.client, task, REGISTRY)

    run_workers(redis.url, tmp_path)

    job = fetch(redis, task.id)
    assert job.meta["error"]["code"] == "SYSTEM_TIMEOUT"
    assert job.meta["error"]["message"] == "timed out after 1 s of running time"
    assert not _alive(int(pid_file.read_text()))


def test_a_stopped_job_takes_its_whole_process_tree_with_it(
    redis: RedisServer, tmp_path: Path
) -> None:
    pid_file = tmp_path / "sleep.pid"
    task = shell(f"sleep 60 & echo $! > {pid_file}; wait", max_retries=0)
    enqueue(redis.client, task, REGISTRY)
    with burst_worker_with_a_sleeping_task(redis.url, tmp_path, pid_file) as (_, sleeper):
        send_stop_job_command(redis.client, task.id, serializer=SERIALIZER)

    wait_until(lambda: not _alive(sleeper), what="the command's tree to end")
    job = fetch(redis, task.id)
    assert job.get_status() == JobStatus.STOPPED
    assert (job.meta["status"], job.meta["message"]) == ("cancelled", "cancelled by the user")
    assert log_lines(redis.client, task.id)[-1] == "[qtqueue] cancelled: cancelled by the user"


def test_a_killed_work_horse_is_an_interrupted_attempt_retried_and_its_command_stopped(
    redis: RedisServer, tmp_path: Path
) -> None:
    pid_file = tmp_path / "sleep.pid"
    marker = tmp_path / "second-attempt"
    line = (
        f"if [ -e {pid_file} ]; then touch {marker}; exit 0; fi; "
        f"sleep 60 & echo $! > {pid_file}; wait"
    )
    task = shell(line, max_retries=1, retry_backoff=[0])
    enqueue(redis.client, task, REGISTRY)
    with burst_worker_with_a_sleeping_task(redis.url, tmp_path, pid_file) as (worker, sleeper):
        horse = psutil.Process(fetch(redis, task.id).meta["pid"]).parent()
        assert horse is not None and horse.ppid() == worker.pid

        horse.kill()

    assert not _alive(sleeper)
    assert marker.exists()  # the retry ran
    job = fetch(redis, task.id)
    assert job.get_status() == JobStatus.FINISHED
    assert job.meta["attempt"] == 2
    lines = log_lines(redis.client, task.id)
    assert lines[0].startswith(
        "[qtqueue] retrying: QUEUE_TASK_INTERRUPTED: the worker's process running it ended "
        "unexpectedly (killed by signal 9 (SIGKILL))"
    )
    assert lines[1] == "[qtqueue] attempt 2"


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_a_chatty_tasks_log_stream_keeps_only_its_latest_lines(
    redis: RedisServer, tmp_path: Path
) -> None:
    task = shell("seq 1 30000")
    enqueue(redis.client, task, REGISTRY)

    run_workers(redis.url, tmp_path)

    key = f"qtqueue:log:{task.id}"
    assert LOG_STREAM_MAXLEN <= redis.client.xlen(key) < LOG_STREAM_MAXLEN + 1000
    assert log_lines(redis.client, task.id)[-1] == "30000"
    assert 0 < redis.client.ttl(key) <= 7 * 24 * 3600  # kept as long as the job's failure
