"""The main window against a real engine: live rows, actions on the selection, the detail
pane, filters, remembered columns, and the generated forms' freshness."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMessageBox, QTableView
from pytestqt.qtbot import QtBot

from qtqueue.api.client import ApiClient
from qtqueue.core.errors import error_info
from qtqueue.core.task import ACTIVE, TERMINAL, Task, TaskStatus, TaskType
from qtqueue.ui.main_window import MainWindow
from qtqueue.ui.task_list.columns import MASK, Column

from .conftest import Run, button, in_status, question, until, until_row

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def command(line: str, **kw: object) -> Task:
    return Task(TaskType.CUSTOM_COMMAND, {"command": line, "shell": True}, **kw)  # type: ignore[arg-type]


def sleeper(**kw: object) -> Task:
    return Task(TaskType.CUSTOM_COMMAND, {"command": "sleep", "args": ["60"]}, **kw)  # type: ignore[arg-type]


def select(window: MainWindow, *task_ids: str) -> None:
    window.select_tasks(task_ids)
    assert {t.id for t in window.selected_tasks()} == set(task_ids)


def answer(window: MainWindow, box_name: str, button_name: str) -> None:
    """Click a button of the question `box_name` that is open over the window."""
    box = question(window, box_name)
    assert box is not None, box_name
    button(box, button_name).click()


def enabled(window: MainWindow) -> set[str]:
    f = window.form
    return {
        a.objectName()
        for a in (f.actionPause, f.actionResume, f.actionRetry, f.actionCancel, f.actionRemove)
        if a.isEnabled()
    }


# --------------------------------------------------------------------------- generated forms


def _generate(tool: str, args: list[str], cwd: Path) -> str:
    done = subprocess.run(
        [str(BIN / tool), *args], cwd=cwd, capture_output=True, text=True, check=True, timeout=60
    )
    return "# ruff: noqa\n# mypy: ignore-errors\n" + done.stdout


def _comparable(text: str) -> list[str]:
    """Generated text without the lines naming the generator's version."""
    return [line for line in text.splitlines() if "Created by:" not in line]


@pytest.mark.parametrize(
    ("module", "tool", "args", "cwd"),
    [
        ("main_window_ui.py", "pyside6-uic", ["main_window.ui"], "ui"),
        ("detail_pane_ui.py", "pyside6-uic", ["detail_pane.ui"], "ui"),
        (
            "icons_rc.py",
            "pyside6-rcc",
            ["-g", "python", "--format-version", "1", "--no-compress", "icons.qrc"],
            "resources",
        ),
    ],
)
def test_generated_modules_match_their_sources(
    module: str, tool: str, args: list[str], cwd: str
) -> None:
    """A stale form or icon module fails here: regenerate it (see qtqueue/ui/forms)."""
    expected = _generate(tool, args, ROOT / cwd)
    committed = (ROOT / "qtqueue" / "ui" / "forms" / module).read_text(encoding="utf-8")
    assert _comparable(committed) == _comparable(expected), f"regenerate {module}"


def test_every_icon_in_resources_is_compiled_in() -> None:
    qrc = (ROOT / "resources" / "icons.qrc").read_text(encoding="utf-8")
    for svg in (ROOT / "resources" / "icons").glob("*.svg"):
        assert f"icons/{svg.name}<" in qrc, svg.name


# --------------------------------------------------------------------------- the live table


def test_the_window_has_its_named_parts(window: MainWindow) -> None:
    for name in (
        "taskTable", "actionNewTask", "actionPause", "actionResume", "actionRetry",
        "actionCancel", "actionRemove", "actionPauseQueue", "detailPane", "logView",
        "statsView", "filterStatus", "searchBox",
    ):
        assert window.findChild(object, name) is not None, name  # type: ignore[call-overload]
    table = window.findChild(QTableView, "taskTable")
    assert table is not None and table.isSortingEnabled()
    assert table.selectionMode() == QTableView.SelectionMode.ExtendedSelection
    assert table.selectionBehavior() == QTableView.SelectionBehavior.SelectRows
    for action in (window.form.actionNewTask, window.form.actionRetry, window.form.actionRemove):
        assert not action.shortcut().isEmpty()
        assert not action.icon().isNull()
        assert action in window.task_actions.context_menu.actions()
        assert action in window.form.mainToolBar.actions()


def test_a_command_added_to_the_engine_shows_up_and_completes_at_100(
    window: MainWindow, run: Run
) -> None:
    async def scenario() -> Task:
        task_id = await window.queue.add_task(command("echo step one; echo 50%; echo done"))
        await window.queue.wait_for(task_id, 20)
        return await until_row(window, task_id, in_status(TaskStatus.COMPLETED))

    done = run(scenario())
    row = window.model.row_of(done.id)
    assert row is not None
    assert window.model.index(row, Column.PROGRESS).data() == "100 %"
    assert window.model.index(row, Column.STATUS).data() == "Completed"
    assert window.proxy.rowCount() == 1
    assert "0 running" in window.counts_label.text()


def test_the_cli_reaches_the_windows_engine(window: MainWindow, run: Run, data_dir: Path) -> None:
    """The window serves the local API, so `qtqueue add` lands in this engine and this table."""

    async def scenario() -> None:
        async with ApiClient(data_dir) as client:
            reply = await client.call(
                "add_task",
                {"task_type": "custom_command", "params": {"command": "true"}, "name": "from cli"},
            )
        await until_row(window, reply["id"], in_status(TaskStatus.COMPLETED))

    run(scenario())
    assert [t.name for t in window.model.tasks()] == ["from cli"]


def test_pause_applies_to_a_running_task_and_pauses_it_in_the_engine(
    window: MainWindow, run: Run
) -> None:
    f = window.form

    async def scenario() -> None:
        task_id = await window.queue.add_task(sleeper())
        await until_row(window, task_id, in_status(TaskStatus.RUNNING))
        select(window, task_id)
        assert enabled(window) == {"actionPause", "actionCancel"}
        f.actionPause.trigger()
        await until_row(window, task_id, in_status(TaskStatus.PAUSED))
        assert (await window.queue.get_task(task_id)).status == TaskStatus.PAUSED
        await until(f.actionResume.isEnabled, window.actionsUpdated)
        assert enabled(window) == {"actionResume", "actionCancel"}
        window.task_actions.toggle_pause.trigger()  # Space on the table: resume
        await until_row(window, task_id, in_status(TaskStatus.RUNNING))
        assert (await window.queue.get_task(task_id)).status == TaskStatus.RUNNING

    run(scenario())


def test_retry_is_disabled_for_running_and_enabled_for_failed_tasks(
    window: MainWindow, run: Run
) -> None:
    f = window.form

    async def scenario() -> None:
        failed = await window.queue.add_task(command("exit 3", max_retries=0))
        running = await window.queue.add_task(sleeper())
        await until_row(window, failed, in_status(TaskStatus.FAILED))
        await until_row(window, running, in_status(TaskStatus.RUNNING))
        select(window, running)
        assert not f.actionRetry.isEnabled()
        select(window, failed)
        assert f.actionRetry.isEnabled() and f.actionRemove.isEnabled()
        assert not f.actionPause.isEnabled() and not f.actionCancel.isEnabled()
        select(window, failed, running)  # must apply to every selected row
        assert enabled(window) == set()
        select(window, failed)
        f.actionRetry.trigger()
        await until_row(window, failed, lambda t: t.retry_count == 1 and t.status in TERMINAL)

    run(scenario())


def test_cancel_acts_on_every_selected_row(window: MainWindow, run: Run) -> None:
    async def scenario() -> list[str]:
        await window.queue.pause_queue()
        waiting = await window.queue.add_task(sleeper(name="waits"))
        await window.queue.resume_queue()
        ids = [await window.queue.add_task(sleeper(name=f"runs {i}")) for i in range(2)]
        for i in ids:
            await until_row(window, i, in_status(*ACTIVE))
        everything = [waiting, *ids]
        select(window, *everything)
        assert window.form.actionCancel.isEnabled()
        window.form.actionCancel.trigger()
        answer(window, "confirmCancelTasks", "confirmAct")
        for i in everything:
            await until_row(window, i, in_status(TaskStatus.CANCELLED))
        return everything

    for task_id in run(scenario(), 30):
        assert window.model.task_by_id(task_id).status == TaskStatus.CANCELLED  # type: ignore[union-attr]
    assert window.form.actionRemove.isEnabled() and not window.form.actionCancel.isEnabled()


def test_remove_deletes_finished_rows(window: MainWindow, run: Run) -> None:
    async def scenario() -> None:
        ids = await window.queue.add_tasks(
            [command("true"), command("exit 1", max_retries=0), command("true")]
        )
        for i in ids:
            await until_row(window, i, in_status(*TERMINAL))
        select(window, ids[0], ids[1])
        window.form.actionRemove.trigger()
        answer(window, "confirmRemoveTasks", "confirmAct")
        await until(lambda: window.model.rowCount() == 1, window.model.batchApplied)
        assert [t.id for t in await window.queue.list_tasks()] == [ids[2]]

    run(scenario())
    assert not window.selected_tasks() and not window.form.actionRemove.isEnabled()
    assert window.detail.task is None


def test_pause_queue_toggles_the_engines_queue(window: MainWindow, run: Run) -> None:
    action = window.form.actionPauseQueue
    assert action.isCheckable() and not action.isChecked()

    async def scenario() -> None:
        action.trigger()
        await until(lambda: window.queue.queue_paused, window.bridge.queueStateChanged)
        assert window.queue_state_label.text() == "Queue paused"
        task_id = await window.queue.add_task(command("true"))
        assert (await window.queue.get_task(task_id)).status == TaskStatus.PENDING
        action.trigger()
        await until(lambda: not window.queue.queue_paused, window.bridge.queueStateChanged)
        await until_row(window, task_id, in_status(TaskStatus.COMPLETED))
        await window.queue.pause_queue()  # from elsewhere (the CLI): the action follows
        await until(action.isChecked, window.bridge.queueStateChanged)

    run(scenario())


# --------------------------------------------------------------------------- the detail pane


def test_the_detail_pane_explains_a_failure(window: MainWindow, run: Run) -> None:
    async def scenario() -> Task:
        task_id = await window.queue.add_task(command("exit 127", max_retries=0))
        return await until_row(window, task_id, in_status(TaskStatus.FAILED))

    failed = run(scenario())
    select(window, failed.id)
    form = window.detail.form
    info = error_info("SYSTEM_COMMAND_NOT_FOUND")
    assert failed.error_code == "SYSTEM_COMMAND_NOT_FOUND"
    assert form.errorBox.isVisible()
    assert form.errorCode.text() == "SYSTEM_COMMAND_NOT_FOUND"
    assert form.errorDescription.text() == info.description
    assert form.errorSuggestion.text() == info.suggestion
    assert form.statusValue.text() == "Failed"
    assert "can be retried" in form.retriesValue.text()


def test_the_log_view_follows_a_running_command(
    window: MainWindow, run: Run, tmp_path: Path
) -> None:
    fifo = tmp_path / "go"
    os.mkfifo(fifo)
    log_view = window.detail.form.logView
    assert log_view.objectName() == "logView" and log_view.isReadOnly()

    async def scenario() -> None:
        task_id = await window.queue.add_task(command(f"echo first-line; cat {fifo}; echo done"))
        await until_row(window, task_id, in_status(TaskStatus.RUNNING))
        select(window, task_id)
        await until(lambda: "first-line" in log_view.toPlainText(), log_view.textChanged)
        assert "second-line" not in log_view.toPlainText()
        writer = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)  # cat is reading: it is open
        os.write(writer, b"second-line\n")
        os.close(writer)
        await until(lambda: "second-line" in log_view.toPlainText(), log_view.textChanged)
        await until_row(window, task_id, in_status(TaskStatus.COMPLETED))
        await until(lambda: "done" in log_view.toPlainText(), log_view.textChanged)

    run(scenario())
    lines = log_view.toPlainText().splitlines()
    assert lines.index("first-line") < lines.index("second-line") < lines.index("done")


def test_the_detail_pane_masks_secrets_and_shows_timings(window: MainWindow, run: Run) -> None:
    task = Task(
        TaskType.CUSTOM_COMMAND,
        {"command": "true", "env": {"API_TOKEN": "hunter2", "REGION": "eu"}},
        name="with secrets",
        tags=["a", "b"],
        max_retries=2,
    )

    async def scenario() -> Task:
        task_id = await window.queue.add_task(task)
        return await until_row(window, task_id, in_status(TaskStatus.COMPLETED))

    done = run(scenario())
    select(window, done.id)
    form = window.detail.form
    shown = []
    for i in range(form.paramsView.topLevelItemCount()):
        item = form.paramsView.topLevelItem(i)
        shown.append((item.text(0), item.text(1)))
        shown += [(item.child(j).text(0), item.child(j).text(1)) for j in range(item.childCount())]
    assert ("API_TOKEN", MASK) in shown and ("REGION", "eu") in shown
    assert "hunter2" not in repr(shown)
    assert form.titleLabel.text() == "with secrets"
    assert form.tagsValue.text() == "a, b"
    assert form.startedValue.text() and form.finishedValue.text() != "—"
    assert form.retriesValue.text().startswith("0 of 2")
    assert not form.errorBox.isVisible()
    window.table.clearSelection()
    assert form.pages.currentWidget() is form.emptyPage


# --------------------------------------------------------------------------- filters, stats


def test_status_filter_and_search_box_filter_the_table(
    window: MainWindow, run: Run, qtbot: QtBot
) -> None:
    async def scenario() -> None:
        ids = await window.queue.add_tasks(
            [command("true", name="alpha build"),
             command("exit 1", name="beta deploy", max_retries=0),
             command("true", name="gamma build", category="ci", tags=["nightly"])]
        )
        for i in ids:
            await until_row(window, i, in_status(*TERMINAL))

    run(scenario())
    f = window.form
    f.filterStatus.setCurrentIndex(f.filterStatus.findText("Failed or timed out"))
    assert [window.proxy.index(r, 0).data() for r in range(window.proxy.rowCount())] == [
        "beta deploy"
    ]
    assert f.shownLabel.text() == "1 of 3 tasks"
    f.filterStatus.setCurrentIndex(0)
    qtbot.keyClicks(f.searchBox, "BUILD")
    f.searchBox.returnPressed.emit()
    assert sorted(window.proxy.index(r, 0).data() for r in range(window.proxy.rowCount())) == [
        "alpha build", "gamma build"
    ]
    f.filterTag.setCurrentIndex(f.filterTag.findText("nightly"))
    assert window.proxy.rowCount() == 1
    f.searchBox.clear()
    f.searchBox.returnPressed.emit()
    f.filterTag.setCurrentIndex(0)
    f.filterCategory.setCurrentIndex(f.filterCategory.findText("general"))
    assert window.proxy.rowCount() == 2


def test_the_stats_view_and_status_bar_show_the_queues_figures(
    window: MainWindow, run: Run
) -> None:
    async def scenario() -> None:
        failing = command("exit 1", max_retries=0)
        ids = await window.queue.add_tasks([command("true"), command("true"), failing])
        for i in ids:
            await until_row(window, i, in_status(*TERMINAL))
        # A read started while the tasks ran may land after they ended, and outcomes are
        # counted from the status history, written up to 50 ms after the change (later on a
        # busy machine): read again until the figures have all three.
        f = window.form

        def settled() -> bool:
            figures = (f.statTotal.text(), f.statCompleted.text(), f.statFailed.text())
            if figures != ("3", "2", "1"):
                window.stats_refresh.request()
                return False
            return True

        await until(settled, window.statsUpdated)

    window._stats_timer.setInterval(0)
    run(scenario())
    f = window.form
    assert f.statsView.objectName() == "statsView"
    assert f.statCompleted.text() == "2" and f.statFailed.text() == "1"
    assert f.statSuccessRate.text() == "66.7 %"
    assert window.counts_label.text() == "0 running · 0 pending · 1 failed"


# --------------------------------------------------------------------------- new task


def test_new_task_without_the_dialog_module_says_so(
    window: MainWindow, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "qtqueue.ui.new_task_dialog", None)  # import fails
    window.form.actionNewTask.trigger()
    box = window.findChild(QMessageBox, "newTaskUnavailable")
    assert box is not None and box.isVisible()
    assert "qtqueue add" in box.informativeText()
    box.close()


def test_a_task_from_the_new_task_dialog_is_queued_and_selected(
    window: MainWindow, run: Run, qtbot: QtBot
) -> None:
    from qtqueue.ui.new_task_dialog import NewTaskDialog
    from qtqueue.ui.paramform.form import TaskForm

    window.form.actionNewTask.trigger()
    dialog = window.findChild(NewTaskDialog)
    assert dialog is not None and dialog.isVisible()
    assert dialog.select_type("custom_command")
    form = dialog.findChild(TaskForm, "taskForm")
    assert form is not None
    qtbot.keyClicks(form.input_widget("command"), "true")
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)

    async def scenario() -> Task:
        await until(lambda: bool(window.model.tasks()), window.model.batchApplied)
        task_id = window.model.tasks()[0].id
        return await until_row(window, task_id, in_status(TaskStatus.COMPLETED))

    done = run(scenario())
    assert [t.id for t in window.selected_tasks()] == [done.id]
    assert window.detail.task is not None and window.detail.task.id == done.id


def test_an_engine_refusal_is_shown_in_the_new_task_form_and_nothing_typed_is_lost(
    window: MainWindow, run: Run, qtbot: QtBot
) -> None:
    """The form checks what it can; what only the engine knows (here: more CPU cores than
    the machine has) comes back into the open form, which then queues the corrected task."""
    from qtqueue.ui.new_task_dialog import NewTaskDialog
    from qtqueue.ui.paramform.form import TaskForm

    async def scenario() -> Task:
        window.form.actionNewTask.trigger()
        dialog = window.findChild(NewTaskDialog)
        assert dialog is not None and dialog.select_type("custom_command")
        form = dialog.findChild(TaskForm, "taskForm")
        qtbot.keyClicks(form.input_widget("command"), "true")
        qtbot.keyClicks(dialog.name_edit, "needs a big machine")
        dialog.needs["cpu_cores"].setValue(1000)
        qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
        assert dialog.isVisible()  # open until the engine answers
        refused = asyncio.get_running_loop().create_future()  # it answers once this awaits
        dialog.saveFailed.connect(lambda text: refused.done() or refused.set_result(text))
        text = await asyncio.wait_for(refused, 10)
        assert text.startswith("SYSTEM_CPU_LIMIT: the task needs 1000 CPU cores"), text
        assert dialog.isVisible() and dialog.message.text() == text
        assert dialog.name_edit.text() == "needs a big machine"
        assert form.values()["command"] == "true"
        assert window.model.tasks() == [] and await window.queue.list_tasks() == []

        dialog.needs["cpu_cores"].setValue(1)
        accepted = asyncio.get_running_loop().create_future()
        dialog.accepted.connect(lambda: accepted.done() or accepted.set_result(None))
        qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
        await asyncio.wait_for(accepted, 10)
        await until(lambda: bool(window.model.tasks()), window.model.batchApplied)
        [task] = window.model.tasks()
        return await until_row(window, task.id, in_status(TaskStatus.COMPLETED))

    done = run(scenario(), 30)
    assert done.name == "needs a big machine" and done.resources == {"cpu_cores": 1}
    assert [t.id for t in window.selected_tasks()] == [done.id]


def test_duplicate_opens_the_form_filled_from_the_selected_task(
    window: MainWindow, run: Run
) -> None:
    from qtqueue.ui.new_task_dialog import NewTaskDialog

    async def scenario() -> Task:
        task_id = await window.queue.add_task(command("true", name="original", tags=["x"]))
        return await until_row(window, task_id, in_status(TaskStatus.COMPLETED))

    original = run(scenario())
    assert not window.task_actions.duplicate.isEnabled()
    select(window, original.id)
    assert window.task_actions.duplicate.isEnabled()
    window.task_actions.duplicate.trigger()
    dialog = window.findChild(NewTaskDialog)
    assert dialog is not None and dialog.isVisible()
    assert dialog.template is not None and dialog.template.name == "original"
    dialog.reject()


# --------------------------------------------------------------------------- settings, closing


def test_column_order_visibility_and_sort_are_remembered(
    make_window: Callable[..., MainWindow], run: Run, data_dir: Path, settings_dir: Path
) -> None:
    first = make_window(data_dir)
    header = first.table.horizontalHeader()
    header.moveSection(header.visualIndex(Column.STATUS), 1)
    first._column_actions[Column.TAGS].setChecked(False)
    first._column_actions[Column.ID].setChecked(True)
    first.table.sortByColumn(Column.DURATION, Qt.SortOrder.AscendingOrder)
    run(first.shutdown())
    first.close()
    assert any(settings_dir.rglob("*.conf")) or any(settings_dir.rglob("*.ini"))

    second = make_window(data_dir)
    header = second.table.horizontalHeader()
    assert header.visualIndex(Column.STATUS) == 1
    assert header.isSectionHidden(Column.TAGS) and not header.isSectionHidden(Column.ID)
    assert not second._column_actions[Column.TAGS].isChecked()
    assert header.sortIndicatorSection() == Column.DURATION
    assert second.model.sort_column == Column.DURATION


def test_closing_the_window_shuts_the_engine_and_the_api_down(
    window: MainWindow, run: Run, data_dir: Path
) -> None:
    w = window
    assert (data_dir / "engine.json").exists()
    closed: list[bool] = []
    w.closed.connect(lambda: closed.append(True))

    async def scenario() -> None:
        w.close()
        await until(lambda: bool(closed), w.closed, timeout_s=15)

    run(scenario())
    assert w.is_shut_down and not w.isVisible()
    assert not w.queue.started
    assert not (data_dir / "engine.json").exists()


def test_settings_stay_out_of_the_users_home(settings_dir: Path) -> None:
    path = QSettings("qtqueue", "qtqueue").fileName()
    assert path.startswith(str(settings_dir)), path



@pytest.mark.usefixtures("secret_service")
def test_the_credentials_action_opens_the_manager_on_the_real_keyring(
    window: MainWindow, qtbot: QtBot
) -> None:
    from PySide6.QtWidgets import QListWidget

    from qtqueue.engine.credentials import KeyringVault
    from qtqueue.ui.credentials_dialog import CredentialsDialog

    KeyringVault().set("registry-login", "s3cr3t-value")
    window.findChild(QAction, "actionCredentials").trigger()
    dialog = window.findChild(CredentialsDialog, "credentialsDialog")
    assert dialog is not None and dialog.isVisible()
    names = dialog.findChild(QListWidget, "credentialList")
    qtbot.waitUntil(lambda: names.count() == 1)
    assert names.item(0).text() == "registry-login"
    # The new task form offers the same names to pick from.
    assert window.dialogs.credentials().names() == ["registry-login"]
    dialog.close()
