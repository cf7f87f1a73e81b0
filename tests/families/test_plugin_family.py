"""A new family is one folder plus one entry point.

`plugin_family/` (beside this file) is a whole family: its task type, params, settings, error
codes and a message rule. Nothing in qtqueue names it: it is found only through a
`qtqueue.families` entry point in a dist-info directory the tests write, exactly as an
installed plug-in is. It then runs in the engine, the command line and the API, and its
failures keep their own codes, descriptions and fixes end to end.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from helpers.cli import running_engine, stop_engine

from qtqueue.api.actions import run_action
from qtqueue.core.errors import QueueError, classify_exception, error_info
from qtqueue.core.task import Task, TaskStatus
from qtqueue.engine.queue import TaskQueue
from qtqueue.executors import ExecutorRegistry, default_registry
from qtqueue.settings import apply_saved_settings

from .conftest import HERE

TIMEOUT_S = 60


def test_without_its_entry_point_qtqueue_knows_nothing_of_it() -> None:
    registry = default_registry()
    assert "plugin_greet" not in registry
    assert registry.family("greetings") is None


async def test_the_family_runs_in_the_engine_and_fails_with_its_own_codes(
    installed: None, data_dir: Path
) -> None:
    registry = default_registry()
    family = registry.family("greetings")
    assert family is not None and family.title == "Greetings"
    assert registry.family_of("plugin_greet") is family
    assert family.settings_model is not None
    assert family.settings_model().model_dump() == {"greeting": "Hello"}

    async with TaskQueue(data_dir, registry=registry) as queue:
        greeted = await queue.add_task(Task("plugin_greet", {"who": "Ada"}))
        refused = await queue.add_task(
            Task("plugin_greet", {"who": "Bob", "outcome": "refuse"}, max_retries=0)
        )
        grumpy = await queue.add_task(
            Task("plugin_greet", {"who": "Cy", "outcome": "grumble"}, max_retries=0)
        )
        done = await queue.wait_for(greeted, timeout_s=TIMEOUT_S)
        assert done.status is TaskStatus.COMPLETED
        assert done.result == {"greeting": "Hello, Ada!"}
        assert done.name == "Ada"  # the family's name key

        failed = await queue.wait_for(refused, timeout_s=TIMEOUT_S)
        assert failed.status is TaskStatus.FAILED
        assert failed.error_code == "PLUGIN_GREETING_REFUSED"
        assert failed.error == "Bob does not want a greeting"

        # An uncoded exception is classified by the family's own message rule.
        failed = await queue.wait_for(grumpy, timeout_s=TIMEOUT_S)
        assert failed.error_code == "PLUGIN_GREETER_GRUMPY"

        # Its codes are codes like any other: retry_on takes them, a final one is refused.
        retried = await queue.add_task(
            Task(
                "plugin_greet",
                {"who": "Di", "outcome": "grumble"},
                max_retries=1,
                retry_backoff=0,
                retry_on=["plugin_greeter_grumpy"],
            )
        )
        failed = await queue.wait_for(retried, timeout_s=TIMEOUT_S)
        assert (failed.status, failed.retry_count) == (TaskStatus.FAILED, 1)
        assert failed.retry_on == ["PLUGIN_GREETER_GRUMPY"]
        with pytest.raises(QueueError, match="PLUGIN_GREETING_REFUSED is never retried"):
            await queue.add_task(
                Task("plugin_greet", {"who": "Ed"}, retry_on=["PLUGIN_GREETING_REFUSED"])
            )

        # The API gives its description and fix, read from the family's errors.toml.
        reply = await run_action(
            queue, {"action": "queue_task_status", "params": {"task_id": refused}}
        )
        error = reply["result"]["error"]
        assert error["code"] == "PLUGIN_GREETING_REFUSED"
        assert error["description"] == "The person did not want to be greeted."
        assert error["suggestion"] == "Greet someone else, or ask first."
        types = await run_action(queue, {"action": "types", "params": {"name": "plugin_greet"}})
        (listed,) = types["result"]["types"]
        assert listed["family"] == "greetings" and listed["available"] is True
        assert listed["params_schema"]["required"] == ["who"]

        # Bad params get the core's coded validation error.
        reply = await run_action(
            queue, {"action": "add_task", "params": {"task_type": "plugin_greet", "params": {}}}
        )
        assert reply["error"]["code"] == "VALIDATION_MISSING_REQUIRED"

    assert error_info("PLUGIN_GREETER_GRUMPY").retryable is True
    assert classify_exception(RuntimeError("the greeter is grumpy")) == "PLUGIN_GREETER_GRUMPY"


async def test_its_settings_are_set_through_the_api_saved_and_read_by_its_tasks(
    installed: None, data_dir: Path
) -> None:
    """`config_get`/`config_set` know the family's settings model from its `Family` alone;
    what is set there is checked by the model, saved in the store, and what its tasks read."""
    async with TaskQueue(data_dir, registry=default_registry()) as queue:
        got = await run_action(queue, {"action": "config_get", "params": {}})
        assert got["result"]["families"]["greetings"] == {"greeting": "Hello"}

        bad = {"families": {"greetings": {"greeting": ["not", "text"]}}}
        refused = await run_action(queue, {"action": "config_set", "params": bad})
        assert refused["error"]["code"] == "VALIDATION_INVALID_PARAMS"
        fields = refused["error"]["details"]["fields"]
        assert any(f.startswith("greetings.greeting") for f in fields), fields

        good = {"families": {"greetings": {"greeting": "Hi"}}}
        answer = await run_action(queue, {"action": "config_set", "params": good})
        assert answer["result"]["families"]["greetings"] == {"greeting": "Hi"}
        done = await queue.wait_for(
            await queue.add_task(Task("plugin_greet", {"who": "Ada"})), timeout_s=TIMEOUT_S
        )
        assert done.result == {"greeting": "Hi, Ada!"}

    # Saved: the next engine on the data directory starts with it.
    reopened = TaskQueue(data_dir, registry=default_registry())
    assert apply_saved_settings(reopened).families["greetings"].model_dump() == {"greeting": "Hi"}
    assert reopened.executor_settings["greeting"] == "Hi"


def test_a_family_whose_code_another_owner_registered_is_refused(installed: None) -> None:
    registry = default_registry()
    family = registry.family("greetings")
    assert family is not None
    from qtqueue.executors import ExecutorRegistry
    from qtqueue.executors.family import Family

    clash = Family("greetings_two", "Clash", lambda: [], errors=family.errors)
    with pytest.raises(ValueError, match=r"PLUGIN_GREET.* already registered by 'greetings'"):
        ExecutorRegistry().add_family(clash)
    with pytest.raises(ValueError, match="already registered"):
        registry.add_family(family)


def test_a_family_whose_setting_another_family_declares_is_refused(installed: None) -> None:
    """Settings reach executors by field name (`ctx.settings["greeting"]`): a second family
    declaring `greeting` would silently change the first one's greetings, so it is refused,
    and nothing of it is registered."""
    registry = default_registry()
    family = registry.family("greetings")
    assert family is not None and family.settings_model is not None
    from qtqueue.executors.family import Family

    echo = Family("echoes", "Echoes", lambda: [], settings_model=family.settings_model)
    with pytest.raises(ValueError, match=r"'echoes': the setting greeting .* 'greetings'"):
        registry.add_family(echo)
    assert registry.family("echoes") is None


# --------------------------------------------------------------------------- the command line


def engine_env(tmp_path: Path, site: Path) -> dict[str, str]:
    path = os.pathsep.join([str(site), str(HERE), os.environ.get("PYTHONPATH", "")])
    return {
        **os.environ,
        "PYTHONPATH": path.rstrip(os.pathsep),
        "QTQUEUE_DATA_DIR": str(tmp_path / "not-this-one"),
    }


def test_the_cli_lists_and_adds_it_against_a_running_engine(
    tmp_path: Path, site: Path, data_dir: Path
) -> None:
    env = engine_env(tmp_path, site)

    def cli(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "qtqueue", "--data-dir", str(data_dir), *args],
            capture_output=True, text=True, env=env, timeout=TIMEOUT_S, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert "Traceback" not in done.stderr
        return done.stdout

    log = tmp_path / "engine.log"
    with running_engine(data_dir, env, log) as engine:
        listed = {t["name"]: t for t in json.loads(cli("types", "--json"))}
        assert listed["plugin_greet"]["family"] == "greetings"
        assert "who (string, required): Whom to greet" in cli("types")

        ok = json.loads(cli("add", "plugin_greet", "-p", "who=Ada", "--json"))
        assert ok["engine_running"] is True
        bad = cli("add", "plugin_greet", "-p", "who=Bob", "-p", "outcome=refuse").strip()
        for task_id in (ok["id"], bad):
            cli("log", "--follow", task_id)  # returns once the task is finished
        shown: dict[str, Any] = json.loads(cli("show", ok["id"], "--json"))
        assert shown["status"] == "completed"
        shown = json.loads(cli("show", bad, "--json"))
        assert shown["status"] == "failed"
        assert shown["error"]["code"] == "PLUGIN_GREETING_REFUSED"
        assert shown["error"]["suggestion"] == "Greet someone else, or ask first."
        text = cli("show", bad)
        assert "PLUGIN_GREETING_REFUSED" in text and "Greet someone else, or ask first." in text
        assert stop_engine(engine) == 0, log.read_text()


async def test_a_default_name_comes_only_from_the_family_of_the_tasks_own_registry(
    installed: None, tmp_path: Path
) -> None:
    # Two registries in one process: one loaded the plug-in family (whose name key is `who`),
    # the other runs a plain handler under the same type name.
    with_family = default_registry()
    without = ExecutorRegistry()
    without.register_handler("plugin_greet", lambda task_id, params: {"handled": True})
    assert with_family.name_keys("plugin_greet") == ("who",)
    assert without.name_keys("plugin_greet") == ()

    async with (
        TaskQueue(tmp_path / "with", registry=with_family) as greeting,
        TaskQueue(tmp_path / "without", registry=without) as plain,
    ):
        greeted = await greeting.get_task(
            await greeting.add_task(Task("plugin_greet", {"who": "Ada"}))
        )
        handled = await plain.get_task(await plain.add_task(Task("plugin_greet", {"who": "Ada"})))
        assert greeted.name == "Ada"
        assert handled.name == "plugin_greet"

        template = {"task_type": "plugin_greet", "params": {"who": "Ada"}}
        assert (await greeting.schedules.add_schedule(template, every="1h")).name == "Ada"
        assert (await plain.schedules.add_schedule(template, every="1h")).name == "plugin_greet"
