"""Params models: validation that names every bad field, defaults, and the schema forms use."""

from __future__ import annotations

from typing import Any

import pytest

from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.executors.process import (
    DEFAULT_GRACE_S,
    DEFAULT_PROGRESS_PATTERN,
    DEFAULT_STEP_PATTERN,
)
from qtqueue.families.shell.command import CommandExecutor, ScriptExecutor
from qtqueue.families.system.monitor import SystemMonitorExecutor

C = TaskErrorCode


def test_command_params_are_completed_with_defaults() -> None:
    assert CommandExecutor().validate({"command": "ls"}) == {
        "command": "ls",
        "args": [],
        "shell": False,
        "cwd": None,
        "env": {},
        "progress_pattern": DEFAULT_PROGRESS_PATTERN,
        "step_pattern": DEFAULT_STEP_PATTERN,
        "grace_s": DEFAULT_GRACE_S,
        "interactive": None,
    }


def test_script_and_monitor_params_are_completed_with_defaults() -> None:
    script = ScriptExecutor().validate({"script_path": "/x.sh"})
    assert (script["script_args"], script["interpreter"]) == ([], None)
    monitor = SystemMonitorExecutor().validate({})
    assert monitor == {
        "monitor_type": "all",
        "duration_s": 0.0,
        "interval_s": 1.0,
        "disk_path": "/",
        "top_processes": 5,
    }


def test_every_bad_field_is_named_with_its_reason() -> None:
    with pytest.raises(QueueError) as raised:
        CommandExecutor().validate(
            {"command": "ls", "args": [1, {}], "grace_s": 1000, "shel": True}
        )
    err = raised.value
    assert err.code is C.VALIDATION_INVALID_PARAMS
    fields = err.details["fields"]
    assert any(f.startswith("args.1:") for f in fields)
    assert any(f.startswith("grace_s:") for f in fields)
    assert "shel: unknown parameter" in fields
    assert err.message.startswith("invalid params for custom_command: ")


def test_a_missing_required_field_has_its_own_code() -> None:
    with pytest.raises(QueueError) as raised:
        ScriptExecutor().validate({"script_args": ["x"]})
    assert raised.value.code is C.VALIDATION_MISSING_REQUIRED
    assert "script_path: required" in raised.value.details["fields"]


@pytest.mark.parametrize("field", ["progress_pattern", "step_pattern"])
def test_patterns_must_be_valid_regular_expressions(field: str) -> None:
    with pytest.raises(QueueError) as raised:
        CommandExecutor().validate({"command": "ls", field: "[unclosed"})
    assert "not a valid regular expression" in raised.value.message


def test_patterns_may_be_switched_off() -> None:
    params = CommandExecutor().validate(
        {"command": "ls", "progress_pattern": None, "step_pattern": ""}
    )
    assert params["progress_pattern"] is None and params["step_pattern"] == ""


@pytest.mark.parametrize(
    ("executor", "required", "widgets"),
    [
        (CommandExecutor(), ["command"], {"cwd": "folder"}),
        (ScriptExecutor(), ["script_path"], {"script_path": "file", "cwd": "folder"}),
        (SystemMonitorExecutor(), [], {"disk_path": "folder"}),
    ],
)
def test_the_schema_describes_every_field_for_forms(
    executor: Any, required: list[str], widgets: dict[str, str]
) -> None:
    schema = executor.schema()
    assert schema.get("required", []) == required
    assert schema["additionalProperties"] is False
    for name, prop in schema["properties"].items():
        assert prop.get("description"), f"{name} has no description"
    for name, widget in widgets.items():
        assert schema["properties"][name]["widget"] == widget
    assert executor.summary


def test_validated_params_parse_back_into_the_model() -> None:
    executor = CommandExecutor()
    model = executor.parse(executor.validate({"command": "ls", "args": ["-l"]}))
    assert (model.command, model.args, model.shell) == ("ls", ["-l"], False)
