"""The whole cluster paused and resumed, for real: `qtqueue --redis URL pause|resume --queue`
and the window's Pause queue on real `qtqueue worker` processes over a real redis-server. No
worker starts a new task while it holds (not even the idle one blocked on its queues, RQ
issue #1442), a running task finishes, a worker started meanwhile takes nothing, and resume
lets them all run."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Callable
from pathlib import Path

import cluster_window_env
from cluster_control_env import BackgroundWorker, background_worker, worker_state
from cluster_env import RedisServer, worker_command
from cluster_window_env import Run
from helpers.cli import qtqueue_command, qtqueue_env
from helpers.waiting import eventually, wait_until
from PySide6.QtGui import QAction
from rq.job import Job, JobStatus

from qtqueue.cluster.backend import ClusterBackend
from qtqueue.cluster.cluster_pause import pause_cluster, resume_cluster
from qtqueue.cluster.jobs import SERIALIZER, enqueue, rq_queue
from qtqueue.cluster.pause_state import CLUSTER_PAUSED_KEY
from qtqueue.cluster.workers_source import ClusterWorkersSource
from qtqueue.core.task import Task
from qtqueue.executors import default_registry
from qtqueue.ui.main_window import MainWindow

REGISTRY = default_registry(entry_points=False)
#: What a worker logs once it waits, paused, taking nothing (`WorkerControl`).
HOLDING = "paused with the cluster until the cluster is resumed, taking nothing"

# The window's fixtures (a conftest cannot be imported): found by pytest under these names.
window_settings = cluster_window_env.window_settings
loop = cluster_window_env.loop
run = cluster_window_env.run
cluster_window = cluster_window_env.cluster_window


def touching(path: Path) -> Task:
    """A task that appends a line to `path`."""
    return Task("custom_command", {"command": f"echo ran >> {path}", "shell": True})


def status(redis: RedisServer, job_id: str) -> JobStatus | None:
    return Job.fetch(job_id, connection=redis.client, serializer=SERIALIZER).get_status()


def holding(*workers: BackgroundWorker) -> bool:
    return all(HOLDING in w.text() for w in workers)


def test_a_paused_cluster_starts_nothing_not_even_on_a_new_worker_and_resume_runs_it_all(
    redis: RedisServer, tmp_path: Path
) -> None:
    run = qtqueue_command(tmp_path)
    outs = [tmp_path / "a.txt", tmp_path / "b.txt"]
    with (
        background_worker(redis.url, tmp_path, "w0", client=redis.client) as w0,
        background_worker(redis.url, tmp_path, "w1", client=redis.client) as w1,
    ):
        paused = run("--redis", redis.url, "pause", "--queue")
        assert paused.returncode == 0, paused.stderr
        assert paused.stdout.strip() == "queue paused"
        assert redis.client.exists(CLUSTER_PAUSED_KEY)
        shown = run("--redis", redis.url, "status")
        assert shown.returncode == 0, shown.stderr
        assert f"paused (cluster at 127.0.0.1:{redis.port})" in shown.stdout.splitlines()[0]
        assert worker_state(redis.client, "w0") == worker_state(redis.client, "w1") == "suspended"

        tasks = [touching(out) for out in outs]
        for task in tasks:
            enqueue(redis.client, task, REGISTRY)
        # Each idle worker was blocked on its queues: it pops a task, puts it back untouched
        # and then waits, taking nothing, until resumed (the line it logs says so).
        wait_until(lambda: holding(w0, w1), what="both workers holding", timeout_s=20)
        assert [status(redis, t.id) for t in tasks] == [JobStatus.QUEUED] * 2
        assert sorted(rq_queue(redis.client, "default").job_ids) == sorted(t.id for t in tasks)
        backend = ClusterBackend(redis.url)
        engine = asyncio.run(backend.call("engine_status"))["engine"]
        assert (engine["paused"], engine["state"]) == (True, "paused")
        assert asyncio.run(backend.call("stats"))["summary"]["queue_paused"] is True
        rows = asyncio.run(ClusterWorkersSource(redis.url).workers())
        assert {(r["worker"], r["suspend_requested"], r["state"]) for r in rows} == {
            ("w0", True, "suspended"),
            ("w1", True, "suspended"),
        }

        # A worker started while the cluster is paused takes nothing either.
        late = subprocess.run(
            worker_command(redis.url, tmp_path / "q", "--name", "w2", "-v"),
            capture_output=True, text=True, env=qtqueue_env(tmp_path), timeout=60, check=False,
        )  # fmt: skip
        assert late.returncode == 0, late.stderr
        assert "paused with the cluster in burst mode, stopping" in late.stderr
        assert [status(redis, t.id) for t in tasks] == [JobStatus.QUEUED] * 2
        assert not any(out.exists() for out in outs)

        resumed = run("--redis", redis.url, "resume", "--queue")
        assert resumed.returncode == 0, resumed.stderr
        assert resumed.stdout.strip() == "queue resumed"
        for task in tasks:
            wait_until(lambda t=task: status(redis, t.id) == JobStatus.FINISHED)
        assert not redis.client.exists(CLUSTER_PAUSED_KEY)
        assert not asyncio.run(backend.call("engine_status"))["engine"]["paused"]
    assert [out.read_text() for out in outs] == ["ran\n", "ran\n"]


def test_a_running_task_finishes_while_paused_and_a_worker_resumed_alone_still_holds(
    redis: RedisServer, tmp_path: Path
) -> None:
    run = qtqueue_command(tmp_path)
    go, started = tmp_path / "go", tmp_path / "started"
    first = Task("custom_command", {"shell": True, "command":
                 f"touch {started}; until [ -e {go} ]; do sleep 0.05; done"})  # fmt: skip
    second = touching(tmp_path / "second.txt")
    enqueue(redis.client, first, REGISTRY)
    with background_worker(redis.url, tmp_path, "w0", client=redis.client) as w0:
        wait_until(started.exists, what="the first task running")

        said = pause_cluster(redis.client)

        assert said == {"queue_paused": True, "workers": [{"worker": "w0", "state": "suspending"}]}
        enqueue(redis.client, second, REGISTRY)
        go.touch()
        wait_until(lambda: status(redis, first.id) == JobStatus.FINISHED)
        wait_until(lambda: holding(w0), what="w0 holding")
        assert status(redis, second.id) == JobStatus.QUEUED

        alone = run("--redis", redis.url, "workers", "resume", "w0")
        assert alone.returncode == 0, alone.stderr
        assert alone.stdout.startswith("resumed w0 (now suspended)\n")
        assert "the whole cluster is paused" in alone.stdout
        assert status(redis, second.id) == JobStatus.QUEUED

        assert resume_cluster(redis.client)["queue_paused"] is False
        wait_until(lambda: status(redis, second.id) == JobStatus.FINISHED)
    assert (tmp_path / "second.txt").read_text() == "ran\n"


def test_the_windows_pause_queue_pauses_the_cluster_and_follows_the_command_line(
    redis: RedisServer, cluster_window: Callable[[str], MainWindow], run: Run, tmp_path: Path
) -> None:
    cli = qtqueue_command(tmp_path)
    assert cli("--redis", redis.url, "pause", "--queue").returncode == 0
    w = cluster_window(redis.url)  # opened while paused: it says so
    action = w.findChild(QAction, "actionPauseQueue")
    assert action is not None and action.isEnabled()
    assert action.isChecked()
    assert w.queue_state_label.text() == "Cluster paused"

    action.trigger()  # Resume queue

    run(eventually(lambda: not redis.client.exists(CLUSTER_PAUSED_KEY), what="resumed"))
    run(eventually(lambda: w.queue_state_label.text() == "Cluster running", what="said"))
    assert not action.isChecked()

    assert cli("--redis", redis.url, "pause", "--queue").returncode == 0  # from elsewhere
    run(eventually(lambda: w.queue_state_label.text() == "Cluster paused", what="followed"))
    assert action.isChecked()

    action.trigger()
    run(eventually(lambda: not redis.client.exists(CLUSTER_PAUSED_KEY), what="resumed"))
