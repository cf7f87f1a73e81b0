"""The schedule manager against a real engine and real time: schedules listed live, added
from the task form with an interval or a cron expression, paused, run now, deleted; bad input
shown inline with nothing created."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot

from qtqueue.core.errors import TaskErrorCode
from qtqueue.engine.schedules import ScheduleKind, schedule_tag
from qtqueue.ui.main_window import MainWindow
from qtqueue.ui.schedule_dialog import ScheduleDialog, ScheduleEditor

from .conftest import Run, until
from .test_main_window import _comparable, _generate

ROOT = Path(__file__).resolve().parents[2]


def test_the_generated_form_matches_its_designer_source() -> None:
    expected = _generate("pyside6-uic", ["schedule_dialog.ui"], ROOT / "ui")
    committed = (ROOT / "qtqueue/ui/forms/schedule_dialog_ui.py").read_text(encoding="utf-8")
    assert _comparable(committed) == _comparable(expected), "regenerate schedule_dialog_ui.py"


def open_dialog(window: MainWindow) -> ScheduleDialog:
    assert window.form.actionSchedules in window.form.menuQueue.actions()
    window.form.actionSchedules.trigger()
    dialog = window.dialogs.schedule_dialog
    assert dialog is not None and dialog.objectName() == "scheduleDialog" and dialog.isVisible()
    return dialog


def fill(editor: ScheduleEditor, command: str, when: str, *, cron: bool = False) -> None:
    assert editor.select_type("custom_command") and editor.form is not None
    editor.form.set_values({"command": command, "shell": True})
    editor.kind_combo.setCurrentIndex(1 if cron else 0)
    editor.when_edit.setText(when)


def occurrences(window: MainWindow, schedule_id: str) -> int:
    tag = schedule_tag(schedule_id)
    return sum(1 for t in window.model.tasks() if tag in t.tags)


def test_an_interval_schedule_adds_rows_until_paused_and_delete_removes_it(
    window: MainWindow, run: Run
) -> None:
    dialog = open_dialog(window)
    assert dialog.model.rowCount() == 0
    editor = dialog.add_schedule()
    fill(editor, "echo tick", "0.3s")
    editor.schedule_name.setText("ticker")
    editor.accept()
    run(until(lambda: dialog.model.rowCount() == 1, window.bridge.schedulesChanged))
    [s] = window.queue.schedules.list_schedules()
    assert (s.name, s.kind, s.interval_s) == ("ticker", ScheduleKind.INTERVAL, 0.3)
    assert dialog.model.index(0, 1).data() == "every 0.3s"

    # Occurrences become ordinary rows of the main table, and the list follows live.
    run(until(lambda: occurrences(window, s.id) >= 2, window.model.batchApplied))
    run(until(lambda: int(dialog.model.index(0, 5).data()) >= 2,
              window.bridge.schedulesChanged))
    assert dialog.model.index(0, 3).data()  # last run

    dialog.select(s.id)
    assert dialog.form.pauseScheduleButton.text() == "&Pause"
    dialog.form.pauseScheduleButton.click()
    run(until(lambda: dialog.model.index(0, 6).data() == "Paused",
              window.bridge.schedulesChanged))
    assert dialog.form.pauseScheduleButton.text() == "Res&ume"
    # Paused, once the engine has settled: no timer is armed, so nothing can add an occurrence
    # (the exact count + 1 after "run now" below would show one that came all the same).
    run(window.queue.settled())
    assert window.queue.schedules.armed_at is None
    count = window.queue.schedules.get_schedule(s.id).occurrences

    dialog.form.runScheduleNowButton.click()  # paused, yet "run now" adds one
    run(until(lambda: window.queue.schedules.get_schedule(s.id).occurrences == count + 1,
              window.bridge.schedulesChanged))

    dialog.form.deleteScheduleButton.click()
    box = dialog.findChild(QMessageBox, "confirmDeleteSchedule")
    assert box is not None
    box.button(QMessageBox.StandardButton.Yes).click()
    run(until(lambda: dialog.model.rowCount() == 0, window.bridge.schedulesChanged))
    assert window.queue.schedules.list_schedules() == []
    # What it added stays, as ordinary tasks.
    run(until(lambda: occurrences(window, s.id) == count + 1, window.model.batchApplied))


def test_the_add_button_opens_the_editor_and_saves_a_schedule(
    window: MainWindow, run: Run, qtbot: QtBot
) -> None:
    """Queue › Schedules… then a real click on Add…: the editor opens (the button's
    clicked(bool) once landed in a `task` parameter: AttributeError, nothing opened) and
    what is typed there is saved as a schedule."""
    dialog = open_dialog(window)
    qtbot.mouseClick(dialog.form.addScheduleButton, Qt.MouseButton.LeftButton)
    editor = dialog.editor
    assert editor is not None and editor.isVisible()
    assert editor.windowTitle() == "New schedule"
    fill(editor, "echo hourly", "1h")
    editor.schedule_name.setText("hourly")
    qtbot.mouseClick(editor.ok_button, Qt.MouseButton.LeftButton)
    run(until(lambda: dialog.model.rowCount() == 1, window.bridge.schedulesChanged))
    [s] = window.queue.schedules.list_schedules()
    assert (s.name, s.interval_s) == ("hourly", 3600)
    assert s.template["params"]["command"] == "echo hourly"
    assert dialog.model.index(0, 0).data() == "hourly"


def test_a_bad_cron_expression_is_shown_inline_and_nothing_is_created(
    window: MainWindow, run: Run
) -> None:
    dialog = open_dialog(window)
    editor = dialog.add_schedule()
    fill(editor, "echo never", "61 25 * * *", cron=True)
    assert editor.timezone_edit.isEnabled()
    editor.accept()
    run(until(lambda: bool(editor.message.text()), editor.saveFailed, timeout_s=5))
    assert TaskErrorCode.VALIDATION_INVALID_FORMAT.value in editor.message.text()
    assert "61 25 * * *" in editor.message.text()
    assert editor.isVisible() and editor.ok_button.isEnabled()
    assert window.queue.schedules.list_schedules() == [] and dialog.model.rowCount() == 0

    editor.kind_combo.setCurrentIndex(0)
    editor.when_edit.setText("0.01s")  # shorter than the engine allows
    editor.accept()
    run(until(lambda: "out of range" in editor.message.text(), editor.saveFailed, timeout_s=5))
    assert window.queue.schedules.list_schedules() == []


def test_a_cron_schedule_is_listed_edited_and_keeps_its_next_run_when_only_renamed(
    window: MainWindow, run: Run
) -> None:
    dialog = open_dialog(window)
    s = run(window.queue.schedules.add_schedule(
        {"task_type": "custom_command", "params": {"command": "backup"}},
        cron="0 3 * * *", name="backup",
    ))
    run(until(lambda: dialog.model.rowCount() == 1, window.bridge.schedulesChanged))
    assert dialog.model.index(0, 1).data() == "cron 0 3 * * *"
    dialog.select(s.id)
    editor = dialog.edit_schedule()
    assert editor is not None and editor.when_edit.text() == "0 3 * * *"
    assert editor.form is not None and editor.form.values()["command"] == "backup"
    editor.schedule_name.setText("nightly backup")
    editor.accept()
    run(until(lambda: dialog.model.index(0, 0).data() == "nightly backup",
              window.bridge.schedulesChanged))
    assert window.queue.schedules.get_schedule(s.id).next_run_at == s.next_run_at


@pytest.mark.filterwarnings("ignore")
def test_the_schedule_model_passes_the_item_model_tester(
    window: MainWindow, run: Run, qtmodeltester: ModelTester
) -> None:
    dialog = open_dialog(window)
    for i in range(3):
        run(window.queue.schedules.add_schedule(
            {"task_type": "custom_command", "params": {"command": f"echo {i}"}}, every="1h"
        ))
    run(until(lambda: dialog.model.rowCount() == 3, window.bridge.schedulesChanged))
    qtmodeltester.check(dialog.model, force_py=True)
    assert {dialog.model.index(r, 6).data() for r in range(3)} == {"Active"}
