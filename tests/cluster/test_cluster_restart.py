"""Redis restarted mid-run, for real: redis-server with `--appendonly yes` killed by its pid
while workers run tasks, started again on the same port and directory; every task runs
exactly once and the workers say they reconnected."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

from cluster_control_env import background_worker
from cluster_env import WORKER_TIMEOUT_S, free_port, worker_command
from helpers.cli import qtqueue_env
from helpers.waiting import wait_until
from redis import Redis
from redis_restart_env import persistent_redis
from rq.job import Job, JobStatus

from qtqueue.cluster.control import suspend_worker, suspended_key
from qtqueue.cluster.jobs import SERIALIZER, enqueue
from qtqueue.core.task import Task
from qtqueue.executors import default_registry

REGISTRY = default_registry(entry_points=False)
TASKS = 30


def test_workers_reconnect_after_redis_is_killed_and_every_task_runs_exactly_once(
    tmp_path: Path,
) -> None:
    where = tmp_path / "redis"
    where.mkdir()
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"
    ran = tmp_path / "ran.txt"
    ids = []
    workers: list[subprocess.Popen[bytes]] = []
    try:
        with persistent_redis(where, port):
            client = Redis(host="127.0.0.1", port=port)
            for _ in range(TASKS):
                task = Task("custom_command", {"command": f'echo "$QTQUEUE_TASK_ID" >> {ran}; '
                            "sleep 0.1", "shell": True})  # fmt: skip
                enqueue(client, task, REGISTRY)
                ids.append(task.id)
            logs = [tmp_path / f"w{i}.log" for i in range(2)]
            for i, log in enumerate(logs):
                with log.open("wb") as sink:
                    workers.append(subprocess.Popen(
                        worker_command(url, tmp_path / "q", "--name", f"w{i}"),
                        stdout=sink, stderr=subprocess.STDOUT, env=qtqueue_env(tmp_path),
                    ))  # fmt: skip
            wait_until(lambda: ran.exists() and len(ran.read_text().split()) >= 5,
                       timeout_s=30, what="five tasks run")  # fmt: skip
            redis_pid = int(client.info("server")["process_id"])
            client.close()
            os.kill(redis_pid, signal.SIGKILL)
            wait_until(lambda: all("reconnecting" in log.read_text() for log in logs),
                       what="both workers noticing")  # fmt: skip
        with persistent_redis(where, port):
            for worker in workers:
                assert worker.wait(timeout=WORKER_TIMEOUT_S) == 0
            client = Redis(host="127.0.0.1", port=port)
            statuses = {Job.fetch(i, connection=client, serializer=SERIALIZER).get_status()
                        for i in ids}  # fmt: skip
            client.close()
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
    assert sorted(ran.read_text().split()) == sorted(ids)  # every one, none twice
    assert statuses == {JobStatus.FINISHED}
    for log in logs:
        text = log.read_text()
        assert f"Redis at 127.0.0.1:{port} went away" in text
        assert f"Redis at 127.0.0.1:{port} answers again: reconnected" in text


def test_a_suspended_worker_rereads_its_key_once_redis_is_back(tmp_path: Path) -> None:
    """A resume it could not hear (Redis was away) still reaches it: the key is the truth."""
    where = tmp_path / "redis"
    where.mkdir()
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"
    client = Redis(host="127.0.0.1", port=port)
    with (
        persistent_redis(where, port) as first,
        background_worker(url, tmp_path, "w0", client=client) as worker,
    ):
        assert suspend_worker(client, "w0")["state"] == "suspended"
        task = Task("custom_command", {"command": "true", "shell": True})
        enqueue(client, task, REGISTRY)
        client.delete(suspended_key("w0"))  # resumed, with no message it could hear
        os.kill(first.pid, signal.SIGKILL)
        first.wait()
        wait_until(lambda: "reconnecting" in worker.text(), what="the worker noticing")
        with persistent_redis(where, port):
            wait_until(lambda: "reconnected" in worker.text(), what="the worker back")
            wait_until(
                lambda: Job.fetch(task.id, connection=client, serializer=SERIALIZER)
                .get_status() == JobStatus.FINISHED,
                timeout_s=20, what="the task run once the worker read its key",
            )  # fmt: skip
            worker.proc.terminate()  # while Redis is there to say goodbye to
            assert worker.proc.wait(timeout=30) == 0
    client.close()
