"""The window on a cluster (`qtqueue --redis URL gui`), for real: a real redis-server, real
`qtqueue worker` processes and the real main window offscreen. It shows a task the command
line adds, its live progress and log; pause, resume and cancel in the window act on its
worker; Redis restarted is said ("reconnecting") and followed; a task whose worker died is
not shown running forever; what a cluster cannot do is off or refused with a code and a
fix."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import cluster_window_env
import psutil
import pytest
from cluster_control_env import background_worker
from cluster_env import RedisServer, free_port
from cluster_scale_env import kill_machine
from cluster_window_env import Run, acli, cli, until_row
from helpers.cli import qtqueue_env
from helpers.waiting import wait_until
from PySide6.QtGui import QAction, QImage
from PySide6.QtWidgets import QMessageBox, QPushButton
from redis import Redis
from redis_restart_env import persistent_redis
from rq.registry import StartedJobRegistry

from qtqueue.app import create_main_window, wait_for_condition
from qtqueue.cluster.jobs import rq_queue
from qtqueue.cluster.reads import ClusterReader
from qtqueue.core.errors import QueueError
from qtqueue.core.task import ACTIVE, Priority, Task, TaskStatus
from qtqueue.executors import default_registry
from qtqueue.settings import EngineSettings, Settings
from qtqueue.ui.main_window import MainWindow
from qtqueue.ui.workers_view import WorkersView
from qtqueue.ui.workers_view_model import WorkerColumn

Window = Callable[[str], MainWindow]

# The window's fixtures (a conftest cannot be imported): found by pytest under these names.
window_settings = cluster_window_env.window_settings
loop = cluster_window_env.loop
run = cluster_window_env.run
cluster_window = cluster_window_env.cluster_window


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_the_window_on_a_cluster_shows_a_cli_task_live_and_cancels_it_on_its_worker(
    redis: RedisServer, cluster_window: Window, run: Run, tmp_path: Path
) -> None:
    go, pid_file = tmp_path / "go", tmp_path / "pid"
    # A worker saves progress at most every 0.5 s; a figure that comes sooner is saved once
    # that time is up, even if the command says nothing more (40% and 90% here).
    script = (
        f"echo $$ > {pid_file}; echo first-line; echo 30%; echo 40%; "
        f"while [ ! -e {go} ]; do sleep 0.05; done; echo second-line; echo 90%; "
        "while true; do sleep 0.05; done"
    )
    with background_worker(redis.url, tmp_path, "w0", client=redis.client):
        w = cluster_window(redis.url)
        assert w.windowTitle().endswith(f"redis://127.0.0.1:{redis.port}")
        assert w.engine_link.label.text().startswith(f"Cluster at redis://127.0.0.1:{redis.port}")
        assert not (tmp_path / "window-data").exists()  # no engine, no data directory
        pane = w.detail

        async def scenario() -> str:
            out = await acli(tmp_path, redis.url, "add", "command", "--name", "live one",
                             "--", "sh", "-c", script)  # fmt: skip
            task_id = out.strip()
            shown = await until_row(w, task_id, lambda t: t.status in ACTIVE and t.progress >= 40)
            assert shown.name == "live one"
            w.select_tasks([task_id])
            await wait_for_condition(
                lambda: "first-line" in pane.log_text(), pane.logLoaded,
                pane.form.logView.textChanged, timeout_s=15,
            )  # fmt: skip
            assert "second-line" not in pane.log_text()  # the command has not written it yet
            go.touch()  # now it does: the pane and the row follow
            await wait_for_condition(
                lambda: "second-line" in pane.log_text(), pane.form.logView.textChanged,
                timeout_s=15,
            )  # fmt: skip
            await until_row(w, task_id, lambda t: t.progress >= 90)
            workers = w.findChild(WorkersView)  # the Workers tab: w0, busy with this task
            assert workers is not None
            w.form.tabs.setCurrentWidget(workers)
            await wait_for_condition(
                lambda: workers.model.states() == ["busy"], workers.refreshed, timeout_s=10
            )
            row = workers.model.row_of("w0")
            assert row is not None
            index = workers.model.index(row, WorkerColumn.TASK)
            assert workers.model.data(index) == "live one"
            w.form.tabs.setCurrentWidget(w.form.tasksTab)
            assert w.form.actionPause.isEnabled()
            w.form.actionPause.trigger()  # the worker stops the command's tree; the row says so
            await until_row(w, task_id, lambda t: t.status == TaskStatus.PAUSED)
            assert psutil.Process(int(pid_file.read_text())).status() == psutil.STATUS_STOPPED
            w.form.actionResume.trigger()
            await until_row(w, task_id, lambda t: t.status == TaskStatus.RUNNING)
            w.form.actionCancel.trigger()
            boxes = [b for b in w.findChildren(QMessageBox, "confirmCancelTasks") if b.isVisible()]
            assert len(boxes) == 1
            act = boxes[0].findChild(QPushButton, "confirmAct")
            assert act is not None
            act.click()
            await until_row(w, task_id, lambda t: t.status == TaskStatus.CANCELLED)
            history = await w.queue.get_history(3600, 60)  # the statistics tab's charts
            assert sum(b["cancelled"] for b in history["buckets"]) == 1
            return task_id

        task_id = run(scenario(), 60)
        assert ClusterReader(redis.client).task(task_id).status == TaskStatus.CANCELLED
        wait_until(lambda: _gone(int(pid_file.read_text())), what="the command stopped")


def test_the_window_says_reconnecting_while_redis_is_away_and_then_shows_the_end(
    cluster_window: Window, run: Run, tmp_path: Path
) -> None:
    where, port = tmp_path / "redis", free_port()
    url = f"redis://127.0.0.1:{port}/0"
    go = tmp_path / "go"
    client = Redis(host="127.0.0.1", port=port)
    with (
        persistent_redis(where, port) as first,
        background_worker(url, tmp_path, "w0", client=client) as worker,
    ):
        w = cluster_window(url)
        label = w.engine_link.label
        script = f"while [ ! -e {go} ]; do sleep 0.05; done; echo done"
        out = run(acli(tmp_path, url, "add", "command", "--name", "outlives redis", "--",
                       "sh", "-c", script))  # fmt: skip
        task_id = out.strip()
        run(until_row(w, task_id, lambda t: t.status in ACTIVE))
        os.kill(first.pid, signal.SIGKILL)
        first.wait()
        run(wait_for_condition(
            lambda: "reconnecting" in label.text(), w.bridge.engineLinkChanged, timeout_s=20
        ))  # fmt: skip
        assert label.text() == f"Redis at 127.0.0.1:{port} is not answering — reconnecting…"
        assert "reconnecting" in w.windowTitle()
        assert "reconnecting" in w.statusBar().currentMessage()
        go.touch()  # the task ends while Redis is away: its worker records it once Redis is back
        with persistent_redis(where, port):
            run(until_row(w, task_id, lambda t: t.status == TaskStatus.COMPLETED, 40), 45)
            assert label.text().startswith(f"Cluster at redis://127.0.0.1:{port}")
            assert "reconnecting" not in w.windowTitle()
            run(w.shutdown(), 30)  # while Redis answers
            worker.proc.terminate()  # while Redis is there to say goodbye to
            assert worker.proc.wait(timeout=30) == 0
    client.close()


def test_what_a_cluster_cannot_do_is_refused_with_a_code_and_a_fix(
    redis: RedisServer, cluster_window: Window, run: Run
) -> None:
    w = cluster_window(redis.url)
    port = w.queue
    assert port.schedules.list_schedules() == []

    async def refusal(coro: object) -> QueueError:
        try:
            await coro  # type: ignore[misc]
        except QueueError as exc:
            return exc
        raise AssertionError("not refused")

    task = Task("custom_command", {"command": "true"})
    for coro, words in (
        (port.schedules.add_schedule(task, every="1h"), "no schedules"),
        (port.send_input("any", "text"), "stdin"),
        (port.settings.change(Settings(EngineSettings(max_concurrent=3), {})), "worker's machine"),
    ):
        error = run(refusal(coro))
        assert error.code.value == "CLUSTER_NOT_SUPPORTED"
        assert words in error.message
        assert f"127.0.0.1:{redis.port}" in error.message
    run(port.settings.change(port.settings.current()))  # the window's own preferences: saved


def test_a_task_added_from_the_window_goes_to_the_queue_its_priority_names(
    redis: RedisServer, cluster_window: Window, run: Run
) -> None:
    w = cluster_window(redis.url)
    urgent = Task("custom_command", {"command": "true"}, name="urgent one", priority=Priority.HIGH)
    task_id = run(w.queue.add_task(urgent))
    shown = run(until_row(w, task_id, lambda t: t.status == TaskStatus.PENDING))
    assert shown.queue == "high_priority"
    assert redis.client.lrange("rq:queue:high_priority", 0, -1) == [task_id.encode()]
    # A waiting task is edited and moved on a cluster too (test_cluster_order.py), and the
    # whole cluster paused (test_cluster_pause.py); schedules stay off, saying why.
    w.select_tasks([task_id])
    run(wait_for_condition(lambda: w.detail.task is not None, timeout_s=5))
    for name in ("actionEditTask", "actionMoveUp", "actionPauseQueue"):
        action = w.findChild(QAction, name)
        assert action is not None and action.isEnabled(), name
    for name in ("actionSchedules",):
        action = w.findChild(QAction, name)
        assert action is not None, name
        assert not action.isEnabled(), name
        assert "cluster" in action.toolTip() or "RQ" in action.toolTip(), name
    assert w.form.actionCancel.isEnabled()  # what a cluster does stays on
    settings = w.findChild(QAction, "actionSettings")
    assert settings is not None and settings.isEnabled()  # the window's own preferences
    assert "each worker's own" in settings.toolTip()


def test_a_cluster_that_does_not_answer_is_a_coded_error(run: Run, tmp_path: Path) -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    with pytest.raises(QueueError) as caught:
        run(create_main_window(tmp_path / "w", redis=url,
                               registry=default_registry(entry_points=False)))  # fmt: skip
    assert caught.value.code.value == "CLUSTER_REDIS_UNAVAILABLE"
    assert not (tmp_path / "w").exists()


def test_qtqueue_redis_gui_renders_the_clusters_tasks_without_a_data_directory(
    redis: RedisServer, tmp_path: Path
) -> None:
    """`qtqueue --redis URL gui --screenshot PNG`: the real program opens the cluster (no
    engine started, no data directory made), shows its task and exits cleanly."""
    task_id = cli(tmp_path, redis.url, "add", "command", "--name", "from the cli", "--", "true")
    png, data_dir = tmp_path / "cluster.png", tmp_path / "never-made"
    done = subprocess.run(
        [sys.executable, "-m", "qtqueue", "--data-dir", str(data_dir), "--redis", redis.url,
         "gui", "--screenshot", str(png), "--size", "1000x600"],
        capture_output=True, text=True, env={**qtqueue_env(tmp_path), "QT_QPA_PLATFORM":
        "offscreen"}, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert QImage(str(png)).size().width() == 1000
    assert not data_dir.exists()
    assert ClusterReader(redis.client).task(task_id.strip()).status == TaskStatus.PENDING


def test_a_task_whose_worker_died_is_shown_failed_once_a_live_worker_finds_it_abandoned(
    redis: RedisServer, cluster_window: Window, run: Run, tmp_path: Path
) -> None:
    """A worker SIGKILLed with its machine publishes nothing; once its heartbeat has expired,
    a live worker's placer hands its job to RQ's clean-up within seconds (cluster/abandoned.py),
    not at RQ's 10-minute maintenance, and the window shows the task failed, not running."""
    pid_file = tmp_path / "pid"
    w = cluster_window(redis.url)
    with (
        background_worker(redis.url, tmp_path, "w0", client=redis.client),
        background_worker(redis.url, tmp_path, "w1", client=redis.client),
    ):
        out = run(acli(tmp_path, redis.url, "add", "command", "--name", "machine dies",
                       "--max-retries", "0", "--", "sh", "-c",
                       f"echo $$ > {pid_file}; while true; do sleep 0.05; done"))  # fmt: skip
        task_id = out.strip()
        run(until_row(w, task_id, lambda t: t.status in ACTIVE))
        wait_until(lambda: pid_file.exists() and pid_file.read_text().strip(), what="the pid")
        kill_machine(int(pid_file.read_text()))
        # RQ gives a job's heartbeat the monitoring interval plus 60 s; the test does not wait
        # that long: the dead worker's last heartbeat is moved back past it.
        started = StartedJobRegistry(queue=rq_queue(redis.client, "default"))
        entries = redis.client.zrange(started.key, 0, -1)
        assert len(entries) == 1
        redis.client.zadd(started.key, {entries[0]: time.time() - 1}, xx=True)
        shown = run(until_row(w, task_id, lambda t: t.status not in ACTIVE, timeout_s=30), 35)
    assert shown.status == TaskStatus.FAILED
    assert shown.error_code == "QUEUE_TASK_INTERRUPTED"
