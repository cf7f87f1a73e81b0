"""The window's generated form for every registered type and every family's settings, the test
plug-in's among them, from nothing but its params and settings models. (The plug-in in a real
window, its New task entry and its settings page: tests/ui/test_plugin_family_window.py.)
"""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before anything imports Qt
pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from pytestqt.qtbot import QtBot

from qtqueue.core.param_schema import is_free_form
from qtqueue.executors import default_registry
from qtqueue.ui.family_widgets import family_editors
from qtqueue.ui.new_task_dialog import NewTaskDialog
from qtqueue.ui.paramform.form import TaskForm, form_editors


def test_every_registered_type_gets_a_form_with_a_field_per_param(
    installed: None, qtbot: QtBot
) -> None:
    registry = default_registry()
    assert "plugin_greet" in registry
    for executor in registry:
        schema = executor.schema()
        form = TaskForm.for_executor(executor)
        qtbot.addWidget(form)
        if not is_free_form(schema):
            assert set(form.field_names()) == set(schema.get("properties", {})), executor.name


def test_every_family_gets_a_settings_form_filled_with_its_defaults(
    installed: None, qtbot: QtBot
) -> None:
    families = default_registry().families()
    assert "greetings" in {f.name for f in families}
    for family in families:
        if family.settings_model is None:
            continue
        form = TaskForm(family.settings_model.model_json_schema())
        qtbot.addWidget(form)
        assert set(form.field_names()) == set(family.settings_model.model_fields), family.name
        defaults = family.settings_model().model_dump()
        assert family.settings_model.model_validate({**defaults, **form.values()}) is not None


def test_the_plug_ins_form_checks_and_gives_its_params(installed: None, qtbot: QtBot) -> None:
    executor = default_registry().get("plugin_greet")
    assert executor is not None
    form = TaskForm.for_executor(executor)
    qtbot.addWidget(form)
    assert form.field_names() == ["who", "outcome"]
    assert "who" in form.validate()  # required, and empty
    form.set_values({"who": "Ada"})
    assert form.validate() == {}
    assert executor.validate(form.values()) == {"who": "Ada", "outcome": "greet"}


def test_the_plug_ins_own_editor_is_in_its_forms_only(installed: None, qtbot: QtBot) -> None:
    """Its qt.py gives every text field a name picker: the plug-in's form has it, the other
    types' forms (and forms built before or after) keep the built-in line edit."""
    registry = default_registry()
    dialog = NewTaskDialog(registry)
    qtbot.addWidget(dialog)
    dialog.select_type("plugin_greet")
    assert dialog.form is not None
    assert dialog.form.input_widget("who").objectName() == "namePicker"
    dialog.select_type("custom_command")
    assert dialog.form is not None
    assert dialog.form.input_widget("command").objectName() != "namePicker"
    assert dialog.form.spec("command").kind.value == "text"

    family = registry.family("greetings")
    assert family is not None and family.settings_model is not None
    window = form_editors()
    own = TaskForm(
        family.settings_model.model_json_schema(), editors=family_editors(family, window)
    )
    other = TaskForm(family.settings_model.model_json_schema(), editors=window)
    for form in (own, other):
        qtbot.addWidget(form)
    assert own.input_widget("greeting").objectName() == "namePicker"
    assert own.values()["greeting"] == "Hello"  # its default, set through the picker
    assert other.input_widget("greeting").objectName() != "namePicker"
