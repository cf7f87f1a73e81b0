"""The window's layout (issue 16): at 1280×720 with the detail pane shown the task table shows
at least 20 rows; the pane can be hidden (View › Detail pane, Ctrl+Shift+D) and resized, and
the window remembers both."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from qtqueue.core.task import Task, TaskStatus, TaskType
from qtqueue.ui.main_window import MainWindow

from .conftest import Run, in_status, picture, until, until_row
from .detail_env import select_shown

CTRL_SHIFT = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier


def visible_rows(window: MainWindow) -> int:
    """Rows of the table wholly inside its viewport."""
    table = window.table
    height = table.viewport().height()
    count = 0
    for row in range(window.proxy.rowCount()):
        rect = table.visualRect(window.proxy.index(row, 0))
        if rect.top() >= 0 and rect.bottom() < height:
            count += 1
    return count


def test_at_1280x720_the_table_shows_20_rows_beside_the_pane(
    window: MainWindow, run: Run, shots: Path
) -> None:
    tasks = [
        Task(TaskType.CUSTOM_COMMAND, {"command": "true"}, name=f"job {i:02}") for i in range(30)
    ]

    async def scenario() -> list[str]:
        ids = await window.queue.add_tasks(tasks)
        await until(lambda: window.proxy.rowCount() == 30, window.model.batchApplied)
        await until_row(window, ids[-1], in_status(TaskStatus.COMPLETED))
        return ids

    ids = run(scenario())
    window.resize(1280, 720)
    select_shown(window, run, ids[0])
    QApplication.sendPostedEvents()
    QApplication.processEvents()
    assert window.detail.isVisible() and window.detail.task is not None
    assert window.detail.width() >= 400  # room for the facts
    assert visible_rows(window) >= 20
    assert not window.detail.form.infoScroll.horizontalScrollBar().isVisible()
    picture(window, shots / "detail_layout_1280x720.png")
    window.resize(1920, 1080)  # the room goes to the table, not around the filters
    QApplication.sendPostedEvents()
    QApplication.processEvents()
    assert visible_rows(window) == 30
    assert window.table.height() > 1080 - 200


def test_the_detail_pane_can_be_hidden_and_the_window_remembers(
    make_window: Callable[..., MainWindow], tmp_path: Path, run: Run
) -> None:
    window = make_window(tmp_path / "first")
    action = window.form.actionDetailPane
    assert action in window.form.menuView.actions()
    assert action.shortcut() == QKeySequence("Ctrl+Shift+D")
    assert window.detail.isVisible()
    table_width = window.table.width()
    action.trigger()
    QApplication.processEvents()
    assert not window.detail.isVisible()
    assert window.table.width() > table_width  # the table takes the room
    window.save_settings()

    again = make_window(tmp_path / "second")
    assert not again.detail.isVisible()
    assert not again.form.actionDetailPane.isChecked()
    again.activateWindow()  # Ctrl+Shift+D, as a user presses it on the list
    run(until(again.isActiveWindow, QApplication.instance().focusWindowChanged))
    again.table.setFocus()
    QTest.keyClick(again.table, Qt.Key.Key_D, CTRL_SHIFT)
    QApplication.processEvents()
    assert again.detail.isVisible() and again.form.actionDetailPane.isChecked()
    assert again.detail.width() >= 300  # back at a usable width, not squeezed to nothing


def test_the_pane_width_is_remembered(
    make_window: Callable[..., MainWindow], tmp_path: Path
) -> None:
    window = make_window(tmp_path / "first")
    window.resize(1280, 720)
    QApplication.processEvents()
    splitter = window.form.mainSplitter
    splitter.setSizes([900, 360])
    QApplication.processEvents()
    widths = splitter.sizes()
    window.save_settings()

    again = make_window(tmp_path / "second")
    again.resize(1280, 720)
    QApplication.processEvents()
    assert again.form.mainSplitter.sizes() == widths
