"""The command line on a cluster (`qtqueue --redis URL ls|show|log|queue|workers|cancel|retry|
remove`): real `qtqueue` commands against a real redis-server and real `qtqueue worker`
processes, printing what they print locally, in the same --json shapes."""

from __future__ import annotations

import datetime
import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from cluster_env import (
    RedisServer,
    burst_worker_with_a_sleeping_task,
    commands_at_once,
    log_lines,
    run_workers,
)
from helpers.cli import ok, qtqueue_env, refused
from helpers.waiting import wait_until
from rq import Queue
from rq.job import Job, JobStatus

from qtqueue.cluster.jobs import enqueue
from qtqueue.core.task import Priority, Task
from qtqueue.executors import default_registry

REGISTRY = default_registry(entry_points=False)


def shell(line: str, name: str, **fields: object) -> Task:
    """A custom_command task named `name` running `line` through /bin/sh."""
    return Task("custom_command", {"command": line, "shell": True}, name=name, **fields)  # type: ignore[arg-type]


def cli(url: str, *args: str) -> list[str]:
    return ["--redis", url, *args]


def by_id(listing: str) -> dict[str, dict[str, object]]:
    return {t["id"]: t for t in json.loads(listing)}


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_ls_show_log_and_queue_read_the_cluster_as_locally_beside_another_tools_jobs(
    redis: RedisServer, tmp_path: Path
) -> None:
    done = shell("echo hello; echo 40%; echo 'step: copying'; echo done", "copy", tags=["nightly"])
    broke = shell("echo 'oops' >&2; exit 3", "broke", max_retries=0)
    dead = shell("exit 4", "dead", max_retries=1, retry_backoff=[0], category="deploy")
    for task in (done, broke, dead):
        enqueue(redis.client, task, REGISTRY)
    other = Queue("default", connection=redis.client).enqueue("os.getcwd")  # another tool's
    Queue("mail", connection=redis.client).enqueue("os.getcwd")
    run_workers(redis.url, tmp_path)
    waiting = [shell("true", "later", priority=Priority.LOW), shell("true", "soon")]
    waiting.append(shell("true", "after", depends_on=[waiting[1].id]))
    waiting.append(shell("true", "tomorrow", run_at=time.time() + 86400))
    for task in waiting:
        enqueue(redis.client, task, REGISTRY)

    (listed, table, failed, dead_letters, shown, show_text, log, queue_json, queue_text,
     tail, stats, dead_text, foreign) = commands_at_once(
        tmp_path,
        cli(redis.url, "ls", "--json"),
        cli(redis.url, "ls"),
        cli(redis.url, "ls", "--status", "failed", "--json"),
        cli(redis.url, "ls", "--dead-letter", "--category", "deploy", "--json"),
        cli(redis.url, "show", done.id[:8], "--json"),
        cli(redis.url, "show", dead.id, "--logs"),
        cli(redis.url, "log", done.id),
        cli(redis.url, "queue", "--json"),
        cli(redis.url, "queue"),
        cli(redis.url, "ls", "--tag", "nightly", "--json"),
        cli(redis.url, "stats", "--json"),
        cli(redis.url, "dead-letters"),
        cli(redis.url, "show", other.id),
    )  # fmt: skip

    tasks = by_id(ok(listed))
    assert list(tasks) == [done.id, broke.id, dead.id, *(t.id for t in waiting)]  # oldest first
    assert tasks[done.id]["status"] == "completed"
    assert tasks[done.id]["progress"] == 100.0
    assert tasks[done.id]["current_step"] == "step: copying"
    assert tasks[broke.id]["status"] == "failed"
    assert tasks[broke.id]["error_code"] == "SYSTEM_COMMAND_FAILED"
    assert tasks[broke.id]["dead_letter"] is False  # it had no retries
    assert (tasks[dead.id]["dead_letter"], tasks[dead.id]["retry_count"]) == (True, 1)
    assert tasks[waiting[0].id]["status"] == "pending"
    assert set(tasks[done.id]) == set(done.to_dict())  # the local shape, field for field
    rows = {line.split()[1]: line for line in ok(table).splitlines()[1:]}
    assert ok(table).splitlines()[0].split() == [
        "ID", "NAME", "TYPE", "STATUS", "PROGRESS", "CREATED", "DURATION", "ERROR",
    ]  # fmt: skip
    assert rows["copy"].split()[:5] == [done.id[:8], "copy", "custom_command", "completed", "100%"]
    assert rows["broke"].split()[-1] == "SYSTEM_COMMAND_FAILED"
    assert [t["id"] for t in json.loads(ok(failed))] == [broke.id, dead.id]
    assert [t["id"] for t in json.loads(ok(dead_letters))] == [dead.id]
    assert [t["id"] for t in json.loads(ok(tail))] == [done.id]

    figures = json.loads(ok(stats))
    assert figures["summary"]["total_tasks"] == 7  # another tool's jobs are not counted
    assert (figures["summary"]["queue_size"], figures["summary"]["dead_letters"]) == (4, 1)
    assert figures["status_distribution"] == {"completed": 1, "failed": 2, "pending": 4}
    assert figures["error_distribution"] == {"SYSTEM_COMMAND_FAILED": 2}

    assert "another tool's RQ job" in refused(foreign, "QUEUE_TASK_NOT_FOUND")
    dead_rows = ok(dead_text).splitlines()
    assert dead_rows[0].split() == ["ID", "NAME", "TYPE", "LAST", "ERROR", "WHEN"]
    assert [r.split()[:4] for r in dead_rows[1:]] == [
        [dead.id[:8], "dead", "custom_command", "SYSTEM_COMMAND_FAILED:"]
    ]

    info = json.loads(ok(shown))
    assert (info["id"], info["status"], info["queue"]) == (done.id, "completed", "default")
    assert info["result"] == {"exit_code": 0}
    assert info["task"]["id"] == done.id and info["timing"]["started_at"] is not None
    assert [t["to_status"] for t in info["transitions"]] == ["pending", "running", "completed"]
    text = ok(show_text)
    assert "status:   failed" in text
    assert "retries:  1 of 1  (dead letter)" in text
    assert "error:    SYSTEM_COMMAND_FAILED: sh exited with code 4" in text
    assert "hint:     Read the task's output" in text
    assert text.endswith("[qtqueue] attempt 2\n[qtqueue] failed: SYSTEM_COMMAND_FAILED: "
                         "sh exited with code 4\n")  # fmt: skip
    assert ok(log) == "hello\n40%\nstep: copying\ndone\n"

    rows_q = json.loads(ok(queue_json))
    assert [(r["id"], r["target"], r["priority"], r["held_by"]) for r in rows_q] == [
        (waiting[1].id, "default", "normal", "workers"),  # drain order: default, then low
        (waiting[0].id, "low_priority", "low", "workers"),
        (waiting[3].id, "default", "normal", "schedule"),
        (waiting[2].id, "default", "normal", "dependency"),
    ]
    when = datetime.datetime.fromtimestamp(waiting[3].run_at or 0).isoformat(timespec="seconds")
    assert rows_q[2]["last_reason"] == f"starts at {when}"
    assert rows_q[3]["last_reason"] == f"waits for {waiting[1].id}"
    assert rows_q[0]["last_reason"] == "next in default; no live worker takes from default"
    assert rows_q[0]["attempts"] == 0 and rows_q[0]["waiting_s"] >= 0
    text = ok(queue_text)
    assert "QUEUED TASKS (4 pending)" in text
    assert f"[1] Task ID: {waiting[1].id}" in text
    assert "    Queue:          low_priority" in text
    assert "    Priority:       low" in text


def test_workers_log_follow_and_cancel_of_a_running_task_its_tree_gone_then_retry(
    redis: RedisServer, tmp_path: Path
) -> None:
    pid_file = tmp_path / "sleep.pid"
    task = shell(f"echo started; sleep 60 & echo $! > {pid_file}; wait", "sleeper", max_retries=0)
    enqueue(redis.client, task, REGISTRY)
    follow_cmd = [sys.executable, "-m", "qtqueue", *cli(redis.url, "log", "-f", task.id)]
    with burst_worker_with_a_sleeping_task(redis.url, tmp_path, pid_file) as (worker, sleeper):
        follow = subprocess.Popen(
            follow_cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env=qtqueue_env(tmp_path),
        )  # fmt: skip
        workers_json, workers_text, running = commands_at_once(
            tmp_path,
            cli(redis.url, "workers", "--json"),
            cli(redis.url, "workers"),
            cli(redis.url, "ls", "--status", "running", "--json"),
        )
        cancelled = commands_at_once(tmp_path, cli(redis.url, "cancel", task.id[:8]))[0]
        followed, err = follow.communicate(timeout=60)

    stats = json.loads(ok(workers_json))
    assert (stats["total"], stats["busy"], stats["idle"], stats["suspended"]) == (1, 1, 0, 0)
    slot = stats["slots"][0]
    name = f"{socket.gethostname()}.{worker.pid}"  # a worker's default name
    assert (slot["worker"], slot["state"], slot["task_id"], slot["task_name"]) == (
        name,
        "busy",
        task.id,
        "sleeper",
    )
    assert slot["pid"] == worker.pid
    assert slot["host"] and slot["queues"] == ["high_priority", "default", "low_priority"]
    lines = ok(workers_text).splitlines()
    assert lines[0].split() == ["WORKER", "HOST", "PID", "STATE", "TASK", "NAME", "DONE",
                                "FAILED", "WORKING", "FREE", "CPU", "MEM", "DISK", "GPU",
                                "LABELS"]  # fmt: skip
    assert lines[1].split()[:6] == [name, socket.gethostname(), str(worker.pid), "busy",
                                    task.id[:8], "sleeper"]  # fmt: skip
    assert lines[-1] == "1 workers: 0 idle, 1 busy, 0 suspended"
    assert [t["status"] for t in json.loads(ok(running))] == ["running"]

    assert ok(cancelled) == f"cancelled {task.id[:8]} sleeper (now cancelled)\n"
    wait_until(lambda: not _alive(sleeper), what="the cancelled task's command to end")
    assert follow.returncode == 0, err
    assert followed == "started\n[qtqueue] cancelled: cancelled by the user\n"

    retried = commands_at_once(tmp_path, cli(redis.url, "retry", task.id))[0]
    assert ok(retried) == f"queued again {task.id[:8]} sleeper (now pending)\n"
    queue = commands_at_once(tmp_path, cli(redis.url, "queue", "--json"))[0]
    assert [(r["id"], r["attempts"]) for r in json.loads(ok(queue))] == [(task.id, 0)]
    assert Job.fetch(task.id, connection=redis.client).get_status() == JobStatus.QUEUED


def test_cancel_of_a_queued_task_retry_of_a_failed_one_remove_and_purge_of_dead_letters(
    redis: RedisServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    never = tmp_path / "never-ran"
    marker = tmp_path / "first-run"
    queued = shell(f"touch {never}", "queued")
    flaky = shell(f"[ -e {marker} ] && exit 0; touch {marker}; exit 1", "flaky", max_retries=0)
    finished = shell("echo bye", "finished")
    broke = shell("exit 3", "broke", max_retries=0)
    dead = shell("exit 4", "dead", max_retries=1, retry_backoff=[0])
    for task in (queued, flaky, finished, broke, dead):
        enqueue(redis.client, task, REGISTRY)
    cancelled, early_remove = commands_at_once(
        tmp_path, cli(redis.url, "cancel", queued.id), cli(redis.url, "remove", finished.id)
    )
    assert ok(cancelled) == f"cancelled {queued.id[:8]} queued (now cancelled)\n"
    assert "cannot remove task" in refused(early_remove, "QUEUE_INVALID_STATE")

    run_workers(redis.url, tmp_path)
    retried, removed, not_dead, purged = commands_at_once(
        tmp_path,
        cli(redis.url, "retry", flaky.id),
        cli(redis.url, "remove", finished.id),
        cli(redis.url, "dead-letters", "purge", broke.id),
        cli(redis.url, "dead-letters", "purge", "--all"),
    )
    assert ok(retried) == f"queued again {flaky.id[:8]} flaky (now pending)\n"
    assert ok(removed) == f"removed {finished.id[:8]}\n"
    assert "as a dead letter: it is failed" in refused(not_dead, "QUEUE_INVALID_STATE")
    assert ok(purged) == f"purged {dead.id[:8]}\n1 dead-lettered task(s) purged\n"
    run_workers(redis.url, tmp_path)
    monkeypatch.setenv("QTQUEUE_REDIS_URL", redis.url)  # as good as --redis URL
    listed, gone = commands_at_once(tmp_path, ["ls", "--json"], ["show", finished.id])

    tasks = by_id(ok(listed))
    assert not never.exists()  # cancelled before it started: never ran
    assert tasks[queued.id]["status"] == "cancelled"
    assert tasks[queued.id]["error"] == "cancelled by the user"
    assert (tasks[flaky.id]["status"], tasks[flaky.id]["retry_count"]) == ("completed", 1)
    assert finished.id not in tasks and dead.id not in tasks
    assert tasks[broke.id]["status"] == "failed"  # not a dead letter: it had no retries
    assert not Job.exists(finished.id, connection=redis.client)
    assert log_lines(redis.client, finished.id) == []
    assert f"no task with id {finished.id}" in refused(gone, "QUEUE_TASK_NOT_FOUND")
