"""The test plug-in family (`tests/families/plugin_family`) in the window: found only through
its entry point, it is offered by the New task dialog under its own title, its generated form
queues a task that runs, and the settings dialog has its page, titled by its `Family`, whose
value is saved in the store and read by the family's tasks at run time.

It lives here for the window's fixtures (a real `MainWindow` on a real engine); the plug-in's
installation is the one `tests/families/conftest.py` makes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from families.conftest import HERE, write_dist_info
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QGroupBox
from pytestqt.qtbot import QtBot

from qtqueue.core.errors import CATALOG
from qtqueue.core.task import TERMINAL, Task, TaskStatus
from qtqueue.executors import default_registry
from qtqueue.settings import family_settings, saved_settings
from qtqueue.ui.main_window import MainWindow
from qtqueue.ui.new_task_dialog import NewTaskDialog
from qtqueue.ui.paramform.form import TaskForm
from qtqueue.ui.settings_dialog import SettingsDialog

from .conftest import Run, in_status, until, until_row


@pytest.fixture
def plugin_window(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make_window: Callable[..., MainWindow]
) -> Iterator[MainWindow]:
    """A window whose engine loaded the installed plug-ins, the test family among them."""
    site = write_dist_info(tmp_path / "site")
    monkeypatch.syspath_prepend(str(HERE))
    monkeypatch.syspath_prepend(str(site))
    yield make_window(tmp_path / "q", registry=default_registry())
    CATALOG.unregister("greetings")


def queue_greeting(window: MainWindow, qtbot: QtBot, who: str) -> None:
    """Open New task, pick the plug-in's type under its family's title, fill in its
    generated form and press OK."""
    window.form.actionNewTask.trigger()
    [dialog] = [d for d in window.findChildren(NewTaskDialog) if d.isVisible()]
    picker = dialog.findChild(QComboBox, "taskTypePicker")
    names = [picker.itemText(i).strip() for i in range(picker.count())]
    assert names[names.index("Greetings") + 1] == "Plugin greet"  # the type, in words
    assert dialog.select_type("plugin_greet")
    form = dialog.findChild(TaskForm, "taskForm")
    assert form is not None and form.field_names() == ["who", "outcome"]
    qtbot.keyClicks(form.input_widget("who"), who)
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)


def finished(window: MainWindow, run: Run, who: str) -> Task:
    """The greeting of `who` once it finished, as the window's list shows it."""

    def queued() -> list[Task]:
        return [t for t in window.model.tasks() if t.params.get("who") == who]

    async def scenario() -> Task:
        await until(lambda: bool(queued()), window.model.batchApplied)
        return await until_row(window, queued()[0].id, in_status(*TERMINAL))

    return run(scenario(), 30)


def test_the_plug_in_family_is_offered_queued_and_run_from_the_window(
    plugin_window: MainWindow, run: Run, qtbot: QtBot
) -> None:
    queue_greeting(plugin_window, qtbot, "Ada")
    done = finished(plugin_window, run, "Ada")
    assert done.status is TaskStatus.COMPLETED, done.error
    assert done.task_type == "plugin_greet" and done.name == "Ada"
    assert done.result == {"greeting": "Hello, Ada!"}


def test_its_settings_page_saves_a_value_its_tasks_read_at_run_time(
    plugin_window: MainWindow, run: Run, qtbot: QtBot
) -> None:
    window = plugin_window
    window.dialogs.settings_action.trigger()
    [dialog] = [d for d in window.findChildren(SettingsDialog) if d.isVisible()]
    page = dialog.findChild(QGroupBox, "greetingsSettingsPage")
    assert page is not None and page.title() == "Greetings"  # its Family's title
    # Its qt.py's own editor (a name picker), on its page only.
    picker = dialog.familyForms["greetings"].input_widget("greeting")
    assert isinstance(picker, QComboBox) and picker.objectName() == "namePicker"
    assert picker.currentText() == "Hello"  # the model's default
    assert dialog.engineForm.findChild(QComboBox, "namePicker") is None
    edit = picker.lineEdit()
    edit.selectAll()
    qtbot.keyClicks(edit, "Howdy")
    qtbot.mouseClick(dialog.buttons.button(dialog.buttons.StandardButton.Ok),
                     Qt.MouseButton.LeftButton)  # fmt: skip
    assert dialog.saving is not None
    run(dialog.saving)
    # In the store, where every engine on this data directory reads it.
    saved = saved_settings(window.queue.data_dir, family_settings(window.queue.registry))
    assert saved.families["greetings"].model_dump() == {"greeting": "Howdy"}

    queue_greeting(window, qtbot, "Bob")
    done = finished(window, run, "Bob")
    assert done.result == {"greeting": "Howdy, Bob!"}
