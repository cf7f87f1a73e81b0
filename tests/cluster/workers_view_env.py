"""Fixtures of the Workers view's tests, a pytest plug-in (`pytest_plugins =
["workers_view_env"]`; import nothing from it): offscreen Qt with a qasync loop, as
tests/ui's, two real long-running `qtqueue worker` processes, w0 and w1, on the test's
redis-server, and tasks that run until told to end."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before anything imports Qt

pytest.importorskip("PySide6", reason="PySide6 not installed: pip install -e '.[test-gui]'")
pytest.importorskip("qasync", reason="qasync not installed: pip install -e '.[test-gui]'")

import gc
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from cluster_control_env import BackgroundWorker, worker_state
from cluster_env import RedisServer
from helpers.cli import qtqueue_env
from helpers.qt_loop import isolate_settings, qasync_loop, runner
from helpers.waiting import eventually, wait_until
from PySide6.QtWidgets import QApplication

from qtqueue.cluster.jobs import enqueue
from qtqueue.cluster.workers_source import ClusterWorkersSource
from qtqueue.core.task import Task
from qtqueue.executors import default_registry
from qtqueue.ui.workers_view import WorkersView

T = TypeVar("T")
Run = Callable[..., Any]
REGISTRY = default_registry(entry_points=False)
NAMES = ("w0", "w1")


@pytest.fixture
def loop_collected() -> Iterator[None]:
    """After `qt_run` is torn down (it depends on this), its closed qasync loop is collected
    here, on the main thread, as tests/ui's conftest does: a collection that happened to run
    in a worker thread would leave its Qt timers to fire into freed memory (a segfault)."""
    yield
    gc.collect()


@pytest.fixture
def qt_run(qapp: QApplication, tmp_path: Path, loop_collected: None) -> Iterator[Run]:
    """`qt_run(coro, timeout_s=30)`: run a coroutine on a fresh qasync loop over pytest-qt's
    QApplication (Qt's events and timers included); QSettings kept under tmp_path."""
    isolate_settings(tmp_path / "settings")
    with qasync_loop(qapp) as loop:
        yield runner(loop, 30.0)


@pytest.fixture
def two_workers(redis: RedisServer, tmp_path: Path) -> Iterator[dict[str, BackgroundWorker]]:
    """`qtqueue -v worker --redis URL --name w0` and `… w1`, started at once, entered once
    both have registered; at the end each still running gets SIGCONT and SIGTERM by its pid
    (a warm shutdown), SIGKILL after 30 s."""
    started: dict[str, BackgroundWorker] = {}
    for name in NAMES:
        log = tmp_path / f"{name}.log"
        with log.open("ab") as sink:
            proc = subprocess.Popen(
                [sys.executable, "-m", "qtqueue", "--data-dir", str(tmp_path / "q"), "-v",
                 "worker", "--redis", redis.url, "--name", name],
                stdout=sink, stderr=subprocess.STDOUT, env=qtqueue_env(tmp_path),
            )  # fmt: skip
        started[name] = BackgroundWorker(proc, log)
    try:

        def registered() -> bool:
            for w in started.values():
                assert w.proc.poll() is None, w.text()
            return all(worker_state(redis.client, n) is not None for n in started)

        wait_until(registered, timeout_s=60, what="workers w0 and w1 registered")
        yield started
    finally:
        for w in started.values():
            if w.proc.poll() is None:
                w.proc.send_signal(signal.SIGCONT)
                w.proc.send_signal(signal.SIGTERM)
        for w in started.values():
            try:
                w.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                w.proc.kill()
                w.proc.wait()


@pytest.fixture
def add_waiting_task(redis: RedisServer, tmp_path: Path) -> Callable[[str], tuple[Task, Path]]:
    """`add_waiting_task(name)`: enqueue a shell task named `name` that runs until the file
    it names exists: (the task, that file)."""

    def add(name: str) -> tuple[Task, Path]:
        go = tmp_path / f"{name.replace(' ', '-')}.go"
        line = f"until [ -e {go} ]; do sleep 0.05; done"
        task = Task("custom_command", {"command": line, "shell": True}, name=name, max_retries=0)
        enqueue(redis.client, task, REGISTRY)
        return task, go

    return add


@pytest.fixture
def open_view(redis: RedisServer, qt_run: Run) -> Iterator[Callable[..., WorkersView]]:
    """`open_view(**kwargs)`: a shown `WorkersView` (keywords: the view's) reading the test's
    cluster through `ClusterWorkersSource`; each is stopped, closed and deleted at the end."""
    opened: list[WorkersView] = []

    def open_one(**kwargs: Any) -> WorkersView:
        view = WorkersView(ClusterWorkersSource(redis.url), **kwargs)
        view.resize(1200, 300)
        view.show()
        opened.append(view)
        return view

    yield open_one
    for view in opened:
        qt_run(view.stop())
        view.close()
        view.deleteLater()


@pytest.fixture
def qt_until(qt_run: Run) -> Callable[..., Any]:
    """`qt_until(predicate, what, timeout_s=20)`: `predicate()`'s first truthy value, the qasync
    loop running meanwhile (Qt's timers, the view's reads)."""

    def wait(predicate: Callable[[], Any], what: str, timeout_s: float = 20.0) -> Any:
        return qt_run(eventually(predicate, timeout_s=timeout_s, what=what), timeout_s + 5)

    return wait
