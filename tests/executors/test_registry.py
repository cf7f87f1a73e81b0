"""The executor registry: explicit, by type name, and a duplicate name is an error."""

from __future__ import annotations

from typing import Any

import pytest

from qtqueue.core.task import TaskType
from qtqueue.executors import ExecutorRegistry, HandlerExecutor, default_registry
from qtqueue.families.shell.command import CommandExecutor, ScriptExecutor
from qtqueue.families.system.monitor import SystemMonitorExecutor


async def hello(task_id: str, params: dict[str, Any]) -> dict[str, str]:
    """Say hello.

    More words here.
    """
    return {"hello": task_id}


def test_the_default_registry_has_the_built_in_executors() -> None:
    registry = default_registry(entry_points=False)
    assert [e.name for e in registry] == [
        "custom_command", "custom_script",
        "docker_build", "docker_pull", "docker_push", "docker_remove", "docker_run",
        "docker_stop", "docker_tag",
        "system_monitor",
    ]  # fmt: skip
    assert isinstance(registry.get(TaskType.CUSTOM_COMMAND), CommandExecutor)
    assert isinstance(registry.get("custom_script"), ScriptExecutor)
    assert isinstance(registry.get(TaskType.SYSTEM_MONITOR), SystemMonitorExecutor)
    assert TaskType.CUSTOM_COMMAND in registry and "custom_command" in registry
    assert registry.get(TaskType.K8S_DEPLOY) is None  # no executor yet
    assert TaskType.K8S_DEPLOY not in registry


def test_each_default_registry_is_a_fresh_one() -> None:
    first, second = default_registry(entry_points=False), default_registry(entry_points=False)
    first.register_handler("only_here", hello)
    assert "only_here" in first and "only_here" not in second


def test_a_duplicate_registration_is_refused() -> None:
    registry = default_registry(entry_points=False)
    with pytest.raises(ValueError, match="already registered"):
        registry.register(CommandExecutor())
    registry.register_handler("hello", hello)
    with pytest.raises(ValueError, match="already registered"):
        registry.register_handler("hello", hello)


@pytest.mark.parametrize("name", ["", "has space", "semi;colon", "slash/name", "ümlaut!"])
def test_a_handler_name_must_be_a_plain_identifier(name: str) -> None:
    with pytest.raises(ValueError):
        ExecutorRegistry().register_handler(name, hello)


@pytest.mark.parametrize("name", ["hello", "acme.deploy", "send-mail", "v2_task"])
def test_handler_names_with_dots_dashes_and_underscores_are_fine(name: str) -> None:
    registry = ExecutorRegistry()
    executor = registry.register_handler(name, hello)
    assert registry.get(name) is executor
    assert executor.name == name


def test_a_handler_executor_describes_itself_from_the_function() -> None:
    executor = HandlerExecutor("hello", hello)
    assert executor.describe() == "Say hello."
    assert executor.is_async
    assert HandlerExecutor("hello", hello, summary="Greets.").describe() == "Greets."
    assert not HandlerExecutor("sync", lambda task_id, params: None).is_async
    with pytest.raises(TypeError):
        HandlerExecutor("broken", "not a function")  # type: ignore[arg-type]


def test_a_handler_takes_any_json_object_as_params() -> None:
    executor = HandlerExecutor("hello", hello)
    params = {"anything": [1, {"nested": True}], "n": 2.5}
    assert executor.validate(params) == params
