"""Task templates: saved from a task, kept in the data directory (0600), started from the New
task dialog, the Tasks menu and the tray, renamed and deleted."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import json
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QDialog, QMenu, QMessageBox

from qtqueue.api.templates import TEMPLATES_FILE, TemplateStore
from qtqueue.app import wait_for_condition
from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.core.task import Permission, Priority, Task, TaskType
from qtqueue.ui.main_window import MainWindow
from qtqueue.ui.new_task_dialog import NewTaskDialog
from qtqueue.ui.templates import ManageTemplatesDialog, SaveTemplateDialog
from qtqueue.ui.tray import TrayIcon

Run = Callable[..., Any]


def build_task() -> Task:
    return Task(
        TaskType.CUSTOM_COMMAND,
        {"command": "make site", "shell": True},
        name="build site",
        category="web",
        tags=["nightly", "site"],
        priority=Priority.HIGH,
        max_retries=2,
        permission=Permission.SUPERVISED,
    )


def _with_task(window: MainWindow, run: Run) -> str:
    async def scenario() -> str:
        await window.queue.pause_queue()  # it stays waiting
        task_id = await window.queue.add_task(build_task())
        await wait_for_condition(
            lambda: window.model.row_of(task_id) is not None,
            window.model.batchApplied,
            timeout_s=10,
        )
        return task_id

    task_id: str = run(scenario())
    window.table.clearSelection()
    window.select_tasks([task_id])
    return task_id


def _action_names(menu: QMenu) -> list[str]:
    menu.aboutToShow.emit()  # as opening it does
    return [a.objectName() for a in menu.actions()]


def test_the_store_keeps_templates_in_the_data_directory_readable_by_the_user_only(
    tmp_path: Path,
) -> None:
    store = TemplateStore(tmp_path)
    store.save("Nightly build", build_task())

    path = tmp_path / TEMPLATES_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    saved = json.loads(path.read_text())["templates"][0]
    assert saved["name"] == "Nightly build"
    assert saved["task"]["params"]["command"] == "make site"
    assert "id" not in saved["task"] and "status" not in saved["task"]
    again = TemplateStore(tmp_path).get("Nightly build").new_task()
    assert again.tags == ["nightly", "site"] and again.priority is Priority.HIGH
    assert again.id != build_task().id


def test_names_are_unique_and_renames_and_deletes_apply(tmp_path: Path) -> None:
    store = TemplateStore(tmp_path)
    store.save("a", build_task())
    store.save("b", build_task())
    with pytest.raises(QueueError) as taken:
        store.save("a", build_task())
    assert taken.value.code is TaskErrorCode.VALIDATION_INVALID_PARAMS
    with pytest.raises(QueueError) as blank:
        store.save("   ", build_task())
    assert blank.value.code is TaskErrorCode.VALIDATION_MISSING_REQUIRED

    store.rename("a", "c")
    store.delete("b")
    assert store.names() == ["c"]


def test_a_damaged_templates_file_is_a_coded_error_with_its_path(tmp_path: Path) -> None:
    (tmp_path / TEMPLATES_FILE).write_text("{oops")
    with pytest.raises(QueueError) as broken:
        TemplateStore(tmp_path).all()
    assert broken.value.code is TaskErrorCode.DATA_FILE_CORRUPTED
    assert str(tmp_path / TEMPLATES_FILE) in broken.value.message


def test_save_as_template_stores_the_selected_task_under_the_name_typed(
    window: MainWindow, run: Run
) -> None:
    templates = window.templates
    assert not templates.save_action.isEnabled()
    _with_task(window, run)
    assert templates.save_action.isEnabled()
    assert templates.save_action in window.task_actions.context_menu.actions()

    dialog = templates.ask_save()
    assert isinstance(dialog, SaveTemplateDialog)
    dialog.setTextValue("Nightly build")
    dialog.done(QDialog.DialogCode.Accepted)

    stored = TemplateStore(window.queue.data_dir).get("Nightly build")
    assert stored.task["name"] == "build site" and stored.task["category"] == "web"
    assert "Template “Nightly build” saved" in window.statusBar().currentMessage()

    again = templates.ask_save()
    assert again is not None
    again.setTextValue("Nightly build")
    again.done(QDialog.DialogCode.Accepted)  # the name is taken: it stays open, saying so
    assert again.isVisible() and "VALIDATION_INVALID_PARAMS" in again.labelText()
    again.reject()


def test_the_new_task_dialog_fills_its_form_from_a_template_and_queues_it(
    window: MainWindow, run: Run
) -> None:
    TemplateStore(window.queue.data_dir).save("Nightly build", build_task())
    window.task_actions.new_task()
    dialog = window.findChild(NewTaskDialog)
    assert dialog is not None and dialog.template_chooser is not None
    names = _action_names(dialog.template_chooser.templates_menu)
    assert "template:Nightly build" in names

    picked = next(
        a for a in dialog.template_chooser.templates_menu.actions() if a.text() == "Nightly build"
    )
    picked.trigger()

    assert dialog.name_edit.text() == "build site"
    assert dialog.category_edit.text() == "web"
    assert dialog.tags_edit.text() == "nightly, site"
    assert dialog.priority_combo.currentData() == Priority.HIGH
    assert dialog.form is not None and dialog.form.values()["command"] == "make site"
    assert "Nightly build" in dialog.windowTitle()

    async def queue_it() -> Task:
        await window.queue.pause_queue()  # it stays waiting
        dialog.accept()
        model = window.model
        await wait_for_condition(lambda: model.rowCount() == 1, model.batchApplied, timeout_s=10)
        return model.task(0)

    added = run(queue_it())
    assert added.params["command"] == "make site" and added.tags == ["nightly", "site"]
    assert added.permission is Permission.SUPERVISED and added.max_retries == 2


def test_new_from_template_in_the_tasks_menu_and_the_tray(
    window: MainWindow, tray: TrayIcon
) -> None:
    TemplateStore(window.queue.data_dir).save("Nightly build", build_task())
    menu = window.templates.menu
    assert menu.menuAction() in window.form.menuTasks.actions()
    assert menu.menuAction() in tray.menu.actions()
    assert "template:Nightly build" in _action_names(menu)

    dialog = window.templates.open_from(TemplateStore(window.queue.data_dir).get("Nightly build"))

    assert dialog is not None and dialog.isVisible() and dialog.name_edit.text() == "build site"
    assert dialog.windowTitle() == "New task from template “Nightly build”"
    dialog.reject()


def test_with_no_templates_the_menu_says_how_to_make_one(window: MainWindow) -> None:
    names = _action_names(window.templates.menu)
    assert "templatesNone" in names and "templatesManage" in names


def test_the_manage_dialog_renames_and_deletes(window: MainWindow) -> None:
    store = TemplateStore(window.queue.data_dir)
    store.save("Nightly build", build_task())
    store.save("Weekly", build_task())
    dialog = window.templates.manage()
    assert isinstance(dialog, ManageTemplatesDialog)
    assert dialog.names() == ["Nightly build", "Weekly"]

    assert dialog.rename_selected("Nightly site build")
    assert not dialog.rename_selected("Weekly")  # taken: refused, saying why
    assert "VALIDATION_INVALID_PARAMS" in dialog.message.text()
    assert dialog.delete_selected()

    assert store.names() == ["Weekly"]
    assert dialog.names() == ["Weekly"]
    assert "template:Weekly" in _action_names(window.templates.menu)
    dialog.close()


#: Templates a hand edit (or a newer qtqueue) could leave: a value no field takes, a type no
#: executor runs, a missing task type.
BAD_TEMPLATES = [
    ({"task_type": "custom_command", "params": {"command": "x"}, "priority": "asap"}, "priority"),
    ({"task_type": "no_such_type", "params": {}}, "no_such_type"),
    ({"params": {"command": "x"}}, "task_type is missing"),
    ({"task_type": "custom_command", "params": {"command": "x"}, "permission": "maybe"}, "maybe"),
]


def _write_template(data_dir: Path, task: dict[str, Any]) -> None:
    doc = {"version": 1, "templates": [{"name": "Hand edited", "task": task}]}
    (data_dir / TEMPLATES_FILE).write_text(json.dumps(doc))


def _unusable_box(window: MainWindow, words: str) -> None:
    """One visible box saying DATA_FILE_CORRUPTED, the file, the template and `words`."""
    boxes = [b for b in window.findChildren(QMessageBox, "templateUnusable") if b.isVisible()]
    assert len(boxes) == 1
    text = boxes[0].text()
    assert text.startswith("DATA_FILE_CORRUPTED: ")
    assert str(window.queue.data_dir / TEMPLATES_FILE) in text and "“Hand edited”" in text
    assert words in text and "delete that template" in text
    boxes[0].close()


@pytest.mark.parametrize(("task", "words"), BAD_TEMPLATES)
def test_a_bad_template_in_the_tasks_menu_says_what_is_wrong_and_opens_no_form(
    window: MainWindow, task: dict[str, Any], words: str
) -> None:
    _write_template(window.queue.data_dir, task)
    menu = window.templates.menu
    assert "template:Hand edited" in _action_names(menu)

    next(a for a in menu.actions() if a.objectName() == "template:Hand edited").trigger()

    _unusable_box(window, words)
    assert not [d for d in window.findChildren(NewTaskDialog) if d.isVisible()]


def test_a_bad_template_in_the_new_task_form_leaves_the_form_as_it_was(
    window: MainWindow,
) -> None:
    _write_template(window.queue.data_dir, BAD_TEMPLATES[0][0])
    window.task_actions.new_task()
    dialog = window.findChild(NewTaskDialog)
    assert dialog is not None and dialog.template_chooser is not None
    chooser_menu = dialog.template_chooser.templates_menu
    assert "template:Hand edited" in _action_names(chooser_menu)

    next(a for a in chooser_menu.actions() if a.text() == "Hand edited").trigger()

    _unusable_box(window, "priority does not take the value 'asap'")
    assert dialog.isVisible() and dialog.name_edit.text() == ""
    assert "Hand edited" not in dialog.windowTitle()
    dialog.reject()
