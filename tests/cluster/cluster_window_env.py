"""The window on a cluster, for tests/cluster/test_cluster_window.py: offscreen Qt with one
qasync loop per test (as tests/ui/conftest.py's `loop` and `run`, which a cluster test cannot
import), the window opened on a Redis URL, the command line on it, and waits on what the window
shows.

The fixtures here are imported by the test module (a conftest cannot be imported)."""

from __future__ import annotations

import os

import pytest

os.environ["QT_QPA_PLATFORM"] = "offscreen"  # before anything imports Qt

pytest.importorskip("PySide6", reason="PySide6 not installed: pip install -e '.[test-gui]'")
pytest.importorskip("qasync", reason="qasync not installed: pip install -e '.[test-gui]'")
pytest.importorskip("pytestqt", reason="pytest-qt not installed: pip install -e '.[test-gui]'")

import asyncio
import gc
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import qasync
from helpers.cli import qtqueue_env
from helpers.qt_loop import isolate_settings, qasync_loop, runner
from helpers.qt_loop import until_row as until_row  # for the tests that import it from here
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication

from qtqueue.app import create_main_window
from qtqueue.executors import default_registry
from qtqueue.ui.main_window import MainWindow

T = TypeVar("T")
Run = Callable[..., Any]


@pytest.fixture(autouse=True)
def window_settings(tmp_path: Path) -> Iterator[Path]:
    """QSettings (both formats, both scopes) under the test's tmp_path; closed loops collected
    on the main thread at the end (see tests/ui/conftest.py's `collect_closed_loops`)."""
    yield isolate_settings(tmp_path / "settings")
    gc.collect()


@pytest.fixture
def loop(qapp: QApplication) -> Iterator[qasync.QEventLoop]:
    """A fresh qasync loop over pytest-qt's QApplication (as tests/ui/conftest.py's)."""
    with qasync_loop(qapp) as event_loop:
        yield event_loop


@pytest.fixture
def run(loop: qasync.QEventLoop) -> Run:
    """`run(coro, timeout_s=20)`: run a coroutine on the qasync loop (Qt events included)."""
    return runner(loop)


@pytest.fixture
def cluster_window(
    run: Run, tmp_path: Path, qapp: QApplication
) -> Iterator[Callable[..., MainWindow]]:
    """`cluster_window(url)`: the window opened on the cluster at `url`, shown; shut down at
    the end (a test that restarts Redis shuts it down itself while Redis answers)."""
    windows: list[MainWindow] = []

    def make(url: str) -> MainWindow:
        settings = QSettings(str(tmp_path / "window.ini"), QSettings.Format.IniFormat)
        w: MainWindow = run(
            create_main_window(
                tmp_path / "window-data",
                settings=settings,
                redis=url,
                registry=default_registry(entry_points=False),
            )
        )
        windows.append(w)
        w.resize(1280, 760)
        w.show()
        return w

    yield make
    for w in windows:
        run(w.shutdown(), 30)
        w.close()
        w.deleteLater()
    qapp.processEvents()


def cli(tmp_path: Path, url: str, *args: str) -> str:
    """`qtqueue --redis URL ARGS…` to completion; its stdout (it must succeed)."""
    done = subprocess.run(
        [sys.executable, "-m", "qtqueue", "--data-dir", str(tmp_path / "cli"), "--redis", url,
         *args],
        capture_output=True, text=True, env=qtqueue_env(tmp_path), timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


async def acli(tmp_path: Path, url: str, *args: str) -> str:
    """`cli` in a thread: the window's loop goes on meanwhile."""
    return await asyncio.to_thread(cli, tmp_path, url, *args)
