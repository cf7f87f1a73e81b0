"""Helpers of the sidebar's and filters' tests (tests/ui/test_sidebar.py, test_filters.py):
tasks to add, waiting on the window without sleeping, and reading the list as shown."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from qtqueue.app import wait_for_condition
from qtqueue.core.task import Task, TaskType
from qtqueue.ui.main_window import MainWindow
from qtqueue.ui.task_list.columns import Column, Role


def command(line: str, **kw: Any) -> Task:
    """A shell command task."""
    return Task(TaskType.CUSTOM_COMMAND, {"command": line, "shell": True}, **kw)


async def until(predicate: Callable[[], bool], *signals: Any, timeout_s: float = 15.0) -> None:
    """Wait (without sleeping) until `predicate()` holds, re-checking on each signal."""
    await wait_for_condition(predicate, *signals, timeout_s=timeout_s)


async def until_task(window: MainWindow, task_id: str, check: Callable[[Task], bool]) -> Task:
    """Wait until the window's model holds `task_id` in a state that passes `check`."""

    def ok() -> bool:
        t = window.model.task_by_id(task_id)
        return t is not None and check(t)

    await until(ok, window.model.batchApplied)
    task = window.model.task_by_id(task_id)
    assert task is not None
    return task


def shown_names(window: MainWindow) -> list[str]:
    """The names of the rows the list shows, sorted."""
    proxy = window.proxy
    return sorted(proxy.index(r, Column.NAME).data() for r in range(proxy.rowCount()))


def shown_ids(window: MainWindow) -> set[str]:
    """The ids of the rows the list shows."""
    proxy = window.proxy
    return {proxy.index(r, Column.NAME).data(Role.TASK_ID) for r in range(proxy.rowCount())}
