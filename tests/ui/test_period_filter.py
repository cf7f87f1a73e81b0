"""The list's period filter (what a statistics chart's time bucket sets): only the tasks that
finished in the period show, a chip over the list says which period, and its ✕, Esc in an
empty search box or "Clear filters" remove it (real engine, real window offscreen)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QToolButton, QWidget
from pytestqt.qtbot import QtBot

from qtqueue.core.task import TERMINAL, Task, TaskStatus, TaskType
from qtqueue.ui.main_window import MainWindow

from .conftest import Run, in_status, until_row


def shown_ids(window: MainWindow) -> set[str]:
    proxy, model = window.proxy, window.model
    return {
        model.task(proxy.mapToSource(proxy.index(r, 0)).row()).id for r in range(proxy.rowCount())
    }


def finished_one_after_another(window: MainWindow, run: Run) -> tuple[Task, Task, str]:
    """Two tasks finished one after the other, and one that waits for its start time."""

    async def scenario() -> tuple[Task, Task, str]:
        done: list[Task] = []
        for line in ("true", "exit 2"):
            task_id = await window.queue.add_task(
                Task(TaskType.CUSTOM_COMMAND, {"command": line, "shell": True}, max_retries=0)
            )
            done.append(await until_row(window, task_id, in_status(*TERMINAL), timeout_s=20))
        later = Task(TaskType.CUSTOM_COMMAND, {"command": "true"}, run_at=4e9)
        waiting = await window.queue.add_task(later)
        await until_row(window, waiting, in_status(TaskStatus.PENDING))
        return done[0], done[1], waiting

    return run(scenario())


def chip(window: MainWindow) -> tuple[QWidget, QLabel, QToolButton]:
    row = window.findChild(QWidget, "periodFilterRow")
    label = window.findChild(QLabel, "periodFilterLabel")
    close = window.findChild(QToolButton, "periodFilterClear")
    assert row is not None and label is not None and close is not None
    return row, label, close


def test_a_period_shows_only_the_tasks_finished_in_it_and_its_chip_removes_it(
    window: MainWindow, run: Run
) -> None:
    first, second, waiting = finished_one_after_another(window, run)
    assert first.completed_at is not None and second.completed_at is not None
    assert second.completed_at > first.completed_at
    assert window.stats_view is not None  # the charts (and the chip with them) are built
    row, label, close = chip(window)
    assert not row.isVisibleTo(window)

    window.filters.set_period((first.completed_at, second.completed_at), "14:00–15:00")
    assert shown_ids(window) == {first.id}  # the end is left out; the waiting one never ran
    assert row.isVisibleTo(window) and label.text() == "Finished 14:00–15:00"
    window.filters.set_period((second.completed_at, second.completed_at + 60), "later")
    assert shown_ids(window) == {second.id} and label.text() == "Finished later"

    close.click()
    assert window.filters.period is None and not row.isVisibleTo(window)
    assert shown_ids(window) == {first.id, second.id, waiting}


def test_esc_in_an_empty_search_box_and_clear_filters_remove_the_period(
    window: MainWindow, run: Run, qtbot: QtBot
) -> None:
    first, second, _waiting = finished_one_after_another(window, run)
    assert second.completed_at is not None
    row, _label, _close = chip(window)
    period = (second.completed_at, second.completed_at + 60)
    window.filters.set_period(period, "later")
    box = window.form.searchBox
    box.setText("nothing matches this")
    window.filters.apply_search()
    assert shown_ids(window) == set()

    qtbot.keyClick(box, Qt.Key.Key_Escape)  # the first Esc empties the search
    assert box.text() == "" and window.filters.period == period
    assert shown_ids(window) == {second.id}
    qtbot.keyClick(box, Qt.Key.Key_Escape)  # the next removes the period
    assert window.filters.period is None and not row.isVisibleTo(window)
    assert first.id in shown_ids(window)

    window.filters.set_period(period, "later")
    window.sidebar.empty.clearRequested.emit()  # the empty list's "Clear filters"
    assert window.filters.period is None and not row.isVisibleTo(window)
    assert not window.filters.filtering
