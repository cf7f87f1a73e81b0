"""How the window starts (issue 16, "Starting"): it shows before its stored tasks are read,
then fills in; the charts' library is loaded only once the tasks show."""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from qtqueue.app import open_main_window, run_windows
from qtqueue.core.task import Task
from qtqueue.engine.queue import TaskQueue
from qtqueue.executors import default_registry
from qtqueue.ui.main_window import MainWindow

Run = Callable[..., object]
ROOT = Path(__file__).resolve().parents[2]


async def fill(data_dir: Path, count: int) -> None:
    """Store `count` waiting tasks in `data_dir`'s queue, with no window open."""
    queue = TaskQueue(data_dir, registry=default_registry(entry_points=False))
    await queue.start()
    try:
        await queue.add_tasks([Task("custom_command", {"command": "true"}) for _ in range(count)])
    finally:
        await queue.close()


def test_the_window_shows_before_its_stored_tasks_load_then_lists_them_all(
    make_window: Callable[..., MainWindow], run: Run, data_dir: Path
) -> None:
    run(fill(data_dir, 50))
    seen: list[tuple[bool, int, bool]] = []

    def shown(window: MainWindow) -> None:
        window.show()
        seen.append((window.isVisible(), window.model.rowCount(), window.stats_view is None))

    window = make_window(data_dir, shown=shown, dispatch=False)
    # shown, with no task read yet and no charts built; then every stored task, and the charts
    assert seen == [(True, 0, True)]
    assert window.model.rowCount() == 50
    assert window.form.shownLabel.text() == "50 tasks"
    assert window.stats_view is not None and window.form.statsView is window.stats_view


def test_a_window_closed_while_its_tasks_load_does_not_come_back_and_the_start_ends(
    run: Run, data_dir: Path, open_windows: list[MainWindow], caplog: pytest.LogCaptureFixture
) -> None:
    run(fill(data_dir, 200))
    caplog.set_level(logging.ERROR)

    def close_at_once(window: MainWindow) -> None:  # shown, then closed before the tasks read
        window.show()
        window.close()

    async def open_window() -> MainWindow:
        window = await open_main_window(
            data_dir, shown=close_at_once, registry=default_registry(entry_points=False),
            dispatch=False, attach=False,
        )  # fmt: skip
        open_windows.append(window)
        return window

    shown_again: list[MainWindow] = []
    run(run_windows(open_window, opened=shown_again.append))

    # The start ended as after a normal close: the window never showed again, its engine
    # is shut down, and nothing was built or started after the tasks were read.
    (window,) = open_windows
    assert shown_again == [] and not window.isVisible()
    assert window.is_shut_down
    assert window.stats_view is None and not window.stats_refresh.timer.isActive()
    assert window.model.rowCount() == 0
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


def test_the_desktop_start_does_not_load_what_only_later_screens_or_running_tasks_need() -> None:
    """Importing the application and registering every family leaves the charts (pyqtgraph,
    numpy), duckdb and the Ollama client unloaded: they come with the statistics tab or the
    first task that needs them, not before the window shows."""
    code = (
        "import sys, qtqueue.app\n"
        "from qtqueue.executors import default_registry\n"
        "default_registry()\n"
        "print(' '.join(m for m in ('pyqtgraph', 'numpy', 'duckdb', 'ollama', 'httpx')"
        " if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120,
        env={"QT_QPA_PLATFORM": "offscreen", "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == ""
