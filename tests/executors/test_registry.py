"""The executor registry: explicit, by type name, and a duplicate name is an error."""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path
from typing import Any

import pytest

from qtqueue.core.error_catalog import ErrorCatalog, MessageRule
from qtqueue.core.error_codes import TaskErrorCode
from qtqueue.core.task import TaskType
from qtqueue.executors import (
    FAMILY_ENTRY_POINT_GROUP,
    ExecutorRegistry,
    Family,
    HandlerExecutor,
    built_in_family_entry_points,
    default_registry,
)
from qtqueue.families.shell.command import CommandExecutor, ScriptExecutor
from qtqueue.families.system.monitor import SystemMonitorExecutor

ROOT = Path(__file__).resolve().parents[2]


async def hello(task_id: str, params: dict[str, Any]) -> dict[str, str]:
    """Say hello.

    More words here.
    """
    return {"hello": task_id}


def test_the_built_in_families_register_their_executors() -> None:
    registry = default_registry(entry_points=False)
    assert {f.name for f in registry.families()} >= {"shell", "system", "docker"}
    assert isinstance(registry.get(TaskType.CUSTOM_COMMAND), CommandExecutor)
    assert isinstance(registry.get("custom_script"), ScriptExecutor)
    assert isinstance(registry.get(TaskType.SYSTEM_MONITOR), SystemMonitorExecutor)
    assert TaskType.CUSTOM_COMMAND in registry and "custom_command" in registry
    assert registry.family_of(TaskType.NETWORK_SCAN.value) is registry.family("network")
    family = registry.family_of("docker_push")
    assert family is not None and family.name == "docker"
    assert registry.family_of("custom_command") is registry.family("shell")


def test_every_registered_type_belongs_to_a_family_and_has_a_params_schema() -> None:
    registry = default_registry(entry_points=False)
    assert list(registry)
    for executor in registry:
        family = registry.family_of(executor.name)
        assert family is not None, executor.name
        assert executor in [e for e in registry if registry.family_of(e.name) is family]
        schema = executor.schema()
        assert schema.get("type") == "object", executor.name
        for name, prop in schema.get("properties", {}).items():
            assert prop.get("description") or prop.get("title"), (executor.name, name)
        assert executor.describe(), executor.name


def test_every_family_has_a_title_and_settings_with_defaults() -> None:
    for family in default_registry(entry_points=False).families():
        assert family.title.strip()
        if family.settings_model is not None:
            family.settings_model()  # every setting has a default


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


# --- Families from entry points -------------------------------------------------------------


def write_plugin(site: Path, dist: str, entries: dict[str, str], modules: dict[str, str]) -> None:
    """A distribution on `site` as pip leaves it: its modules and a dist-info directory whose
    entry_points.txt advertises `entries` in the qtqueue.families group."""
    info = site / f"{dist}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    lines = "".join(f"{name} = {value}\n" for name, value in entries.items())
    (info / "entry_points.txt").write_text(f"[{FAMILY_ENTRY_POINT_GROUP}]\n{lines}")
    for name, text in modules.items():
        (site / f"{name}.py").write_text(textwrap.dedent(text))


FAMILY_MODULE = textwrap.dedent("""
    from typing import Any
    from qtqueue.executors import Family, HandlerExecutor

    async def wave(task_id: str, params: dict[str, Any]) -> dict[str, Any]:
        return {"waved": True}

    family = Family("waving", "Waving", lambda: [HandlerExecutor("wave", wave)])
""")


def test_a_broken_plug_in_is_logged_and_skipped_and_the_others_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    write_plugin(
        tmp_path,
        "qtqueue_plugin_mixed",
        {
            "waving": "waving_family:family",
            "broken": "broken_family:family",
            "not_a_family": "waving_family:FAMILY_MODULE_NAME",
        },
        {
            "waving_family": FAMILY_MODULE + 'FAMILY_MODULE_NAME = "not a Family"\n',
            "broken_family": "raise ImportError('needs something missing')\n",
        },
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    with caplog.at_level(logging.ERROR, logger="qtqueue.executors"):
        registry = default_registry()
    assert "wave" in registry and registry.family("waving") is not None
    assert "custom_command" in registry  # the built-ins are there too
    messages = " ".join(r.getMessage() for r in caplog.records)
    assert "broken" in messages and "not_a_family" in messages
    assert "wave" not in default_registry(entry_points=False)


def test_a_plug_in_family_that_takes_a_built_in_type_name_is_logged_and_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A clashing plug-in must not stop qtqueue from starting: it is left out, with the reason
    logged, and the built-in type stays the built-in one."""
    write_plugin(
        tmp_path,
        "qtqueue_plugin_clash",
        {"clash": "clash_family:family"},
        {
            "clash_family": """
                from qtqueue.executors import Family
                from qtqueue.families.shell.command import CommandExecutor

                family = Family("clash", "Clash", lambda: [CommandExecutor()])
            """
        },
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    with caplog.at_level(logging.ERROR, logger="qtqueue.executors"):
        registry = default_registry()
    assert registry.family("clash") is None
    assert registry.family_of("custom_command") is registry.family("shell")
    assert "skipped family clash" in caplog.text
    assert "custom_command is already registered" in caplog.text


def test_a_family_is_registered_all_or_nothing() -> None:
    registry = default_registry(entry_points=False)
    clash = Family("half", "Half", lambda: [HandlerExecutor("new_one", hello), CommandExecutor()])
    with pytest.raises(ValueError, match="already registered"):
        registry.add_family(clash)
    assert "new_one" not in registry and registry.family("half") is None


def test_an_unregistered_family_s_code_built_rules_no_longer_classify() -> None:
    catalog = ErrorCatalog()
    registry = ExecutorRegistry(catalog=catalog)
    rule = MessageRule(re.compile("the frobnicator jammed"), TaskErrorCode.SYSTEM_COMMAND_FAILED)
    registry.add_family(
        Family("frob", "Frob", lambda: [HandlerExecutor("frob_it", hello)], rules=(rule,))
    )
    text = "error: the frobnicator jammed"
    assert catalog.classify_message(text) == TaskErrorCode.SYSTEM_COMMAND_FAILED
    catalog.unregister("frob")
    assert catalog.classify_message(text) is None
    assert catalog.owners() == ()


def test_the_built_in_families_come_from_the_entry_point_group() -> None:
    eps = built_in_family_entry_points()
    assert {ep.group for ep in eps} == {FAMILY_ENTRY_POINT_GROUP}
    assert {ep.name for ep in eps} >= {"shell", "system", "docker"}
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"]
    assert {ep.name: ep.value for ep in eps} == declared[FAMILY_ENTRY_POINT_GROUP]


# --- A family whose extra is not installed -------------------------------------------------

WITHOUT_DOCKER = """
import asyncio, json, sys
sys.modules["docker"] = None  # as if qtqueue[docker] were not installed
from qtqueue.core.errors import QueueError
from qtqueue.core.task import Task
from qtqueue.engine.queue import TaskQueue
from qtqueue.executors import default_registry

async def main() -> None:
    registry = default_registry(entry_points=False)
    out = {"listed": "docker_push" in registry}
    async with TaskQueue(sys.argv[1], registry=registry) as queue:
        try:
            await queue.add_task(Task("docker_push", {"image_name": "app"}))
        except QueueError as exc:
            out["error"] = exc.to_dict()
    print(json.dumps(out))

asyncio.run(main())
"""


def test_without_the_docker_sdk_its_types_are_listed_but_adding_one_says_what_to_install(
    tmp_path: Path,
) -> None:
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT_DOCKER, str(tmp_path / "q")],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["listed"] is True
    assert out["error"]["code"] == "QUEUE_EXTRA_NOT_INSTALLED"
    assert "pip install 'qtqueue[docker]'" in out["error"]["message"]
    assert out["error"]["retryable"] is False


def test_every_type_the_design_documents_name_is_registered_by_a_built_in_family() -> None:
    """All operation types of the design documents (the TaskType constants) can be added and
    run once qtqueue's own families are registered: none is only a name."""
    registry = default_registry(entry_points=False)
    unregistered = [t.value for t in TaskType if registry.get(t.value) is None]
    assert unregistered == []
    assert all(registry.family_of(t.value) is not None for t in TaskType)
