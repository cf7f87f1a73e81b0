"""Helpers for the detail pane's and the layout's tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from qtqueue.ui.main_window import MainWindow

from .conftest import until


def select_shown(
    window: MainWindow, run: Any, task_id: str, select: Callable[[], object] | None = None
) -> None:
    """Select `task_id` in the list (or do `select`, which selects it: a click), and wait until
    the pane has read its log (a finished task's is read to its end: nothing is left
    following it when the test ends)."""
    loaded: list[str] = []

    def note(shown_id: str) -> None:
        loaded.append(shown_id)

    window.detail.logLoaded.connect(note)
    try:
        if select is None:
            window.select_task(task_id)
        else:
            select()
        run(until(lambda: task_id in loaded, window.detail.logLoaded))
    finally:
        window.detail.logLoaded.disconnect(note)
