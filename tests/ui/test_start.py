"""How the window starts (issue 16, "Starting"): its frame shows before the engine is even
imported, then the window is composed over the engine and fills in; the charts' library is
loaded only once the tasks show."""

from __future__ import annotations

import functools
import logging
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings

from qtqueue.app import create_main_window, open_main_window, run_windows
from qtqueue.core.task import Task
from qtqueue.engine.queue import TaskQueue
from qtqueue.executors import default_registry
from qtqueue.launch import show_frame
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
    code = "import qtqueue.app\nfrom qtqueue.executors import default_registry\ndefault_registry()"
    assert _loaded_after(code, ("pyqtgraph", "numpy", "duckdb", "ollama", "httpx")) == []


def test_the_frame_shows_before_the_engine_the_api_or_the_charts_are_imported() -> None:
    """What `qtqueue gui` imports before its frame shows (the command line, then
    `qtqueue.launch`) holds neither the engine, the APIs, pydantic, aiohttp nor the charts:
    they are what made the first paint 6.5× a bare window's (bench/ui.py)."""
    heavy = ("qtqueue.engine", "qtqueue.api", "qtqueue.app", "qtqueue.executors", "pydantic")
    charts = ("aiohttp", "pyqtgraph", "numpy")
    assert _loaded_after("import qtqueue.cli, qtqueue.launch", heavy + charts) == []


def _loaded_after(code: str, modules: tuple[str, ...]) -> list[str]:
    """Which of `modules` a fresh interpreter has imported once it ran `code`."""
    probe = f"{code}\nimport sys\nprint(' '.join(m for m in {modules!r} if m in sys.modules))"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=120,
        env={"QT_QPA_PLATFORM": "offscreen", "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.split()


def _settings(tmp_path: Path) -> QSettings:
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


def test_the_frame_shown_first_becomes_the_window_and_stays_where_the_user_put_it(
    run: Run, data_dir: Path, open_windows: list[MainWindow], tmp_path: Path
) -> None:
    run(fill(data_dir, 30))
    settings = _settings(tmp_path)
    last_time = MainWindow(settings)  # the size the user left the window at last time
    open_windows.append(last_time)
    last_time.resize(1300, 750)
    last_time.show()
    settings.setValue("mainWindow/geometry", last_time.saveGeometry())
    last_time.hide()
    frame = run(show_frame(settings))
    assert frame.isVisible() and not frame.composed
    restored = frame.saveGeometry()  # last time's (fitted to the screen by Qt)
    assert (frame.width(), frame.height()) != (1150, 650)
    assert frame.form.shownLabel.text() == "Opening the queue…"
    frame.resize(1150, 650)  # the user sizes it while the engine starts
    window = run(
        create_main_window(
            data_dir, settings=settings, frame=frame, dispatch=False,
            registry=default_registry(entry_points=False),
        )
    )  # fmt: skip
    open_windows.append(window)
    assert window is frame and window.composed
    assert (window.width(), window.height()) == (1150, 650)  # not last time's again
    assert window.saveGeometry() != restored
    assert window.model.rowCount() == 30
    assert window.form.shownLabel.text() == "30 tasks"
    assert window.stats_view is not None


def test_a_frame_closed_before_the_engine_started_ends_the_start_and_frees_the_queue(
    run: Run, data_dir: Path, open_windows: list[MainWindow], tmp_path: Path
) -> None:
    run(fill(data_dir, 5))
    settings = _settings(tmp_path)
    frame = run(show_frame(settings))
    frame.close()  # before the engine is behind it
    assert not frame.isVisible()
    opener = functools.partial(
        open_main_window, data_dir, settings=settings, frame=frame, dispatch=False,
        registry=default_registry(entry_points=False),
    )  # fmt: skip
    run(run_windows(opener), 30)  # ends instead of showing the window again
    open_windows.append(frame)
    assert frame.is_shut_down and not frame.isVisible()
    run(fill(data_dir, 1))  # the engine let the queue go: another one opens it
