"""Fixtures for the desktop application's tests: offscreen Qt, one qasync loop per test, a
real engine on a temporary data directory, and settings kept out of the user's home.

Without the GUI test extra (`pip install -e '.[test-gui]'`: PySide6, qasync, pytest-qt) the
whole folder is skipped, saying so; the headless tests run without it."""

from __future__ import annotations

import os

import pytest

os.environ["QT_QPA_PLATFORM"] = "offscreen"  # before anything imports Qt

pytest.importorskip("PySide6", reason="PySide6 not installed: pip install -e '.[test-gui]'")
pytest.importorskip("qasync", reason="qasync not installed: pip install -e '.[test-gui]'")
pytest.importorskip("pytestqt", reason="pytest-qt not installed: pip install -e '.[test-gui]'")

import gc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import qasync
from helpers.qt_loop import isolate_settings, qasync_loop, runner
from helpers.qt_loop import until_row as until_row  # for the tests that import it from here
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication, QMessageBox, QPushButton, QWidget

from qtqueue.app import create_main_window, wait_for_condition
from qtqueue.core.task import Task, TaskStatus
from qtqueue.executors import default_registry
from qtqueue.ui.main_window import MainWindow
from qtqueue.ui.tray import TrayIcon

T = TypeVar("T")
Run = Callable[..., Any]


@pytest.fixture(autouse=True)
def collect_closed_loops() -> Iterator[None]:
    """After each test (this autouse fixture is torn down last), collect its closed qasync
    loop here, on the main thread. A closed loop still has Qt timers registered (its
    cancelled call_later handles); were a garbage collection that happens to run in a worker
    thread to destroy it, its timer object could not unregister them, and Qt would later fire
    one into freed memory: a segfault in QTimerInfoList::activateTimers, seen only in
    whole-suite runs."""
    yield
    gc.collect()


@pytest.fixture(autouse=True)
def settings_dir(tmp_path: Path) -> Path:
    """QSettings (both formats, both scopes) read and write under the test's tmp_path."""
    return isolate_settings(tmp_path / "settings")


@pytest.fixture
def loop(qapp: QApplication) -> Iterator[qasync.QEventLoop]:
    """A fresh qasync loop over pytest-qt's QApplication: Qt and asyncio as one loop."""
    with qasync_loop(qapp) as event_loop:
        yield event_loop


@pytest.fixture
def run(loop: qasync.QEventLoop) -> Callable[..., Any]:
    """`run(coro, timeout_s=20)`: run a coroutine on the qasync loop (Qt events included)."""
    return runner(loop)


@pytest.fixture
def open_windows(qapp: QApplication, run: Run) -> Iterator[list[MainWindow]]:
    """Windows to shut down (engine included), close and delete at the end of the test.

    Not `qtbot.addWidget`: pytest-qt closes those before fixtures are torn down, while the
    qasync loop that the shutdown needs is not running.
    """
    windows: list[MainWindow] = []
    yield windows
    for w in windows:
        run(w.shutdown(), 30)
        w.close()
        w.deleteLater()
    qapp.processEvents()


@pytest.fixture
def make_window(run: Run, open_windows: list[MainWindow]) -> Callable[..., MainWindow]:
    """`make_window(data_dir, **queue_kwargs)`: a shown main window on a started engine."""

    def make(path: Path, **kwargs: Any) -> MainWindow:
        kwargs.setdefault("registry", default_registry(entry_points=False))
        kwargs.setdefault("max_concurrent", 4)
        kwargs.setdefault("shutdown_policy", "cancel")
        w: MainWindow = run(create_main_window(path, **kwargs))
        open_windows.append(w)
        w.resize(1200, 800)
        w.show()
        return w

    return make


@pytest.fixture
def window(make_window: Callable[..., MainWindow], data_dir: Path) -> MainWindow:
    """The main window on a started engine (4 at once; running tasks cancelled at the end)."""
    return make_window(data_dir)


@pytest.fixture
def tray(window: MainWindow) -> Iterator[TrayIcon]:
    """A tray icon on the window, as `install_tray` gives one where a tray exists (offscreen
    has no tray, so the icon is attached by hand)."""
    icon = TrayIcon(window, window)
    window.set_tray(icon)
    icon.show()
    yield icon
    icon.hide()


@pytest.fixture
def app_as_main_runs_it(qapp: QApplication) -> Iterator[None]:
    """As `qtqueue.app.main` sets it: closing a window or a question must not end the
    application."""
    qapp.setQuitOnLastWindowClosed(False)
    yield
    qapp.setQuitOnLastWindowClosed(True)


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    """Where pictures of the window go: QTQUEUE_TEST_SHOTS (to look at them), else tmp_path."""
    path = Path(os.environ.get("QTQUEUE_TEST_SHOTS") or tmp_path / "shots")
    path.mkdir(parents=True, exist_ok=True)
    return path


def picture(widget: QWidget, path: Path) -> QImage:
    """Save a picture of `widget` (laid out first) to `path`; it must not be blank."""
    QApplication.sendPostedEvents()  # the layout requests: lay out before the picture
    assert widget.grab().save(str(path))
    image = QImage(str(path))
    colours = {
        image.pixel(x, y) for x in range(0, image.width(), 5) for y in range(0, image.height(), 5)
    }
    assert len(colours) > 20, "a blank picture"
    return image


def question(window: MainWindow, name: str) -> QMessageBox | None:
    """The question box `name` open over the window, if one is."""
    shown = [b for b in window.findChildren(QMessageBox, name) if b.isVisible()]
    assert len(shown) <= 1
    return shown[0] if shown else None


def button(box: QMessageBox, name: str) -> QPushButton:
    """A question's button by objectName."""
    found = box.findChild(QPushButton, name)
    assert found is not None, name
    return found


async def until(
    predicate: Callable[[], bool], *signals: Any, timeout_s: float = 10.0
) -> None:
    """Wait (without sleeping) until `predicate()` holds, re-checking on each signal."""
    await wait_for_condition(predicate, *signals, timeout_s=timeout_s)


def in_status(*statuses: TaskStatus) -> Callable[[Task], bool]:
    return lambda t: t.status in statuses
