"""The cluster's control channel, for real: pause and resume of a running task and per-worker
suspend, through `qtqueue --redis URL pause|resume ID` and `workers suspend|resume NAME`, on
real `qtqueue worker` processes over a real redis-server."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

import psutil
from cluster_control_env import background_worker, process_state, worker_state
from cluster_env import RedisServer, log_lines
from helpers.cli import qtqueue_command
from helpers.waiting import wait_until
from rq.command import send_stop_job_command
from rq.job import Job, JobStatus

from qtqueue.cluster.control import job_key, pause_task, resume_task, suspended_key
from qtqueue.cluster.jobs import SERIALIZER, enqueue, rq_queue
from qtqueue.core.task import Task
from qtqueue.executors import default_registry

REGISTRY = default_registry(entry_points=False)


def shell(line: str, **fields: object) -> Task:
    """A custom_command task running `line` through /bin/sh."""
    return Task("custom_command", {"command": line, "shell": True}, **fields)  # type: ignore[arg-type]


def fetch(redis: RedisServer, job_id: str) -> Job:
    return Job.fetch(job_id, connection=redis.client, serializer=SERIALIZER)


def waiting_task(tmp_path: Path, name: str, **fields: object) -> tuple[Task, Path, Path]:
    """A task that writes its shell's pid, then counts until the file `go` exists: (the
    task, its pid file, its go file)."""
    pid, go = tmp_path / f"{name}.pid", tmp_path / f"{name}.go"
    line = f"echo $$ > {pid}.tmp; mv {pid}.tmp {pid}; until [ -e {go} ]; do sleep 0.05; done"
    return shell(line, name=name, **fields), pid, go


def test_pause_stops_a_running_tasks_process_tree_where_it_runs_and_resume_continues_it(
    redis: RedisServer, tmp_path: Path
) -> None:
    run = qtqueue_command(tmp_path)
    task, pid_file, go = waiting_task(tmp_path, "t", max_retries=0)
    enqueue(redis.client, task, REGISTRY)
    with background_worker(redis.url, tmp_path, "w0", client=redis.client):
        wait_until(pid_file.exists, what="the task's command")
        sh = int(pid_file.read_text())
        tree = [sh, *(c.pid for c in psutil.Process(sh).children(recursive=True))]

        paused = run("--redis", redis.url, "pause", task.id)

        assert paused.returncode == 0, paused.stderr
        assert paused.stdout.startswith("paused ")
        # SIGSTOP takes hold when the kernel next schedules the process: soon, not at once
        wait_until(lambda: all(process_state(p) in ("stopped", "gone") for p in tree))
        assert process_state(sh) == "stopped"
        meta = fetch(redis, task.id).meta
        assert (meta["paused"], meta["status"], meta["phase"]) == (True, "paused", "paused")

        resumed = run("--redis", redis.url, "resume", task.id)

        assert resumed.returncode == 0, resumed.stderr
        assert process_state(sh) != "stopped"
        meta = fetch(redis, task.id).meta
        assert (meta["paused"], meta["status"]) == (False, "running")
        go.touch()
        wait_until(lambda: fetch(redis, task.id).get_status() == JobStatus.FINISHED)
    assert log_lines(redis.client, task.id) == ["[qtqueue] paused", "[qtqueue] resumed"]


def test_a_paused_task_does_not_time_out_its_clock_stops(
    redis: RedisServer, tmp_path: Path
) -> None:
    task, pid_file, go = waiting_task(tmp_path, "t", timeout_s=2.0, max_retries=0)
    enqueue(redis.client, task, REGISTRY)
    with background_worker(redis.url, tmp_path, "w0", client=redis.client):
        wait_until(pid_file.exists, what="the task's command")
        assert pause_task(redis.client, task.id)["status"] == "paused"
        time.sleep(2.5)  # allowed: paused past its 2 s limit; the time passing is what is tested
        assert fetch(redis, task.id).get_status() == JobStatus.STARTED
        assert resume_task(redis.client, task.id)["status"] == "running"
        go.touch()
        wait_until(lambda: fetch(redis, task.id).get_status() == JobStatus.FINISHED)
    assert fetch(redis, task.id).meta["status"] == "completed"


def test_pausing_a_task_that_is_not_running_is_a_coded_error(
    redis: RedisServer, tmp_path: Path
) -> None:
    run = qtqueue_command(tmp_path)
    task = shell("true")
    enqueue(redis.client, task, REGISTRY).cancel()  # neither waiting nor running

    queued = run("--redis", redis.url, "pause", task.id)
    missing = run("--redis", redis.url, "resume", "no-such-task")

    assert queued.returncode == 1
    assert "QUEUE_INVALID_STATE" in queued.stderr
    assert "only a waiting or running task is paused" in queued.stderr
    assert missing.returncode == 1
    assert "QUEUE_TASK_NOT_FOUND" in missing.stderr


def test_an_idle_suspended_worker_takes_no_job_not_even_one_more(
    redis: RedisServer, tmp_path: Path
) -> None:
    """RQ issue #1442: a worker idle in BLPOP when `rq suspend` came still took the next job."""
    run = qtqueue_command(tmp_path)
    out = tmp_path / "ran.txt"
    with background_worker(redis.url, tmp_path, "w0", client=redis.client) as worker:
        redis.client.publish("rq:pubsub:w0", "not a command")  # ignored: the channel goes on
        said = run("--redis", redis.url, "workers", "suspend", "w0")
        assert said.returncode == 0, said.stderr
        assert said.stdout.strip() == "suspended w0 (now suspended)"
        assert worker_state(redis.client, "w0") == "suspended"
        task = shell(f"echo ran >> {out}")
        enqueue(redis.client, task, REGISTRY)

        wait_until(lambda: f"put job {task.id} back" in worker.text(), what="the put-back")
        assert not out.exists()
        assert fetch(redis, task.id).get_status() == JobStatus.QUEUED
        assert rq_queue(redis.client, "default").job_ids == [task.id]

        said = run("--redis", redis.url, "workers", "resume", "w0")
        assert said.returncode == 0, said.stderr
        # the state read right after: the worker may already have taken the waiting job
        assert said.stdout.strip() in ("resumed w0 (now idle)", "resumed w0 (now busy)")
        wait_until(lambda: fetch(redis, task.id).get_status() == JobStatus.FINISHED)
    assert out.read_text() == "ran\n"


def test_a_busy_worker_suspended_finishes_its_task_takes_no_next_and_stays_suspended_restarted(
    redis: RedisServer, tmp_path: Path
) -> None:
    run = qtqueue_command(tmp_path)
    first, _, go = waiting_task(tmp_path, "first")
    second = shell(f"touch {tmp_path / 'second-ran'}")
    enqueue(redis.client, first, REGISTRY)
    enqueue(redis.client, second, REGISTRY)
    with background_worker(redis.url, tmp_path, "w0", client=redis.client):
        wait_until(lambda: fetch(redis, first.id).get_status() == JobStatus.STARTED)
        said = run("--redis", redis.url, "workers", "suspend", "--all")
        assert said.stdout.strip() == "suspended w0 (now suspending)"
        go.touch()
        wait_until(lambda: fetch(redis, first.id).get_status() == JobStatus.FINISHED)
        wait_until(lambda: worker_state(redis.client, "w0") == "suspended")
        assert fetch(redis, second.id).get_status() == JobStatus.QUEUED
    assert redis.client.exists(suspended_key("w0"))
    with background_worker(redis.url, tmp_path, "w0", client=redis.client):
        wait_until(lambda: worker_state(redis.client, "w0") == "suspended")
        assert fetch(redis, second.id).get_status() == JobStatus.QUEUED
        said = run("--redis", redis.url, "workers", "resume", "w0")
        assert said.returncode == 0, said.stderr
        wait_until(lambda: fetch(redis, second.id).get_status() == JobStatus.FINISHED)
    assert (tmp_path / "second-ran").exists()


def test_suspending_a_worker_nobody_runs_or_without_a_cluster_is_a_coded_error(
    redis: RedisServer, tmp_path: Path
) -> None:
    run = qtqueue_command(tmp_path)

    unknown = run("--redis", redis.url, "workers", "suspend", "nobody")
    local = run("workers", "suspend", "w0")

    assert unknown.returncode == 1
    assert "CLUSTER_WORKER_NOT_FOUND" in unknown.stderr
    assert "no live worker is named 'nobody'" in unknown.stderr
    assert local.returncode == 1
    assert "give --redis URL" in local.stderr


def test_a_killed_workers_task_dies_with_it_instead_of_running_on_unwatched(
    redis: RedisServer, tmp_path: Path
) -> None:
    """Else the cluster, seeing the worker's heartbeat stop, would give the job to another
    worker as abandoned while the first run goes on: the task would run twice at once."""
    task, pid_file, go = waiting_task(tmp_path, "t", max_retries=1)
    enqueue(redis.client, task, REGISTRY)
    with background_worker(redis.url, tmp_path, "w0", client=redis.client) as worker:
        wait_until(pid_file.exists, what="the task's command")
        sh = psutil.Process(int(pid_file.read_text()))
        horse = sh.parent()
        assert horse is not None and horse.ppid() == worker.proc.pid

        family = psutil.Process(worker.proc.pid).children(recursive=True)  # + RQ's scheduler
        assert len(family) >= 3

        worker.proc.kill()
        worker.proc.wait()

        try:
            wait_until(lambda: process_state(sh.pid) == "gone", what="the task's command ended")
            wait_until(lambda: process_state(horse.pid) == "gone", what="the work horse ended")
            wait_until(lambda: all(process_state(p.pid) == "gone" for p in family),
                       what="nothing of the worker left (its scheduler neither)")  # fmt: skip
        finally:
            go.touch()  # whatever is left ends now
            for p in family:
                with contextlib.suppress(psutil.Error):
                    p.kill()
    assert fetch(redis, task.id).meta["status"] == "running"  # nothing recorded: abandoned


def test_a_paused_task_stopped_with_rqs_stop_job_takes_its_stopped_tree_with_it(
    redis: RedisServer, tmp_path: Path
) -> None:
    task, pid_file, _ = waiting_task(tmp_path, "t", max_retries=0)
    enqueue(redis.client, task, REGISTRY)
    with background_worker(redis.url, tmp_path, "w0", client=redis.client):
        wait_until(pid_file.exists, what="the task's command")
        sh = int(pid_file.read_text())
        pause_task(redis.client, task.id)
        wait_until(lambda: process_state(sh) == "stopped", what="the command stopped")

        send_stop_job_command(redis.client, task.id, serializer=SERIALIZER)

        wait_until(lambda: process_state(sh) == "gone", what="the stopped command ended")
        wait_until(lambda: fetch(redis, task.id).get_status() == JobStatus.STOPPED)
    assert not redis.client.exists(job_key(task.id))  # its wanted state went with it
