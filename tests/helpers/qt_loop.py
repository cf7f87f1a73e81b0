"""One qasync loop over pytest-qt's QApplication, as tests that drive real windows need it
(tests/ui/conftest.py, and the cluster's window and Workers view tests, which cannot import a
conftest): `qasync_loop(qapp)` gives the loop and closes it as the application does,
`runner(loop)` gives `run(coro, timeout_s)`, `isolate_settings(path)` keeps QSettings
under a test's folder, and `until_row` waits for a window's table to show a task so."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import qasync
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication

from qtqueue.app import wait_for_condition
from qtqueue.core.task import Task
from qtqueue.launch import finish_pending, run_in_loop
from qtqueue.ui.main_window import MainWindow

T = TypeVar("T")


def isolate_settings(path: Path) -> Path:
    """QSettings, both formats and both scopes, under `path`."""
    for fmt in (QSettings.Format.NativeFormat, QSettings.Format.IniFormat):
        for scope in (QSettings.Scope.UserScope, QSettings.Scope.SystemScope):
            QSettings.setPath(fmt, scope, str(path / scope.name))
    return path


@contextlib.contextmanager
def qasync_loop(qapp: QApplication) -> Iterator[qasync.QEventLoop]:
    """A fresh qasync loop over `qapp`: Qt and asyncio as one loop; at the end its pending
    tasks are cancelled and it is closed, as the application does."""
    event_loop = qasync.QEventLoop(qapp)
    asyncio.set_event_loop(event_loop)
    real_process_events = qapp.processEvents

    def process_events_in_the_loop(*args: Any) -> None:
        """pytest-qt processes events after each test, with the qasync loop stopped: a
        window's request still in flight would then resume in a Qt callback with no running
        asyncio loop (aiohttp fails, 'coroutine ClientRequest.write_bytes was never
        awaited'). The application never does that (its loop runs for its whole life): here
        events are processed inside the loop too."""
        if event_loop.is_running() or event_loop.is_closed():
            real_process_events(*args)
            return
        run_in_loop(event_loop, asyncio.sleep(0))  # Qt's events, with the loop running

    qapp.processEvents = process_events_in_the_loop  # type: ignore[method-assign,assignment]
    try:
        yield event_loop
    finally:
        qapp.processEvents = real_process_events  # type: ignore[method-assign]
        finish_pending(event_loop)  # as the application does before closing its loop
        event_loop.close()
        asyncio.set_event_loop(None)


def runner(loop: qasync.QEventLoop, default_timeout_s: float = 20.0) -> Callable[..., Any]:
    """`run(coro, timeout_s=default_timeout_s)`: run a coroutine on `loop` (Qt's events
    included) and return its result."""

    def run(coro: Awaitable[T], timeout_s: float = default_timeout_s) -> T:
        return run_in_loop(loop, asyncio.wait_for(coro, timeout_s))

    return run


async def until_row(
    window: MainWindow, task_id: str, check: Callable[[Task], bool], timeout_s: float = 20.0
) -> Task:
    """Wait until the window's table holds `task_id` in a state that passes `check`."""

    def shown() -> bool:
        t = window.model.task_by_id(task_id)
        return t is not None and check(t)

    await wait_for_condition(shown, window.model.batchApplied, timeout_s=timeout_s)
    task = window.model.task_by_id(task_id)
    assert task is not None
    return task
