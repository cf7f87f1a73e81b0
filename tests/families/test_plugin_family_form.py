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
from qtqueue.ui.paramform.form import TaskForm


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
