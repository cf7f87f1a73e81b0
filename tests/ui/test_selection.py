"""A big selection is read once per change (issue 16 review: select all froze the window
with 100,000 rows): the actions, the queue-order and template menus, the detail pane and the
count beside the list share one reading of the selected rows, which still follows every
change of the selection and of the tasks."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QItemSelectionModel
from pytestqt.qtbot import QtBot

from qtqueue.core.task import Task, TaskStatus
from qtqueue.engine.queue import TaskQueue
from qtqueue.executors import default_registry
from qtqueue.ui.main_window import MainWindow

Run = Callable[..., Any]


@pytest.fixture
def big(make_window: Callable[..., MainWindow], run: Run, data_dir: Path) -> MainWindow:
    """A window over 40 waiting "backup" tasks and 20 "clean" ones (nothing runs)."""

    async def fill() -> None:
        queue = TaskQueue(data_dir, registry=default_registry(entry_points=False))
        await queue.start()
        try:
            await queue.add_tasks(
                [Task("custom_command", {"command": "true"}, name=f"backup {i}") for i in range(40)]
                + [
                    Task("custom_command", {"command": "true"}, name=f"clean {i}")
                    for i in range(20)
                ]
            )
        finally:
            await queue.close()

    run(fill())
    return make_window(data_dir, dispatch=False)


def count_task_reads(window: MainWindow) -> list[int]:
    """Count how many row snapshots the window reads from its model one by one."""
    calls = [0]
    original = window.model.task

    def counting(row: int) -> Task:
        calls[0] += 1
        return original(row)

    window.model.task = counting  # type: ignore[method-assign]
    return calls


def test_selecting_all_shown_rows_reads_them_once_for_the_actions_menus_pane_and_count(
    big: MainWindow, qtbot: QtBot
) -> None:
    f = big.form
    f.searchBox.setText("backup")
    big.filters.apply_search()
    assert big.proxy.rowCount() == 40
    reads = count_task_reads(big)
    walks = big.selection.walks

    f.actionSelectAll.trigger()  # Ctrl+A

    # Everything that follows the selection was updated from one reading of the 40 rows
    # (before: one per listener, three or more).
    assert big.selection.walks == walks + 1
    assert reads[0] < 2 * 40
    assert sorted(t.name for t in big.selected_tasks()) == sorted(f"backup {i}" for i in range(40))
    assert f.shownLabel.text() == "40 of 60 tasks · 40 selected"
    assert f.actionPause.isEnabled() and f.actionCancel.isEnabled()
    assert not f.actionResume.isEnabled() and not f.actionRemove.isEnabled()
    assert not f.actionScheduleTask.isEnabled()
    assert big.queue_order.moves and all(a.isEnabled() for a in big.queue_order.moves.values())
    assert not big.queue_order.edit.isEnabled()  # one task at a time
    assert not big.templates.save_action.isEnabled()
    assert big.detail.task is not None and big.detail.task.name.startswith("backup")

    # Asking again without a change reads nothing again.
    assert len(big.selected_tasks()) == 40
    assert big.selection.walks == walks + 1


def test_select_all_without_a_filter_lists_every_task_top_to_bottom_then_follows_a_change(
    big: MainWindow, qtbot: QtBot
) -> None:
    big.table.selectAll()
    rows = [big.model.task(r).id for r in range(big.model.rowCount())]
    assert [t.id for t in big.selected_tasks()] == rows
    assert big.form.shownLabel.text() == "60 tasks · 60 selected"

    # Ctrl+click one row away: the next reading has it gone, and one row selected is one
    # task: the single-task actions come on.
    top = big.proxy.index(0, 0)
    big.table.selectionModel().select(
        top, QItemSelectionModel.SelectionFlag.Deselect | QItemSelectionModel.SelectionFlag.Rows
    )
    assert [t.id for t in big.selected_tasks()] == rows[1:]
    big.table.clearSelection()
    big.select_tasks([rows[3]])
    assert [t.id for t in big.selected_tasks()] == [rows[3]]
    assert big.form.actionScheduleTask.isEnabled() and big.templates.save_action.isEnabled()


def test_the_shared_selection_shows_a_selected_task_s_new_status(
    big: MainWindow, run: Run, qtbot: QtBot
) -> None:
    first = big.model.task(0)
    big.select_tasks([first.id])
    assert big.form.actionPause.isEnabled() and not big.form.actionResume.isEnabled()

    run(big.queue.pause_task(first.id))

    # The engine's change replaces the row's snapshot: the shared reading is not kept.
    qtbot.waitUntil(lambda: big.form.actionResume.isEnabled(), timeout=10_000)
    assert [t.status for t in big.selected_tasks()] == [TaskStatus.PAUSED]
    assert not big.form.actionPause.isEnabled()
