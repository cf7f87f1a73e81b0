"""Cancel (Ctrl+K) and Remove (Del) ask first, against a real engine: the question names the
task (or counts them), its default does nothing, "Don't ask again" is remembered in the
settings and the settings dialog turns the question back on."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QApplication, QCheckBox
from pytestqt.qtbot import QtBot

from qtqueue.core.task import TERMINAL, Task, TaskStatus, TaskType
from qtqueue.ui.app_settings import KEY_CONFIRM_CANCEL, AppSettings
from qtqueue.ui.main_window import SETTINGS_APPLICATION, SETTINGS_ORGANIZATION, MainWindow
from qtqueue.ui.settings_dialog import SettingsDialog

from .conftest import Run, button, in_status, question, until, until_row


def sleeper(name: str) -> Task:
    return Task(TaskType.CUSTOM_COMMAND, {"command": "sleep", "args": ["60"]}, name=name)


def command(line: str, name: str, **fields: Any) -> Task:
    return Task(TaskType.CUSTOM_COMMAND, {"command": line, "shell": True}, name=name, **fields)


async def press(qtbot: QtBot, window: MainWindow, key: Qt.Key, ctrl: bool = False) -> None:
    """One keystroke on the task table, as a user gives it (to the active window)."""
    window.activateWindow()
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    await until(window.isActiveWindow, app.focusWindowChanged)
    window.table.setFocus()
    modifier = Qt.KeyboardModifier.ControlModifier if ctrl else Qt.KeyboardModifier.NoModifier
    qtbot.keyClick(window.table, key, modifier)


def fresh_read() -> AppSettings:
    return AppSettings(QSettings(SETTINGS_ORGANIZATION, SETTINGS_APPLICATION))


def test_ctrl_k_asks_naming_the_task_and_its_default_cancels_nothing(
    window: MainWindow, run: Run, qtbot: QtBot
) -> None:
    async def scenario() -> None:
        keep, other = [await window.queue.add_task(sleeper(n)) for n in ("nightly build", "other")]
        for task_id in (keep, other):
            await until_row(window, task_id, in_status(TaskStatus.RUNNING))
        window.select_tasks([keep])

        await press(qtbot, window, Qt.Key.Key_K, ctrl=True)
        box = question(window, "confirmCancelTasks")
        assert box is not None
        assert box.text() == "Cancel the task “nightly build” (running)?"
        assert box.defaultButton() is button(box, "confirmKeep")
        assert button(box, "confirmKeep").text() == "Don't cancel"
        assert button(box, "confirmAct").text() == "Cancel task"
        qtbot.keyClick(box, Qt.Key.Key_Return)  # a second keystroke takes the default: keep
        assert question(window, "confirmCancelTasks") is None

        # A deterministic point: cancelling the other task through the same question is done
        # once the engine says so; a cancel of the first, had Enter sent one, came before it.
        window.select_tasks([other])
        await press(qtbot, window, Qt.Key.Key_K, ctrl=True)
        box = question(window, "confirmCancelTasks")
        assert box is not None and "“other”" in box.text()
        button(box, "confirmAct").click()
        await until_row(window, other, in_status(TaskStatus.CANCELLED))
        assert (await window.queue.get_task(keep)).status == TaskStatus.RUNNING

    run(scenario(), 30)
    assert window.app_settings.asks_before("cancel")  # not ticked: still asks


def test_dont_ask_again_is_remembered_and_settings_turn_the_question_back_on(
    window: MainWindow, run: Run, qtbot: QtBot
) -> None:
    async def scenario() -> None:
        ids = [await window.queue.add_task(sleeper(f"job {i}")) for i in range(3)]
        for task_id in ids:
            await until_row(window, task_id, in_status(TaskStatus.RUNNING))

        window.select_tasks(ids[:2])
        await press(qtbot, window, Qt.Key.Key_K, ctrl=True)
        box = question(window, "confirmCancelTasks")
        assert box is not None and box.text() == "Cancel these 2 tasks?"
        assert "“job 0” (running)" in box.informativeText()
        assert "“job 1” (running)" in box.informativeText()
        check = box.findChild(QCheckBox, "dontAskAgain")
        assert check is not None and not check.isChecked()
        check.setChecked(True)
        button(box, "confirmAct").click()
        for task_id in ids[:2]:
            await until_row(window, task_id, in_status(TaskStatus.CANCELLED))
        assert fresh_read().asks_before("cancel") is False  # kept in QSettings
        assert fresh_read().asks_before("remove") is True  # only the action it was ticked for

        window.select_tasks(ids[2:])
        await press(qtbot, window, Qt.Key.Key_K, ctrl=True)  # no question now
        assert question(window, "confirmCancelTasks") is None
        await until_row(window, ids[2], in_status(TaskStatus.CANCELLED))

        window.dialogs.settings_action.trigger()
        [dialog] = [d for d in window.findChildren(SettingsDialog) if d.isVisible()]
        assert not dialog.confirmCancel.isChecked() and dialog.confirmRemove.isChecked()
        dialog.confirmCancel.setChecked(True)
        dialog.accept()
        assert window.app_settings.qsettings.value(KEY_CONFIRM_CANCEL) in (True, "true")

        again = await window.queue.add_task(sleeper("asks again"))
        await until_row(window, again, in_status(TaskStatus.RUNNING))
        window.select_tasks([again])
        await press(qtbot, window, Qt.Key.Key_K, ctrl=True)
        box = question(window, "confirmCancelTasks")
        assert box is not None and "“asks again”" in box.text()
        button(box, "confirmKeep").click()

    run(scenario(), 40)


def test_del_asks_before_removing_and_removes_only_when_told(
    window: MainWindow, run: Run, qtbot: QtBot
) -> None:
    async def scenario() -> None:
        ids = [await window.queue.add_task(command(line, name, max_retries=0))
               for line, name in (("true", "done one"), ("exit 2", "broken one"))]
        for task_id in ids:
            await until_row(window, task_id, in_status(*TERMINAL))
        window.select_tasks(ids)

        await press(qtbot, window, Qt.Key.Key_Delete)
        box = question(window, "confirmRemoveTasks")
        assert box is not None and box.text() == "Remove these 2 tasks?"
        assert "“done one” (completed)" in box.informativeText()
        assert "“broken one” (failed)" in box.informativeText()
        assert box.defaultButton() is button(box, "confirmKeep")
        button(box, "confirmKeep").click()

        await press(qtbot, window, Qt.Key.Key_Delete)
        box = question(window, "confirmRemoveTasks")
        assert box is not None
        assert button(box, "confirmAct").text() == "Remove 2 tasks"
        button(box, "confirmAct").click()
        await until(lambda: window.model.rowCount() == 0, window.model.batchApplied)
        assert await window.queue.list_tasks() == []

    run(scenario(), 30)
    assert fresh_read().asks_before("remove")
