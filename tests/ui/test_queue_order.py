"""The waiting order from the window, against a real engine: Tasks menu and context menu
moves with their keys, Priority ›, Edit… (the form prefilled, saved as the same task), and rows
dropped on another waiting task. A paused queue keeps the tasks waiting."""

from __future__ import annotations

import time

import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from qtqueue.core.queue_moves import MovePlace
from qtqueue.core.task import Priority, Task, TaskStatus, TaskType
from qtqueue.ui.edit_task_dialog import EditTaskDialog
from qtqueue.ui.main_window import MainWindow
from qtqueue.ui.queue_order import task_ids_mime

from .conftest import Run, in_status, until, until_row


def command(name: str) -> Task:
    return Task(TaskType.CUSTOM_COMMAND, {"command": "true"}, name=name)


def waiting_names(window: MainWindow) -> list[str]:
    """The waiting tasks' names in the order the engine will start them."""
    engine = window.queue
    return [t.name for t in engine.ordering.waiting_order("default")]  # type: ignore[attr-defined]


def table_names(window: MainWindow) -> list[str]:
    proxy = window.proxy
    return [proxy.index(r, 0).data() for r in range(proxy.rowCount())]


def wait_order(window: MainWindow, run: Run, names: list[str]) -> None:
    """Wait until the engine will start the waiting tasks in the order of `names`."""
    run(until(lambda: waiting_names(window) == names, window.model.batchApplied))


def add_waiting(window: MainWindow, run: Run, names: str) -> dict[str, str]:
    async def scenario() -> dict[str, str]:
        await window.queue.pause_queue()
        ids = await window.queue.add_tasks([command(n) for n in names])
        for i in ids:
            await until_row(window, i, in_status(TaskStatus.PENDING))
        return dict(zip(names, ids, strict=True))

    return run(scenario())


def select(window: MainWindow, *ids: str) -> None:
    window.select_tasks(ids)
    assert {t.id for t in window.selected_tasks()} == set(ids)


def test_the_move_actions_sit_in_both_menus_with_qbittorrents_keys(window: MainWindow) -> None:
    f = window.form
    order = window.queue_order
    for action in (*order.moves.values(), order.edit):
        assert action in f.menuTasks.actions()
        assert action in window.task_actions.context_menu.actions()
    assert order.priority_menu.menuAction() in window.task_actions.context_menu.actions()
    keys = {p: a.shortcut().toString() for p, a in order.moves.items()}
    assert keys == {
        MovePlace.TOP: "Ctrl+Shift+Up", MovePlace.UP: "Ctrl+Up",
        MovePlace.DOWN: "Ctrl+Down", MovePlace.BOTTOM: "Ctrl+Shift+Down",
    }  # fmt: skip


def test_moving_from_the_menu_and_the_keyboard_changes_the_start_order(
    window: MainWindow, run: Run, qtbot: QtBot
) -> None:
    ids = add_waiting(window, run, "abcd")
    order = window.queue_order

    select(window, ids["c"])
    assert order.moves[MovePlace.TOP].isEnabled()
    order.moves[MovePlace.TOP].trigger()
    wait_order(window, run, ["c", "a", "b", "d"])
    bar = window.statusBar()
    run(until(lambda: "moved top" in bar.currentMessage(), bar.messageChanged))

    select(window, ids["a"])
    window.table.setFocus()
    qtbot.keyClick(window.table, Qt.Key.Key_Down, Qt.KeyboardModifier.ControlModifier)
    wait_order(window, run, ["c", "b", "a", "d"])
    qtbot.keyClick(
        window.table,
        Qt.Key.Key_Down,
        Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier,
    )
    wait_order(window, run, ["c", "b", "d", "a"])

    select(window, ids["b"], ids["d"])  # two at once keep their order
    order.moves[MovePlace.TOP].trigger()
    wait_order(window, run, ["b", "d", "c", "a"])

    order.sort_start_order.trigger()  # the list shows the order the queue starts them in
    run(until(lambda: table_names(window) == ["b", "d", "c", "a"], window.model.batchApplied))
    assert table_names(window) == ["b", "d", "c", "a"]


def test_the_priority_menu_sets_and_shows_the_priority(window: MainWindow, run: Run) -> None:
    ids = add_waiting(window, run, "ab")
    order = window.queue_order

    select(window, ids["b"])
    assert order.priorities[Priority.NORMAL].isChecked()
    order.priorities[Priority.URGENT].trigger()
    run(until_row(window, ids["b"], lambda t: t.priority is Priority.URGENT))
    assert order.priorities[Priority.URGENT].isChecked()


def test_nothing_moves_or_edits_once_a_task_started(window: MainWindow, run: Run) -> None:
    async def scenario() -> str:
        task_id = await window.queue.add_task(command("done"))
        await until_row(window, task_id, in_status(TaskStatus.COMPLETED))
        return task_id

    select(window, run(scenario()))
    order = window.queue_order
    assert not any(a.isEnabled() for a in order.moves.values())
    assert not order.edit.isEnabled() and not order.priority_menu.isEnabled()
    assert order.edit_selected() is None


def test_edit_opens_the_prefilled_form_and_saves_the_same_task(
    window: MainWindow, run: Run, qtbot: QtBot
) -> None:
    ids = add_waiting(window, run, "a")
    select(window, ids["a"])
    assert window.queue_order.edit.isEnabled()

    window.queue_order.edit.trigger()
    dialog = window.findChild(EditTaskDialog)
    assert dialog is not None and dialog.isVisible()
    assert dialog.name_edit.text() == "a" and dialog.ok_button.text() == "Save"
    assert not dialog.after_edit.isEnabled() and not dialog.permission_combo.isEnabled()
    dialog.name_edit.setText("renamed")
    dialog.tags_edit.setText("edited, twice")
    dialog.accept()

    task = run(until_row(window, ids["a"], lambda t: t.name == "renamed"))
    assert task.tags == ["edited", "twice"]
    assert run(window.queue.count_tasks()) == 1
    bar = window.statusBar()
    run(until(lambda: "saved" in bar.currentMessage(), bar.messageChanged))


@pytest.mark.parametrize(
    ("meanwhile", "code"), [("cancel", "QUEUE_TASK_NOT_WAITING"), ("urgent", "QUEUE_TASK_CHANGED")]
)
def test_a_refused_edit_stays_open_with_the_engines_reason(
    window: MainWindow, run: Run, qtbot: QtBot, meanwhile: str, code: str
) -> None:
    ids = add_waiting(window, run, "a")
    select(window, ids["a"])
    dialog = window.queue_order.edit_selected()
    assert dialog is not None
    if meanwhile == "cancel":
        run(window.queue.cancel_task(ids["a"]))  # it ends meanwhile
    else:
        run(window.queue.set_priority(ids["a"], Priority.URGENT))  # the command line, meanwhile
    dialog.name_edit.setText("stale")

    with qtbot.waitSignal(dialog.saveFailed) as failed:
        dialog.accept()

    assert code in failed.args[0]
    assert dialog.isVisible() and run(window.queue.get_task(ids["a"])).name == "a"
    dialog.reject()


def test_rows_dropped_on_a_waiting_task_move_just_before_it(
    window: MainWindow, run: Run, qtbot: QtBot
) -> None:
    ids = add_waiting(window, run, "abcd")
    table = window.table
    target_row = window.proxy.mapFromSource(
        window.model.index(window.model.row_of(ids["b"]) or 0, 0)
    )
    at = table.visualRect(target_row).center()
    mime: QMimeData = task_ids_mime([ids["c"], ids["d"]])
    drop = QDropEvent(
        QPointF(at), Qt.DropAction.MoveAction, mime, Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )  # fmt: skip

    enter = QDragEnterEvent(
        at, Qt.DropAction.MoveAction, mime, Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )  # fmt: skip
    QApplication.sendEvent(table.viewport(), enter)
    assert enter.isAccepted()
    QApplication.sendEvent(table.viewport(), drop)

    assert drop.isAccepted()
    wait_order(window, run, ["a", "c", "d", "b"])
    outside = QDropEvent(
        QPointF(QPoint(5, table.viewport().height() - 2)), Qt.DropAction.MoveAction, mime,
        Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
    )  # fmt: skip
    QApplication.sendEvent(table.viewport(), outside)
    assert not outside.isAccepted()


def test_saving_the_edit_of_a_scheduled_task_keeps_its_start_time(
    window: MainWindow, run: Run, qtbot: QtBot
) -> None:
    start = time.time() + 7200
    scheduled = Task(TaskType.CUSTOM_COMMAND, {"command": "true"}, name="rotate", run_at=start)
    task_id = run(window.queue.add_task(scheduled))
    run(until_row(window, task_id, in_status(TaskStatus.PENDING)))
    select(window, task_id)
    dialog = window.queue_order.edit_selected()
    assert dialog is not None

    dialog.name_edit.setText("rotate logs")
    dialog.accept()

    task = run(until_row(window, task_id, lambda t: t.name == "rotate logs"))
    assert task.run_at == start and task.status is TaskStatus.PENDING
