"""Specification of the engine's settings (`qtqueue.settings`): one model, saved in the store,
applied by every engine that opens the data directory, changed through the API."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from helpers.cli import ok, qtqueue_command

from qtqueue.api.actions import run_action
from qtqueue.core.errors import TaskErrorCode
from qtqueue.core.task import Task, TaskStatus, TaskType
from qtqueue.engine.queue import ShutdownPolicy, TaskQueue
from qtqueue.executors import default_registry
from qtqueue.settings import (
    ENGINE_KEY,
    EngineSettings,
    Settings,
    apply_settings,
    changed_settings,
    family_key,
    family_settings,
    saved_settings,
)

C = TaskErrorCode
CHANGES = {
    "engine": {
        "max_concurrent": 2,
        "category_limits": {"gpu": 1},
        "retention_days": 7,
        "log_cap_mb": 3,
        "shutdown_policy": "cancel",
    },
    "families": {"docker": {"docker_host": "tcp://build-box:2375"}},
}


def engine(data_dir: Path, **kwargs: Any) -> TaskQueue:
    """A queue as the composition roots build one: saved settings applied before start."""
    queue = TaskQueue(data_dir, registry=default_registry(entry_points=False), **kwargs)
    apply_settings(queue, saved_settings(queue.data_dir))
    return queue


async def call(queue: TaskQueue, action: str, **params: Any) -> dict[str, Any]:
    answer = await run_action(queue, {"action": action, "params": params})
    assert answer["ok"], answer
    result: dict[str, Any] = answer["result"]
    return result


async def test_settings_set_through_the_api_apply_at_once_and_survive_a_restart(
    data_dir: Path,
) -> None:
    async with engine(data_dir) as queue:
        before = await call(queue, "config_get")
        assert before["engine"]["max_concurrent"] == 4
        answer = await call(queue, "config_set", **CHANGES)
        # Applied to the running engine at once, and answered as config_get answers.
        assert queue.max_concurrent == 2
        assert queue.category_limits == {"gpu": 1}
        assert queue.retention_s == 7 * 86400
        assert queue.log_cap_bytes == 3 * 1024 * 1024
        assert queue.shutdown_policy == ShutdownPolicy.CANCEL
        assert queue.executor_settings["docker_host"] == "tcp://build-box:2375"
        assert answer == await call(queue, "config_get")

    async with engine(data_dir) as reopened:
        assert await call(reopened, "config_get") == answer
        assert reopened.max_concurrent == 2
        assert reopened.executor_settings["docker_host"] == "tcp://build-box:2375"


async def test_only_what_was_set_is_saved_so_the_rest_keeps_what_the_engine_was_built_with(
    data_dir: Path,
) -> None:
    async with engine(data_dir) as queue:
        await call(queue, "config_set", engine={"retention_days": 0})
        await call(queue, "config_set", engine={"log_cap_mb": 5})
    async with engine(data_dir, max_concurrent=3) as reopened:
        got = (await call(reopened, "config_get"))["engine"]
        assert (got["max_concurrent"], got["retention_days"], got["log_cap_mb"]) == (3, 0, 5)
        assert reopened.retention_s is None  # 0 days: kept for ever


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"engine": {"max_concurrent": 0}}, "engine.max_concurrent"),
        ({"engine": {"retention_days": -1}}, "engine.retention_days"),
        ({"engine": {"log_cap_mb": "big"}}, "engine.log_cap_mb"),
        ({"engine": {"category_limits": {"gpu": 0}}}, "engine.category_limits.gpu"),
        ({"engine": {"shutdown_policy": "explode"}}, "engine.shutdown_policy"),
        ({"engine": {"max_concurent": 2}}, "engine.max_concurent: unknown setting"),
        ({"families": {"docker": {"docker_host": "build-box"}}}, "docker.docker_host"),
        (
            {"families": {"docker": {"docker_host": "tcp://ci:hunter2@build-box:2376"}}},
            "docker.docker_host: must not hold a user name or password",
        ),
        (
            {"families": {"docker": {"docker_host": "ssh://ci:hunter2@build-box"}}},
            "docker.docker_host: must not hold a user name or password",
        ),
    ],
)
async def test_a_bad_value_is_refused_with_a_code_naming_the_field_and_nothing_changes(
    data_dir: Path, changes: dict[str, Any], field: str
) -> None:
    async with engine(data_dir) as queue:
        before = await call(queue, "config_get")
        answer = await run_action(queue, {"action": "config_set", "params": changes})
        assert answer["ok"] is False
        assert answer["error"]["code"] == C.VALIDATION_INVALID_PARAMS.value
        assert any(f.startswith(field) for f in answer["error"]["details"]["fields"]), answer
        assert field.split(":")[0] in answer["error"]["message"]
        assert "hunter2" not in json.dumps(answer)  # a credential given is never echoed
        assert await call(queue, "config_get") == before
        assert await queue.store.get_meta(ENGINE_KEY) is None


async def test_settings_of_a_family_that_does_not_exist_are_refused(data_dir: Path) -> None:
    async with engine(data_dir) as queue:
        params = {"families": {"no_such_family": {"context": "x"}}}
        answer = await run_action(queue, {"action": "config_set", "params": params})
        assert answer["error"]["code"] == C.VALIDATION_INVALID_FORMAT.value
        assert "no_such_family" in answer["error"]["message"]


@pytest.mark.parametrize("stored", ["{not json", '{"max_concurrent": -5}', "[1, 2]"])
async def test_a_damaged_saved_value_gives_the_defaults_and_a_warning_never_a_failed_start(
    data_dir: Path, stored: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with TaskQueue(data_dir, dispatch=False) as queue:
        await queue.store.set_meta(ENGINE_KEY, stored)
        await queue.store.set_meta(family_key("docker"), stored)
    with caplog.at_level(logging.WARNING, logger="qtqueue.storage.meta"):
        async with engine(data_dir, max_concurrent=3) as reopened:
            assert reopened.max_concurrent == 3
            assert "docker_host" not in reopened.executor_settings
            got = await call(reopened, "config_get")
    assert got["engine"] == {**EngineSettings().model_dump(mode="json"), "max_concurrent": 3}
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(ENGINE_KEY in m for m in warned), warned
    assert any(family_key("docker") in m for m in warned), warned


def test_a_data_directory_without_a_store_has_no_saved_settings_and_is_left_untouched(
    tmp_path: Path,
) -> None:
    assert saved_settings(tmp_path / "none").engine.model_fields_set == set()
    assert not (tmp_path / "none").exists()


async def test_qtqueue_run_honours_a_limit_saved_in_the_store(tmp_path: Path) -> None:
    """The window and the CLI save through the store; a headless engine started later runs
    one task at a time as saved, not the four `qtqueue run` defaults to."""
    data_dir, trace = tmp_path / "q", tmp_path / "trace"
    script = f'echo "start $0" >> {trace}; sleep 0.3; echo "end $0" >> {trace}'
    async with TaskQueue(data_dir, dispatch=False) as offline:  # no engine runs
        await call(offline, "config_set", engine={"max_concurrent": 1})
        for n in range(3):
            await offline.add_task(
                Task(TaskType.CUSTOM_COMMAND, {"command": "sh", "args": ["-c", script, str(n)]})
            )

    ok(qtqueue_command(tmp_path, data_dir=data_dir)("run", "--until-idle"))

    lines = trace.read_text().splitlines()
    assert len(lines) == 6, lines
    # One at a time: every start is followed by its own end before the next start.
    assert all(a.split()[0] == "start" and b == f"end {a.split()[1]}"
               for a, b in zip(lines[::2], lines[1::2], strict=True)), lines  # fmt: skip


async def test_qtqueue_run_options_win_over_the_saved_settings_for_that_run(
    tmp_path: Path,
) -> None:
    """`qtqueue run --max-concurrent 2 --on-exit cancel` runs two at once though the store says
    one: what the user typed for this run wins (and the saved setting stays as it was)."""
    data_dir, meet = tmp_path / "q", tmp_path / "meet"
    meet.mkdir()
    # Each task says it started, then waits (up to 10 s) for the other: they both complete only
    # if they run at the same time.
    script = (
        f"touch {meet}/$0; i=0; while [ ! -e {meet}/$1 ]; do sleep 0.02; i=$((i+1)); "
        "[ $i -gt 500 ] && exit 1; done; exit 0"
    )
    async with TaskQueue(data_dir, dispatch=False) as offline:
        await call(offline, "config_set", engine={"max_concurrent": 1, "shutdown_policy": "wait"})
        ids = [
            await offline.add_task(
                Task(TaskType.CUSTOM_COMMAND, {"command": "sh", "args": ["-c", script, a, b]})
            )
            for a, b in (("a", "b"), ("b", "a"))
        ]

    run = qtqueue_command(tmp_path, data_dir=data_dir)
    ok(run("run", "--until-idle", "--max-concurrent", "2", "--on-exit", "cancel"))

    async with TaskQueue(data_dir, dispatch=False) as offline:
        assert [(await offline.get_task(i)).status for i in ids] == [TaskStatus.COMPLETED] * 2
    assert saved_settings(data_dir).engine.max_concurrent == 1


def test_an_ssh_login_name_in_the_docker_host_is_kept() -> None:
    """ssh://user@host names the login (its key stays with ssh), so only a password, or a user
    name in another scheme, is refused."""
    saved = changed_settings(
        Settings(EngineSettings(), {}),
        {},
        {"docker": {"docker_host": "ssh://deploy@build-box"}},
        family_settings(default_registry()),
    )
    assert saved.families["docker"].model_dump() == {"docker_host": "ssh://deploy@build-box"}
