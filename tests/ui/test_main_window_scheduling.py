"""The main window's issue #5 parts against a real engine: approve and reject, the resources
and queue columns, the dead-letter filter with requeue and purge, and "Schedule…" from a task."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox
from pytestqt.qtbot import QtBot

from qtqueue.core.errors import TaskErrorCode
from qtqueue.core.task import ACTIVE, TERMINAL, Permission, Task, TaskStatus, TaskType
from qtqueue.engine.schedules import ScheduleKind
from qtqueue.ui.main_window import MainWindow
from qtqueue.ui.task_list.columns import HIDDEN_BY_DEFAULT, Column, Role
from qtqueue.ui.task_list.filters import DEAD_LETTERS

from .conftest import Run, in_status, until, until_row


def command(line: str, **kw: object) -> Task:
    return Task(TaskType.CUSTOM_COMMAND, {"command": line, "shell": True}, **kw)  # type: ignore[arg-type]


def needs_approval(line: str = "echo approved") -> Task:
    return command(line, permission=Permission.HUMAN_REQUIRED)


class BigMachine:
    """A machine with room for every test task, a GPU included (the resource probe protocol)."""

    def cpu_cores(self) -> int:
        return 16

    def memory_gb(self) -> tuple[float, float]:
        return 64.0, 60.0

    def disk_gb(self, path: str) -> tuple[str, float, float]:
        return "disk", 500.0, 400.0

    def gpus_gb(self) -> list[tuple[float, float]]:
        return [(24.0, 24.0)]


def awaiting(t: Task) -> bool:
    return t.wait_reason == "awaiting approval"


def approval_actions(window: MainWindow) -> tuple[bool, bool]:
    return window.form.actionApprove.isEnabled(), window.form.actionReject.isEnabled()


# --------------------------------------------------------------------------- approval


def test_approve_lets_a_human_required_command_run_to_completion(
    window: MainWindow, run: Run
) -> None:
    task_id = run(window.queue.add_task(needs_approval()))
    run(until_row(window, task_id, awaiting))
    row = window.model.row_of(task_id)
    assert row is not None
    assert window.model.index(row, Column.STATUS).data() == "Awaiting approval"
    window.select_tasks([task_id])
    assert approval_actions(window) == (True, True)

    window.form.actionApprove.trigger()
    done = run(until_row(window, task_id, in_status(TaskStatus.COMPLETED)))
    assert done.approved_at is not None
    assert approval_actions(window) == (False, False)


def test_reject_asks_for_a_reason_and_ends_every_selected_task_cancelled(
    window: MainWindow, run: Run
) -> None:
    ids = run(window.queue.add_tasks([needs_approval(), needs_approval()]))
    for task_id in ids:
        run(until_row(window, task_id, awaiting))
    window.select_tasks(ids)
    box = window.task_actions.ask_reject()
    assert box is not None and box.objectName() == "rejectReasonDialog"
    box.setTextValue("not on a Friday")
    box.accept()
    for task_id in ids:
        t = run(until_row(window, task_id, in_status(TaskStatus.CANCELLED)))
        assert t.error_code == TaskErrorCode.QUEUE_REJECTED.value
        assert "not on a Friday" in (t.error or "")
    assert "2 tasks rejected" in window.form.statusBar.currentMessage()


def test_approval_actions_are_disabled_for_ordinary_tasks_and_mixed_selections(
    window: MainWindow, run: Run
) -> None:
    f = window.form
    for action in (f.actionApprove, f.actionReject):
        assert not action.shortcut().isEmpty() and not action.icon().isNull()
        assert action in window.task_actions.context_menu.actions()
        assert action in f.mainToolBar.actions()
    run(window.queue.pause_queue())
    ordinary = run(window.queue.add_task(command("echo plain")))
    gated = run(window.queue.add_task(needs_approval()))
    run(until_row(window, gated, awaiting))
    run(until_row(window, ordinary, in_status(TaskStatus.PENDING)))

    window.select_tasks([ordinary])
    assert approval_actions(window) == (False, False)
    window.select_tasks([ordinary, gated])
    assert approval_actions(window) == (False, False)
    window.select_tasks([gated])
    assert approval_actions(window) == (True, True)


def test_approving_a_task_approved_meanwhile_shows_the_code_and_suggestion(
    window: MainWindow, run: Run
) -> None:
    run(window.queue.pause_queue())  # it stays pending once approved
    task_id = run(window.queue.add_task(needs_approval()))
    run(until_row(window, task_id, awaiting))
    window.select_tasks([task_id])
    run(window.queue.approve_task(task_id))  # e.g. from the command line, before the window saw it
    window.form.actionApprove.trigger()
    run(until(lambda: "Could not approve" in window.form.statusBar.currentMessage(),
              window.actionsUpdated))
    message = window.form.statusBar.currentMessage()
    assert TaskErrorCode.QUEUE_INVALID_STATE.value in message


# --------------------------------------------------------------------------- columns


def test_resources_and_queue_columns_show_what_a_task_needs_and_sort_by_raw_value(
    make_window: Callable[..., MainWindow], data_dir: Path, run: Run
) -> None:
    window = make_window(data_dir, resource_probe=BigMachine())
    assert Column.RESOURCES not in HIDDEN_BY_DEFAULT and Column.QUEUE in HIDDEN_BY_DEFAULT
    assert not window.table.isColumnHidden(Column.RESOURCES)
    run(window.queue.pause_queue())
    big, small, none = run(window.queue.add_tasks([
        command("echo big", resources={"cpu_cores": 2, "memory_gb": 8, "gpu_memory_gb": 6}),
        command("echo small", resources={"cpu_cores": 0.5}, queue="high_priority"),
        command("echo none"),
    ]))
    run(until(lambda: window.model.rowCount() == 3, window.model.batchApplied))
    model = window.model

    def cell(task_id: str, column: Column) -> str:
        row = model.row_of(task_id)
        assert row is not None
        return str(model.index(row, column).data())

    assert cell(big, Column.RESOURCES) == "2 CPU · 8 GB · GPU 6 GB"
    assert cell(small, Column.RESOURCES) == "0.5 CPU"
    assert cell(none, Column.RESOURCES) == ""
    assert cell(small, Column.QUEUE) == "high_priority" and cell(big, Column.QUEUE) == "default"

    window._column_actions[Column.QUEUE].setChecked(True)
    assert not window.table.isColumnHidden(Column.QUEUE)
    window.table.sortByColumn(Column.RESOURCES, window.model.sort_order.DescendingOrder)
    shown = [window.proxy.index(r, Column.NAME).data(Role.TASK_ID)
             for r in range(window.proxy.rowCount())]
    assert shown == [big, small, none]


# --------------------------------------------------------------------------- dead letters


def test_the_dead_letter_filter_lists_a_task_that_failed_for_good_and_requeue_brings_it_back(
    window: MainWindow, run: Run, tmp_path: Path
) -> None:
    flag = tmp_path / "fixed"
    failing = command(f"echo broken >&2; test -f {flag}", max_retries=1, retry_backoff=[0.05])
    dead, fine = run(window.queue.add_tasks([failing, command("echo fine")]))
    run(until_row(window, dead, lambda t: t.dead_letter))
    run(until_row(window, fine, in_status(TaskStatus.COMPLETED)))

    f = window.form
    f.filterStatus.setCurrentIndex(f.filterStatus.findData(DEAD_LETTERS))
    assert f.filterStatus.currentText() == "Dead letters"
    assert window.proxy.rowCount() == 1
    assert window.proxy.index(0, Column.NAME).data(Role.TASK_ID) == dead
    assert not window.table.isColumnHidden(Column.LAST_ERROR)
    assert window.proxy.index(0, Column.LAST_ERROR).data()  # what it died of

    window.select_tasks([dead])
    assert f.actionRequeueDeadLetters.isEnabled()
    flag.touch()
    f.actionRequeueDeadLetters.trigger()
    back = run(until_row(window, dead, lambda t: t.status in ACTIVE | {TaskStatus.PENDING,
                                                                         TaskStatus.COMPLETED}))
    assert not back.dead_letter
    run(until(lambda: window.proxy.rowCount() == 0, window.model.batchApplied))
    run(until_row(window, dead, in_status(TaskStatus.COMPLETED)))


@pytest.mark.parametrize("verb", ["requeue", "purge"])
def test_every_dead_letter_is_requeued_or_purged_after_a_confirmation(
    window: MainWindow, run: Run, verb: str
) -> None:
    ids = run(window.queue.add_tasks([
        command("exit 3", max_retries=1, retry_backoff=[0.05], name=f"dies {i}")
        for i in range(2)
    ]))
    for task_id in ids:
        run(until_row(window, task_id, lambda t: t.dead_letter))
    ask = (window.task_actions.ask_requeue_all_dead_letters if verb == "requeue"
           else window.task_actions.ask_purge_dead_letters)

    box = ask()
    assert "(2)" in box.text()
    box.button(QMessageBox.StandardButton.Cancel).click()
    assert all(window.model.task_by_id(i) is not None for i in ids)
    assert all(t.dead_letter for t in (window.model.task_by_id(i) for i in ids) if t)

    before = {i: t.retry_count for i in ids if (t := window.model.task_by_id(i)) is not None}
    box = ask()
    assert box.objectName() == f"confirm{verb.capitalize()}DeadLetters"
    box.button(QMessageBox.StandardButton.Yes).click()
    if verb == "purge":
        run(until(lambda: all(window.model.task_by_id(i) is None for i in ids),
                  window.model.batchApplied))
    else:
        for task_id in ids:  # queued again: one more try on the count
            run(until_row(window, task_id, lambda t, i=task_id: t.retry_count == before[i] + 1))


# --------------------------------------------------------------------------- schedule…


def test_schedule_from_a_selected_task_uses_it_as_the_template(
    window: MainWindow, run: Run
) -> None:
    task_id = run(window.queue.add_task(command("echo nightly", name="nightly", tags=["n"])))
    run(until_row(window, task_id, in_status(TaskStatus.COMPLETED)))
    window.select_tasks([task_id])
    assert window.form.actionScheduleTask.isEnabled()
    editor = window.task_actions.schedule_task()
    assert editor is not None and editor.form is not None
    assert editor.form.values()["command"] == "echo nightly"
    editor.when_edit.setText("1h")
    editor.accept()
    run(until(lambda: bool(window.queue.schedules.list_schedules()),
              window.bridge.schedulesChanged))
    [s] = window.queue.schedules.list_schedules()
    assert s.kind == ScheduleKind.INTERVAL and s.interval_s == 3600
    assert s.template["params"]["command"] == "echo nightly" and s.template["tags"] == ["n"]
    assert s.name == "nightly"


# --------------------------------------------------------------------------- run after


def test_new_task_after_the_selection_waits_for_it_then_runs(
    window: MainWindow, run: Run, qtbot: QtBot, tmp_path: Path
) -> None:
    from qtqueue.ui.new_task_dialog import NewTaskDialog
    from qtqueue.ui.paramform.form import TaskForm

    flag = tmp_path / "go"
    first = run(window.queue.add_task(
        command(f"while [ ! -e {flag} ]; do sleep 0.05; done", name="build")))
    run(until_row(window, first, in_status(TaskStatus.RUNNING)))
    window.select_tasks([first])
    assert window.task_actions.new_after.isEnabled()
    window.task_actions.new_after.trigger()
    dialog = window.findChild(NewTaskDialog)
    assert dialog is not None and dialog.isVisible()
    assert dialog.after_edit.text() == first
    dialog.select_type("custom_command")
    form = dialog.findChild(TaskForm, "taskForm")
    qtbot.keyClicks(form.input_widget("command"), "true")
    qtbot.keyClicks(dialog.name_edit, "deploy")
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)

    async def scenario() -> Task:
        await until(lambda: len(window.model.tasks()) == 2, window.model.batchApplied)
        later = next(t for t in window.model.tasks() if t.name == "deploy")
        waiting = await until_row(window, later.id, lambda t: t.wait_reason.startswith("waiting"))
        assert waiting.depends_on == [first] and waiting.status is TaskStatus.PENDING
        flag.touch()
        return await until_row(window, later.id, in_status(TaskStatus.COMPLETED))

    done = run(scenario())
    assert done.status is TaskStatus.COMPLETED


def test_a_wrong_run_after_keeps_the_form_open_with_everything_typed(
    window: MainWindow, run: Run, qtbot: QtBot
) -> None:
    """An unknown id, a prefix of two ids and a failed task are each refused beside the field,
    with the dialog open and what was typed still there; a unique prefix then queues the task
    after the full id."""
    from qtqueue.ui.new_task_dialog import NewTaskDialog
    from qtqueue.ui.paramform.form import TaskForm

    async def scenario() -> Task:
        await window.queue.add_task(
            command("exit 1", id="build-broken", name="broken build", max_retries=0)
        )
        await window.queue.add_task(command("true", id="build-linux", name="linux build"))
        await window.queue.add_task(command("true", id="build-mac", name="mac build"))
        for task_id, status in (("build-broken", TaskStatus.FAILED),
                                ("build-linux", TaskStatus.COMPLETED),
                                ("build-mac", TaskStatus.COMPLETED)):
            await until_row(window, task_id, in_status(status))

        window.form.actionNewTask.trigger()
        dialog = window.findChild(NewTaskDialog)
        assert dialog is not None and dialog.isVisible()
        dialog.select_type("custom_command")
        form = dialog.findChild(TaskForm, "taskForm")
        qtbot.keyClicks(form.input_widget("command"), "true")
        qtbot.keyClicks(dialog.name_edit, "deploy")
        qtbot.keyClicks(dialog.tags_edit, "release")

        for typed, code, named in (
            ("no-such-task", TaskErrorCode.QUEUE_TASK_NOT_FOUND, "no-such-task"),
            ("build", TaskErrorCode.VALIDATION_INVALID_FORMAT, "linux build"),
            ("build-broken", TaskErrorCode.QUEUE_DEPENDENCY_FAILED, "broken build"),
        ):
            dialog.after_edit.clear()
            qtbot.keyClicks(dialog.after_edit, typed)
            qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
            assert dialog.isVisible(), typed
            assert dialog.after_message.isVisible()
            assert dialog.after_message.text().startswith(code.value), dialog.after_message.text()
            assert named in dialog.after_message.text()
            assert dialog.after_edit.text() == typed
            assert form.values()["command"] == "true"
            assert (dialog.name_edit.text(), dialog.tags_edit.text()) == ("deploy", "release")
        assert len(window.model.tasks()) == 3  # nothing was queued

        dialog.after_edit.clear()
        qtbot.keyClicks(dialog.after_edit, "build-l")
        assert not dialog.after_message.isVisible()  # typing clears the complaint
        accepted = asyncio.get_running_loop().create_future()
        dialog.accepted.connect(lambda: accepted.done() or accepted.set_result(None))
        qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
        await asyncio.wait_for(accepted, 10)  # closed once the engine took the task
        await until(lambda: len(window.model.tasks()) == 4, window.model.batchApplied)
        deploy = next(t for t in window.model.tasks() if t.name == "deploy")
        return await until_row(window, deploy.id, in_status(*TERMINAL))

    done = run(scenario(), 30)
    assert done.depends_on == ["build-linux"] and done.tags == ["release"]
    assert done.status == TaskStatus.COMPLETED, (done.error_code, done.error)


def test_a_task_set_to_run_next_month_is_added_and_waits_in_the_window(
    window: MainWindow, run: Run
) -> None:
    """The window's engine runs on Qt timers, which hold milliseconds in 32 bits: a task due
    in 40 days (past ~24.8 days) raised OverflowError when it was added."""
    import time

    later = time.time() + 40 * 86_400
    task_id = run(window.queue.add_task(Task("custom_command", {"command": "true"}, run_at=later)))
    run(until_row(window, task_id, in_status(TaskStatus.PENDING)))
    assert run(window.queue.get_task(task_id)).run_at == pytest.approx(later)
