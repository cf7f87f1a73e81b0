"""Work orders in the window. The New task dialog's form, generated from the params model: its
kinds of work a choice, its lists row editors, its description several lines, its repository a
folder picker that takes a URL too; the dialog's own Priority, Approval, Timeout and Retries are
the work order's priority, permission level, timeout and retries. The detail pane's family
widget (its qt.py): the worktree and the files a finished work order changed."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before anything imports Qt
pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

import sys
from pathlib import Path

from helpers.git_repos import make_bare_repo
from helpers.queues import QueueFactory
from helpers.work_orders import work_order_registry
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QTreeWidget
from pytestqt.qtbot import QtBot

from qtqueue.core.param_schema import FieldKind
from qtqueue.core.task import Permission, Task, TaskStatus
from qtqueue.core.task import Priority as TaskPriority
from qtqueue.ui.detail_pane import DetailPane
from qtqueue.ui.new_task_dialog import NewTaskDialog
from qtqueue.work_orders import PermissionLevel, Priority, TaskType, work_order_message

FILLED = {
    "title": "Fix the crash on start",
    "task_type": "bugfix",
    "description": "It crashes when the config is empty.\nMake it start with defaults.",
    "repository_url": "https://example.invalid/app.git",
    "branch_name": "main",
    "requirements": ["a test that starts with an empty config"],
    "files": ["app/config.py", "tests/test_config.py"],
    "issue_number": 12,
}


def test_the_work_order_form_shows_each_param_with_a_fitting_editor(qtbot: QtBot) -> None:
    dialog = NewTaskDialog(work_order_registry())
    qtbot.addWidget(dialog)
    assert dialog.select_type("work_order")
    form = dialog.form
    assert form is not None
    kinds = {name: form.spec(name).kind for name in form.field_names()}
    assert kinds["description"] is FieldKind.MULTILINE
    assert kinds["task_type"] is FieldKind.CHOICE
    assert form.spec("task_type").choices == [t.value for t in TaskType]
    assert kinds["repository_url"] is FieldKind.FOLDER
    assert {kinds[n] for n in ("requirements", "files", "agent_command")} == {FieldKind.LIST}
    assert form.spec("issue_number").label == "Issue"
    # The four the work order cannot do without are asked for.
    assert set(form.validate()) == {"title", "description", "repository_url", "branch_name"}


def test_the_dialog_makes_the_work_order_the_user_described(qtbot: QtBot) -> None:
    dialog = NewTaskDialog(work_order_registry())
    qtbot.addWidget(dialog)
    dialog.select_type("work_order")
    assert dialog.form is not None
    dialog.form.set_values(FILLED)
    dialog.priority_combo.setCurrentIndex(dialog.priority_combo.findData(TaskPriority.URGENT))
    dialog.permission_combo.setCurrentIndex(
        dialog.permission_combo.findData(Permission.HUMAN_REQUIRED)
    )
    dialog.timeout_spin.setValue(1800)
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)

    task = dialog.task()
    assert task is not None
    assert task.name == "Fix the crash on start"  # the title names it
    message = work_order_message(task)
    assert (message.priority, message.permission_level, message.timeout_seconds) == (
        Priority.CRITICAL,
        PermissionLevel.HUMAN_REQUIRED,
        1800,
    )
    assert message.task_type is TaskType.BUGFIX
    assert (message.files, message.requirements, message.issue_number) == (
        FILLED["files"],
        FILLED["requirements"],
        12,
    )
    assert message.description == FILLED["description"]


async def test_the_detail_pane_shows_the_worktree_and_the_files_a_work_order_changed(
    qtbot: QtBot, make_queue: QueueFactory, tmp_path: Path
) -> None:
    origin = make_bare_repo(tmp_path / "repos", {"README.md": "hello\n"})
    agent = tmp_path / "agent.py"
    agent.write_text("import pathlib\npathlib.Path('README.md').write_text('changed')\n")
    registry = work_order_registry()
    queue = await make_queue(registry=registry)
    queue.executor_settings["work_order_agent_command"] = [sys.executable, str(agent)]
    params = {**FILLED, "repository_url": str(origin)}
    done = await queue.wait_for(await queue.add_task(Task("work_order", params)), timeout_s=60)
    assert done.status is TaskStatus.COMPLETED, done.error
    pane = DetailPane(families=registry.families())
    qtbot.addWidget(pane)

    pane.show_task(done)
    box = pane.family_widget("workOrderBox")
    assert box is not None and not box.isHidden()
    worktree = box.findChild(QLabel, "workOrderWorktree")
    assert worktree.text() == str(queue.data_dir / "work_orders" / done.id / "worktree")
    files = box.findChild(QTreeWidget, "workOrderFiles")
    shown = [files.topLevelItem(i).text(0) for i in range(files.topLevelItemCount())]
    assert shown == ["README.md"]

    other = await queue.wait_for(
        await queue.add_task(Task("custom_command", {"command": "true"})), timeout_s=60
    )
    pane.show_task(other)
    assert box.isHidden()
