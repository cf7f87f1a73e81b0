"""Edit a waiting task's start time: the Edit dialog shows it (prefilled) in its Scheduling
group, and saving a new one reschedules the task through the engine's edit path, so the
engine starts it at the new time, earlier or later (real engine, real dialog offscreen)."""

from __future__ import annotations

import time

import pytest
from PySide6.QtWidgets import QCheckBox, QDateTimeEdit
from pytestqt.qtbot import QtBot

from qtqueue.core.task import Task, TaskStatus, TaskType
from qtqueue.ui.edit_task_dialog import EditTaskDialog
from qtqueue.ui.main_window import MainWindow

from .conftest import Run, in_status, until_row

HOUR_S = 3600.0


def scheduled(window: MainWindow, run: Run, *names: str, at: float) -> dict[str, Task]:
    """Tasks that wait for their start time `at`, as the window shows them."""

    async def scenario() -> dict[str, Task]:
        found: dict[str, Task] = {}
        for name in names:
            task = Task(TaskType.CUSTOM_COMMAND, {"command": "true"}, name=name, run_at=at)
            task_id = await window.queue.add_task(task)
            found[name] = await until_row(window, task_id, in_status(TaskStatus.PENDING))
        return found

    return run(scenario())


def edit(window: MainWindow, task: Task) -> EditTaskDialog:
    """The Edit dialog of `task`, as Tasks › Edit… opens it."""
    dialog = EditTaskDialog(window.queue.registry, task, window.queue.update_task, parent=window)
    dialog.show()
    return dialog


def test_the_dialog_shows_the_start_time_and_a_new_one_reschedules_the_task(
    window: MainWindow, run: Run, qtbot: QtBot
) -> None:
    at = time.time() + HOUR_S
    tasks = scheduled(window, run, "sooner", "later", "now", "kept", at=at)

    dialog = edit(window, tasks["later"])
    later_box = dialog.findChild(QCheckBox, "taskStartLater")
    when = dialog.findChild(QDateTimeEdit, "taskStartAt")
    assert later_box is not None and later_box.isChecked() and when is not None
    assert when.dateTime().toMSecsSinceEpoch() / 1000 == pytest.approx(at, abs=1e-3)
    dialog.start_edit.set_at(at + HOUR_S)
    dialog.accept()
    moved = run(until_row(window, tasks["later"].id, lambda t: t.run_at != tasks["later"].run_at))
    assert moved.run_at == pytest.approx(at + HOUR_S, abs=1e-3)

    kept = edit(window, tasks["kept"])
    kept.name_edit.setText("kept, renamed")  # the start time left as it was
    kept.accept()
    renamed = run(until_row(window, tasks["kept"].id, lambda t: t.name == "kept, renamed"))
    assert renamed.run_at == tasks["kept"].run_at

    now = edit(window, tasks["now"])
    now.start_edit.at_box.setChecked(False)  # as soon as it can
    now.accept()
    sooner = edit(window, tasks["sooner"])
    sooner.start_edit.set_at(time.time() + 1)
    sooner.accept()

    run(until_row(window, tasks["now"].id, in_status(TaskStatus.COMPLETED), timeout_s=20))
    done = run(until_row(window, tasks["sooner"].id, in_status(TaskStatus.COMPLETED), 20))
    assert done.started_at is not None and done.started_at < at  # not at its old time
    # Both ran; the one moved later still waits, and so does the one whose time was kept.
    for name in ("later", "kept"):
        assert run(window.queue.get_task(tasks[name].id)).status is TaskStatus.PENDING
