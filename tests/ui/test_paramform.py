"""TaskForm: the params form generated from an executor's params model."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from collections.abc import Callable
from enum import Enum
from typing import Any, ClassVar, Literal

import pytest
from pydantic import BaseModel, Field
from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QGroupBox,
    QLineEdit,
    QPlainTextEdit,
    QSpinBox,
    QTableWidget,
    QToolButton,
)
from pytestqt.qtbot import QtBot

from qtqueue.core.param_schema import FieldKind, FieldSpec
from qtqueue.executors import Executor, RunContext, default_registry
from qtqueue.executors.base import HandlerExecutor, Params
from qtqueue.ui.paramform.editors import Editor
from qtqueue.ui.paramform.form import TaskForm, form_editors


def form_for(qtbot: QtBot, type_name: str, **kwargs: Any) -> TaskForm:
    executor = default_registry(entry_points=False).get(type_name)
    assert executor is not None
    return shown(qtbot, TaskForm.for_executor(executor, **kwargs))


def shown(qtbot: QtBot, form: TaskForm) -> TaskForm:
    qtbot.addWidget(form)
    form.show()
    qtbot.waitExposed(form)
    return form


def is_bold(form: TaskForm, name: str) -> bool:
    return QFont(form.label_widget(name).font()).bold()


def marked_invalid(form: TaskForm, name: str) -> bool:
    return bool(form.input_widget(name).property("invalid"))


def type_into(qtbot: QtBot, widget: QLineEdit, text: str) -> None:
    widget.setFocus()
    widget.selectAll()
    qtbot.keyClicks(widget, text)


# --------------------------------------------------------------------------- custom_command


def test_custom_command_gets_one_fitting_widget_per_field(qtbot: QtBot) -> None:
    form = form_for(qtbot, "custom_command")

    assert form.field_names()[:3] == ["command", "args", "shell"]  # its own fields first
    assert isinstance(form.input_widget("command"), QLineEdit)
    assert form.spec("args").kind == FieldKind.LIST
    args = form.input_widget("args")
    assert isinstance(args, QTableWidget) and args.columnCount() == 1
    env = form.input_widget("env")
    assert form.spec("env").kind == FieldKind.MAPPING
    assert isinstance(env, QTableWidget) and env.columnCount() == 2
    assert isinstance(form.input_widget("shell"), QCheckBox)
    grace = form.input_widget("grace_s")
    assert isinstance(grace, QDoubleSpinBox)
    assert (grace.minimum(), grace.maximum()) == (0, 600)
    assert grace.suffix() == " s"
    assert form.spec("cwd").kind == FieldKind.FOLDER
    assert isinstance(form.input_widget("cwd"), QLineEdit)
    assert form.field_widget("cwd").findChild(QToolButton, "cwdBrowse") is not None
    assert isinstance(form.input_widget("progress_pattern"), QLineEdit)
    # The description is the tooltip.
    assert form.input_widget("command").toolTip().startswith("Program to run, or a shell line")


def test_custom_command_defaults_are_filled_in_and_command_is_marked_required(
    qtbot: QtBot,
) -> None:
    form = form_for(qtbot, "custom_command")
    props = form.schema["properties"]

    grace = form.input_widget("grace_s")
    assert isinstance(grace, QDoubleSpinBox) and grace.value() == 5.0
    assert grace.text() == "5 s"
    shell = form.input_widget("shell")
    assert isinstance(shell, QCheckBox) and not shell.isChecked()
    pattern = form.input_widget("progress_pattern")
    assert isinstance(pattern, QLineEdit)
    assert pattern.text() == props["progress_pattern"]["default"]

    assert form.label_widget("command").text() == "Command *"
    assert is_bold(form, "command")
    for name in ("args", "env", "cwd", "shell", "grace_s"):
        assert not form.label_widget(name).text().endswith("*")
        assert not is_bold(form, name)

    # Untouched: the required command and the optional cwd (None) are left out.
    assert form.values() == {
        "args": [],
        "shell": False,
        "env": {},
        "progress_pattern": props["progress_pattern"]["default"],
        "step_pattern": props["step_pattern"]["default"],
        "grace_s": 5.0,
    }


def test_a_missing_command_is_shown_under_its_field_until_typed(qtbot: QtBot) -> None:
    form = form_for(qtbot, "custom_command")
    assert form.error_text("command") == ""  # nothing shouted before anyone asked

    assert not form.is_valid()

    assert form.error_text("command") == "required"
    assert form.findChild(type(form.label_widget("command")), "commandError").isVisible()
    assert marked_invalid(form, "command")
    assert form.error_text("grace_s") == ""
    assert not marked_invalid(form, "grace_s")

    command = form.input_widget("command")
    assert isinstance(command, QLineEdit)
    with qtbot.waitSignal(form.validityChanged) as became:
        type_into(qtbot, command, "true")
    assert became.args == [True]
    assert form.error_text("command") == ""
    assert not marked_invalid(form, "command")
    assert form.is_valid()
    assert form.values()["command"] == "true"


def test_custom_command_values_round_trip_through_set_values(qtbot: QtBot) -> None:
    form = form_for(qtbot, "custom_command")
    params = {
        "command": "make",
        "args": ["-j", "4", "", "two words"],
        "shell": True,
        "cwd": "/tmp/project",
        "env": {"CC": "clang", "EMPTY": ""},
        "progress_pattern": None,
        "step_pattern": r"^==> (.*)$",
        "grace_s": 12.5,
    }

    form.set_values(params)

    assert form.values() == params
    assert form.is_valid()
    args = form.input_widget("args")
    assert isinstance(args, QTableWidget) and args.rowCount() == 4
    assert args.item(3, 0).text() == "two words"


def test_list_and_mapping_rows_are_added_with_their_buttons(qtbot: QtBot) -> None:
    form = form_for(qtbot, "custom_command")
    args = form.input_widget("args")
    env = form.input_widget("env")
    assert isinstance(args, QTableWidget) and isinstance(env, QTableWidget)

    qtbot.mouseClick(form.findChild(QToolButton, "argsAdd"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: args.rowCount() == 1 and args.state() == args.State.EditingState)
    editor = args.focusWidget()
    assert isinstance(editor, QLineEdit)
    qtbot.keyClicks(editor, "--verbose")
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: form.values()["args"] == ["--verbose"])

    qtbot.mouseClick(form.findChild(QToolButton, "envAdd"), Qt.MouseButton.LeftButton)
    env.item(0, 0).setText("LANG")
    env.item(0, 1).setText("C")
    assert form.values()["env"] == {"LANG": "C"}

    env.selectRow(0)
    qtbot.mouseClick(form.findChild(QToolButton, "envRemove"), Qt.MouseButton.LeftButton)
    assert form.values()["env"] == {}


def test_a_duplicate_environment_name_is_an_inline_error(qtbot: QtBot) -> None:
    form = form_for(qtbot, "custom_command")
    form.set_values({"command": "env", "env": {"A": "1"}})
    env = form.input_widget("env")
    assert isinstance(env, QTableWidget)
    qtbot.mouseClick(form.findChild(QToolButton, "envAdd"), Qt.MouseButton.LeftButton)
    env.item(1, 0).setText("A")

    assert not form.is_valid()
    assert "'A' is given twice" in form.error_text("env")
    assert marked_invalid(form, "env")


def test_a_bad_regular_expression_is_explained_under_its_field(qtbot: QtBot) -> None:
    form = form_for(qtbot, "custom_command")
    pattern = form.input_widget("step_pattern")
    assert isinstance(pattern, QLineEdit)
    type_into(qtbot, pattern, "([unclosed")

    # Edited fields are checked live, before any submit.
    assert form.error_text("step_pattern").startswith("not a valid regular expression")
    assert form.error_text("command") == ""  # untouched: not shouted yet


# --------------------------------------------------------------------------- custom_script


def test_custom_script_has_a_file_picker_for_its_script(qtbot: QtBot) -> None:
    form = form_for(qtbot, "custom_script")

    assert form.spec("script_path").kind == FieldKind.FILE
    assert form.field_names()[0] == "script_path"
    assert form.label_widget("script_path").text() == "Script path *"
    assert is_bold(form, "script_path")
    picker = form.field_widget("script_path")
    assert isinstance(form.input_widget("script_path"), QLineEdit)
    browse = picker.findChild(QToolButton, "script_pathBrowse")
    assert browse is not None and browse.text() == "…"
    assert browse.toolTip() == "Choose a file"
    assert form.spec("cwd").kind == FieldKind.FOLDER
    assert form.spec("script_args").kind == FieldKind.LIST
    assert isinstance(form.input_widget("interpreter"), QLineEdit)


def test_custom_script_values_round_trip_and_a_missing_script_is_inline(qtbot: QtBot) -> None:
    form = form_for(qtbot, "custom_script")
    assert not form.is_valid()
    assert form.error_text("script_path") == "required"

    params = {
        "script_path": "/opt/jobs/nightly.sh",
        "script_args": ["--dry-run"],
        "interpreter": "bash -eu",
        "cwd": None,
        "env": {"MODE": "fast"},
        "grace_s": 0.25,
    }
    form.set_values(params)

    expected = {k: v for k, v in params.items() if k != "cwd"}  # None and untouched: left out
    values = form.values()
    assert {k: values[k] for k in expected} == expected
    assert "cwd" not in values
    assert form.is_valid()
    assert form.error_text("script_path") == ""


# --------------------------------------------------------------------------- system_monitor


def test_system_monitor_gets_a_choice_and_ranged_numbers(qtbot: QtBot) -> None:
    form = form_for(qtbot, "system_monitor")

    kind = form.input_widget("monitor_type")
    assert isinstance(kind, QComboBox)
    assert [kind.itemText(i) for i in range(kind.count())] == [
        "cpu",
        "memory",
        "disk",
        "network",
        "gpu",  # issue 14
        "processes",
        "general",  # the resource document's name (issue 12)
        "all",
    ]
    assert kind.currentText() == "all"
    top = form.input_widget("top_processes")
    assert isinstance(top, QSpinBox)
    assert (top.minimum(), top.maximum(), top.value()) == (0, 100, 5)
    duration = form.input_widget("duration_s")
    assert isinstance(duration, QDoubleSpinBox)
    assert (duration.minimum(), duration.maximum()) == (0, 86400)
    assert form.spec("disk_path").kind == FieldKind.FOLDER
    assert form.values() == {
        "monitor_type": "all",
        "duration_s": 0.0,
        "interval_s": 1.0,
        "disk_path": "/",
        "top_processes": 5,
    }
    assert form.is_valid()


def test_an_out_of_range_interval_is_shown_under_its_spin_box(qtbot: QtBot) -> None:
    form = form_for(qtbot, "system_monitor")
    interval = form.input_widget("interval_s")
    assert isinstance(interval, QDoubleSpinBox)

    interval.setFocus()
    interval.selectAll()
    qtbot.keyClicks(interval, "0")

    assert interval.value() == 0
    assert form.error_text("interval_s") == "Input should be greater than 0"
    assert marked_invalid(form, "interval_s")
    assert not form.is_valid()
    # The spin box itself keeps numbers inside the inclusive bounds.
    top = form.input_widget("top_processes")
    assert isinstance(top, QSpinBox)
    top.setFocus()
    top.selectAll()
    qtbot.keyClicks(top, "500")
    assert top.value() <= 100


def test_params_the_type_does_not_take_are_dropped_with_a_notice(qtbot: QtBot) -> None:
    form = form_for(qtbot, "system_monitor")
    form.set_values({"monitor_type": "cpu", "colour": "blue"})

    assert form.values()["monitor_type"] == "cpu"
    assert "colour" not in form.values()
    assert "colour" in form.form_error_text()
    assert form.is_valid()


def test_system_monitor_values_round_trip(qtbot: QtBot) -> None:
    form = form_for(qtbot, "system_monitor")
    params = {
        "monitor_type": "disk",
        "duration_s": 30.0,
        "interval_s": 0.5,
        "disk_path": "/var",
        "top_processes": 12,
    }
    form.set_values(params)
    assert form.values() == params
    assert form.is_valid()


# --------------------------------------------------------------------------- other schemas


class Level(Enum):
    LOW = "low"
    HIGH = "high"


class Target(BaseModel):
    host: str = Field(..., description="Host name")
    port: int = Field(22, ge=1, le=65535)


class DeployParams(Params):
    credential: str = Field(..., description="Registry login")
    target: Target
    level: Level = Level.LOW
    mode: Literal["fast", "safe"] = "safe"
    replicas: int | None = Field(None, ge=1, le=50)
    ratio: float = Field(0.5, gt=0, lt=1)
    weights: list[int] = Field(default_factory=list)
    note: str | None = Field(None, json_schema_extra={"widget": "multiline"})
    debug: bool | None = None
    extra: dict[str, list[int]] = Field(default_factory=dict)


class DeployExecutor(Executor):
    task_type: ClassVar[str] = "deploy_thing"
    params_model = DeployParams

    async def run(self, ctx: RunContext) -> dict[str, Any] | None:
        return None


def test_refs_credentials_optionals_and_odd_types_get_fitting_widgets(qtbot: QtBot) -> None:
    form = shown(
        qtbot,
        TaskForm.for_executor(DeployExecutor(), credential_names=["registry", "github-token"]),
    )

    credential = form.input_widget("credential")
    assert form.spec("credential").kind == FieldKind.CREDENTIAL
    assert isinstance(credential, QComboBox) and not credential.isEditable()
    assert [credential.itemData(i) for i in range(credential.count())] == [
        None,
        "github-token",
        "registry",
    ]
    assert form.spec("level").kind == FieldKind.CHOICE  # an Enum behind a $ref
    level = form.input_widget("level")
    assert isinstance(level, QComboBox) and level.currentData() == "low"
    assert form.spec("target").kind == FieldKind.OBJECT  # a sub-model behind a $ref
    assert isinstance(form.field_widget("target"), QGroupBox)
    assert form.spec("replicas").nullable
    ratio = form.input_widget("ratio")
    assert isinstance(ratio, QDoubleSpinBox) and (ratio.minimum(), ratio.maximum()) == (0, 1)
    assert isinstance(form.input_widget("note"), QPlainTextEdit)
    debug = form.input_widget("debug")
    assert isinstance(debug, QCheckBox) and debug.isTristate()
    assert form.spec("extra").kind == FieldKind.JSON

    assert not form.is_valid()
    assert form.error_text("credential") == "required"
    assert "host: required" in form.error_text("target")

    params = {
        "credential": "registry",
        "target": {"host": "db1", "port": 2222},
        "level": "high",
        "mode": "fast",
        "replicas": 3,
        "ratio": 0.25,
        "weights": [1, 2],
        "note": "two\nlines",
        "debug": True,
        "extra": {"a": [1]},
    }
    form.set_values(params)
    assert form.values() == params
    assert form.is_valid()

    form.set_values({"replicas": None, "debug": None, "credential": "gone"})
    values = form.values()
    assert "replicas" not in values and "debug" not in values
    assert credential.currentText() == "gone (not in the keyring)"


def test_a_plain_handler_takes_its_params_as_json(qtbot: QtBot) -> None:
    form = shown(qtbot, TaskForm.for_executor(HandlerExecutor("resize", lambda _i, _p: None)))
    editor = form.input_widget("params")
    assert isinstance(editor, QPlainTextEdit)
    assert form.values() == {}

    editor.setPlainText('{"width": 640, "files": ["a.png"]}')
    assert form.values() == {"width": 640, "files": ["a.png"]}
    assert form.is_valid()

    editor.setPlainText('{"width": ')
    assert not form.is_valid()
    assert form.error_text("params").startswith("not valid JSON")


@pytest.mark.parametrize("type_name", sorted(e.name for e in default_registry(entry_points=False)))
def test_every_field_has_a_label_and_no_widget_is_left_unnamed(
    qtbot: QtBot, type_name: str
) -> None:
    form = form_for(qtbot, type_name)
    for name in form.field_names():
        assert form.label_widget(name).text()
        assert form.field_widget(name).objectName()
        assert form.input_widget(name).objectName()


def test_a_container_command_takes_plain_text_or_a_json_list(qtbot: QtBot) -> None:
    """docker_run's `command` is `str | list[str]`: typed text is a command line; text that
    starts like JSON is an argument list; a broken list is an inline error."""
    form = form_for(qtbot, "docker_run")
    command = form.input_widget("command")
    assert isinstance(command, QLineEdit)
    assert command.placeholderText().startswith("text, or JSON")
    type_into(qtbot, form.input_widget("image"), "busybox")
    type_into(qtbot, command, "echo hello world")
    assert form.values()["command"] == "echo hello world"
    assert form.is_valid()
    command.clear()
    type_into(qtbot, command, '["sh", "-c", "echo hi"]')
    assert form.values()["command"] == ["sh", "-c", "echo hi"]
    assert form.is_valid()
    command.clear()
    type_into(qtbot, command, '["sh", ')
    assert not form.is_valid()
    assert marked_invalid(form, "command")
    form.set_values({"image": "busybox", "command": "sleep 5"})
    assert command.text() == "sleep 5"


# --------------------------------------------------------------------------- the editor registry


class _Colour(BaseModel):
    """A family's params with a field the built-in editors know nothing special about."""

    colour: str = Field("#336699", json_schema_extra={"widget": "colour"})
    label: str = "x"


class _ColourEditor(Editor):
    """A family's own editor: a combo of named colours whose value is the hex code."""

    def __init__(self, spec: FieldSpec) -> None:
        combo = QComboBox()
        combo.setObjectName("colourPicker")
        for name, code in (("blue", "#336699"), ("red", "#cc0000")):
            combo.addItem(name, code)
        super().__init__(spec, combo)
        self.combo = combo

    def value(self) -> Any:
        return self.combo.currentData()

    def set_value(self, value: Any) -> None:
        self.combo.setCurrentIndex(max(0, self.combo.findData(value)))

    def on_change(self, callback: Callable[[], None]) -> None:
        self.combo.currentIndexChanged.connect(lambda _i: callback())


def test_a_family_registers_its_own_editor_and_the_form_uses_it(qtbot: QtBot) -> None:
    """What a family's qt.py does: one `add` on a copy of the window's registry, and the forms
    built with that copy give its fields its editor (the other fields keep the built-in ones);
    a form built with the window's own registry keeps the built-in editor."""
    schema = _Colour.model_json_schema()
    window = form_editors()
    family = window.copy()
    family.add(lambda spec: spec.schema.get("widget") == "colour",
               lambda spec, _context: _ColourEditor(spec))  # fmt: skip
    form = shown(qtbot, TaskForm(schema, editors=family))
    picker = form.input_widget("colour")
    assert isinstance(picker, QComboBox) and picker.objectName() == "colourPicker"
    assert isinstance(form.input_widget("label"), QLineEdit)
    assert form.values()["colour"] == "#336699"  # the schema's default, set through it
    picker.setCurrentIndex(1)
    assert form.values()["colour"] == "#cc0000"
    for registry in (window, None):
        plain = shown(qtbot, TaskForm(schema, editors=registry))
        assert isinstance(plain.input_widget("colour"), QLineEdit)


def test_a_later_rule_wins_over_a_built_in_kind(qtbot: QtBot) -> None:
    """A family may replace the editor of a whole kind (here: every boolean); taken back out,
    the built-in editor returns."""
    editors = form_editors()
    remove = editors.add(FieldKind.BOOLEAN, lambda spec, _context: _ColourEditor(spec))
    form = form_for(qtbot, "custom_command", editors=editors)
    booleans = [n for n in form.field_names() if form.spec(n).kind == FieldKind.BOOLEAN]
    assert booleans
    for name in booleans:
        assert form.input_widget(name).objectName() == "colourPicker"
    remove()
    form = form_for(qtbot, "custom_command", editors=editors)
    assert all(form.input_widget(n).objectName() != "colourPicker" for n in booleans)
