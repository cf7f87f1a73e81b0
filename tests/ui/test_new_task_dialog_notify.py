"""The new-task dialog's "Notify webhook" field: a URL typed reaches the task the engine stores
(where engine/notify.py posts its summary when it ends: tests/engine/test_notify.py), a URL the
engine would refuse is refused in the form, and duplicating a task shows its URL."""

from __future__ import annotations

import asyncio
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QLineEdit
from pytestqt.qtbot import QtBot

from qtqueue.core.task import Task, TaskType
from qtqueue.engine.queue import TaskQueue
from qtqueue.executors import default_registry
from qtqueue.ui.new_task_dialog import NewTaskDialog


def new_task_dialog(qtbot: QtBot, task: Task | None = None) -> NewTaskDialog:
    dialog = NewTaskDialog(default_registry(entry_points=False), task=task)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    return dialog


def notify_edit(dialog: NewTaskDialog) -> QLineEdit:
    edit = dialog.findChild(QLineEdit, "taskNotifyWebhook")
    assert edit is not None
    return edit


def test_the_new_task_dialog_gives_the_typed_notify_webhook_and_the_engine_keeps_it(
    qtbot: QtBot, tmp_path: Path
) -> None:
    url = "https://hooks.example.org/ended"
    dialog = new_task_dialog(qtbot)
    assert dialog.form is not None
    qtbot.keyClicks(dialog.form.input_widget("command"), "true")
    qtbot.keyClicks(notify_edit(dialog), f"  {url} ")
    with qtbot.waitSignal(dialog.accepted):
        qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    made = dialog.task()
    assert made is not None and made.notify_webhook == url

    async def stored() -> Task:
        async with TaskQueue(tmp_path / "q", registry=default_registry(entry_points=False)) as q:
            return await q.get_task(await q.add_task(made))

    assert asyncio.run(stored()).notify_webhook == url  # where its summary will be posted


def test_the_new_task_dialog_refuses_a_notify_webhook_the_engine_would_refuse(
    qtbot: QtBot,
) -> None:
    dialog = new_task_dialog(qtbot)
    assert dialog.form is not None
    qtbot.keyClicks(dialog.form.input_widget("command"), "true")
    message = dialog.findChild(QLabel, "taskNotifyWebhookMessage")
    assert message is not None
    for bad, why in (
        ("ftp://example.org/hook", "must be an http:// or https:// URL"),
        ("https://me:pw@example.org/hook", "must not hold a user name or password"),
    ):
        notify_edit(dialog).setText(bad)
        qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
        assert dialog.isVisible() and dialog.task() is None
        assert message.isVisible() and why in message.text() and "pw" not in message.text()
        assert "Notify webhook" in dialog.message.text()
    qtbot.keyClicks(notify_edit(dialog), "x")  # typing clears the complaint
    assert not message.isVisible()


def test_duplicating_a_task_in_the_new_task_dialog_shows_and_keeps_its_notify_webhook(
    qtbot: QtBot,
) -> None:
    url = "https://hooks.example.org/ended"
    original = Task(TaskType.CUSTOM_COMMAND, {"command": "true"}, notify_webhook=url)
    dialog = new_task_dialog(qtbot, task=original)
    assert notify_edit(dialog).text() == url
    with qtbot.waitSignal(dialog.accepted):
        qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    copy = dialog.task()
    assert copy is not None and copy.id != original.id and copy.notify_webhook == url
    plain = new_task_dialog(qtbot)
    assert notify_edit(plain).text() == "" and plain.notify_webhook() is None
