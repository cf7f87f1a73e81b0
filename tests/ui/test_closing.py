"""Closing the window or quitting while tasks run, against a real engine: closing asks (keep
running hidden, the default / stop them / cancel), Quit says how many tasks it stops and can
be cancelled, nothing running asks nothing, and a window kept running without a tray comes
back when qtqueue is started again (the single-instance path, with a real second launch)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from qtqueue.app import SingleInstance
from qtqueue.config import resolve_data_dir
from qtqueue.core.task import Task, TaskStatus, TaskType
from qtqueue.engine.queue import TaskQueue
from qtqueue.executors import default_registry
from qtqueue.ui.main_window import MainWindow
from qtqueue.ui.tray import TrayIcon

from .conftest import Run, button, in_status, question, until, until_row

ROOT = Path(__file__).resolve().parents[2]


def sleeper(name: str) -> Task:
    return Task(TaskType.CUSTOM_COMMAND, {"command": "sleep", "args": ["60"]}, name=name)


async def running(window: MainWindow, *names: str) -> list[str]:
    ids = [await window.queue.add_task(sleeper(n)) for n in names]
    for task_id in ids:
        await until_row(window, task_id, in_status(TaskStatus.RUNNING))
    return ids


async def stored_status(data_dir: Path, task_id: str) -> TaskStatus:
    async with TaskQueue(
        data_dir, dispatch=False, registry=default_registry(entry_points=False)
    ) as q:
        return (await q.get_task(task_id)).status


def test_closing_while_a_task_runs_asks_and_keeps_it_running_in_the_tray_by_default(
    window: MainWindow, tray: TrayIcon, run: Run
) -> None:
    shown: list[str] = []
    tray.showMessage = lambda title, *_: shown.append(title)  # type: ignore[method-assign]

    async def scenario() -> str:
        [task_id] = await running(window, "nightly build")
        window.close()
        box = question(window, "closeWhileRunning")
        assert box is not None
        assert box.text() == "1 task is running. Keep it running with the window closed?"
        assert "“nightly build” (running)" in box.informativeText()
        assert "start again from the beginning" not in box.informativeText()  # policy: cancel
        keep = button(box, "keepRunning")
        assert keep.text() == "Keep running in the tray"
        assert box.defaultButton() is keep
        assert button(box, "stopAndQuit").text() == "Cancel 1 task and quit"
        keep.click()
        return task_id

    task_id = run(scenario())
    assert not window.isVisible() and not window.is_shut_down
    assert window.queue.started
    assert run(window.queue.get_task(task_id)).status == TaskStatus.RUNNING
    assert shown == ["qtqueue keeps running"]

    tray.toggle_window()  # the tray icon brings it back, the task still running
    assert window.isVisible()
    assert window.model.task_by_id(task_id).status == TaskStatus.RUNNING  # type: ignore[union-attr]


def test_closing_while_tasks_run_can_be_cancelled_or_stop_them(
    window: MainWindow, run: Run, data_dir: Path
) -> None:
    async def scenario() -> list[str]:
        ids = await running(window, "a", "b")
        window.close()
        box = question(window, "closeWhileRunning")
        assert box is not None and box.text().startswith("2 tasks are running.")
        assert button(box, "keepRunning").text() == "Keep running in the background"
        assert "start qtqueue again" in box.informativeText()
        button(box, "cancelClose").click()
        assert window.isVisible() and not window.is_shut_down

        window.close()
        box = question(window, "closeWhileRunning")
        assert box is not None
        button(box, "stopAndQuit").click()
        await until(lambda: window.is_shut_down, window.closed, timeout_s=30)
        return ids

    ids = run(scenario(), 60)
    assert not window.isVisible() and not window.queue.started
    for task_id in ids:  # the test engine's shutdown policy is cancel
        assert run(stored_status(data_dir, task_id)) == TaskStatus.CANCELLED


@pytest.mark.parametrize("via", ["menu", "tray"])
def test_quit_says_how_many_tasks_it_stops_and_can_be_cancelled(
    window: MainWindow, tray: TrayIcon, run: Run, data_dir: Path, via: str
) -> None:
    window.app_settings.qsettings.setValue("app/shutdownPolicy", "requeue")
    quit_action = window.form.actionQuit if via == "menu" else tray.actionQuit

    async def scenario() -> list[str]:
        ids = await running(window, "first", "second", "third")
        quit_action.trigger()
        box = question(window, "quitWhileRunning")
        assert box is not None
        assert box.text() == "Quitting stops 3 tasks that are running."
        assert "start again from the beginning" in box.informativeText()
        assert box.defaultButton() is button(box, "cancelQuit")
        button(box, "cancelQuit").click()
        assert window.isVisible() and not window.is_shut_down

        quit_action.trigger()
        box = question(window, "quitWhileRunning")
        assert box is not None
        stop = button(box, "stopAndQuit")
        assert stop.text() == "Stop 3 tasks and quit"
        stop.click()
        await until(lambda: window.is_shut_down, window.closed, timeout_s=30)
        return ids

    for task_id in run(scenario(), 60):
        assert run(stored_status(data_dir, task_id)) == TaskStatus.PENDING  # requeued


def test_a_task_paused_mid_run_counts_and_with_nothing_running_quit_asks_nothing(
    window: MainWindow, run: Run
) -> None:
    """A paused running task's process is stopped by quitting too, so Quit asks; once no
    command is left, Quit quits at once, as before."""

    async def scenario() -> None:
        [task_id] = await running(window, "paused job")
        await window.queue.pause_task(task_id)
        await until_row(window, task_id, in_status(TaskStatus.PAUSED))
        window.form.actionQuit.trigger()
        box = question(window, "quitWhileRunning")
        assert box is not None and "“paused job” (paused)" in box.informativeText()
        button(box, "cancelQuit").click()

        await window.queue.cancel_task(task_id)
        await until_row(window, task_id, in_status(TaskStatus.CANCELLED))
        window.form.actionQuit.trigger()
        assert question(window, "quitWhileRunning") is None
        await until(lambda: window.is_shut_down, window.closed, timeout_s=30)

    run(scenario(), 40)


def test_kept_running_without_a_tray_a_second_launch_brings_the_window_back(
    window: MainWindow, run: Run, data_dir: Path, tmp_path: Path
) -> None:
    """No tray (offscreen): the window hides and the engine goes on; `qtqueue gui` started
    again on the same data directory finds this instance and raises its window."""
    instance = SingleInstance(resolve_data_dir(str(data_dir)))
    assert instance.listen()
    instance.raiseRequested.connect(window.bring_to_front)  # as qtqueue.app wires it
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen",
           "XDG_CONFIG_HOME": str(tmp_path / "config"), "PYTHONPROFILEIMPORTTIME": "1"}

    async def scenario() -> tuple[str, subprocess.CompletedProcess[str]]:
        [task_id] = await running(window, "long job")
        window.close()
        box = question(window, "closeWhileRunning")
        assert box is not None
        button(box, "keepRunning").click()
        assert not window.isVisible()
        second = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "qtqueue", "gui", "--data-dir", str(data_dir)],
            env=env, cwd=ROOT, capture_output=True, text=True, timeout=60,
        )
        await until(window.isVisible, instance.raiseRequested)
        return task_id, second

    try:
        task_id, second = run(scenario(), 90)
    finally:
        instance.close()
    assert second.returncode == 0, second.stderr[-2000:]
    assert "already open" in second.stdout
    # it asked before loading the window and the engine: it answers in a fraction of a start
    assert "qtqueue.engine" not in second.stderr and "qtqueue.ui.main_window" not in second.stderr
    assert window.isVisible()
    assert run(window.queue.get_task(task_id)).status == TaskStatus.RUNNING
