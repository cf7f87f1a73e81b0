"""Specification of the schedule commands: `qtqueue schedule …` and `qtqueue add … --every`.

The commands run on a backend that reaches a real queue's `ScheduleManager` through the same
`(queue, params)` actions the local API serves (`queue_actions`).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from helpers.cli import qtqueue_command

from qtqueue.api.schedule_actions import SCHEDULE_ACTIONS, queue_actions
from qtqueue.cli.commands.schedule import (
    add_as_schedule,
    add_schedule_options,
    add_schedule_parser,
    cmd_schedule,
    wants_schedule,
)
from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.core.task import TaskStatus
from qtqueue.engine.queue import TaskQueue
from qtqueue.engine.schedules import ScheduleManager, schedule_tag

C = TaskErrorCode
DF = {"task_type": "custom_command", "params": {"command": "df", "args": ["-h"]}}


class ScheduleBackend:
    """A `Backend` whose actions are the schedule actions, bound to one manager."""

    def __init__(self, queue: TaskQueue, manager: ScheduleManager, remote: bool = True) -> None:
        self.queue = queue
        self.remote = remote
        self._actions = queue_actions(lambda _queue: manager)

    async def call(self, action: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        result = await self._actions[action](self.queue, params or {})
        return json.loads(json.dumps(result))  # what crosses the API is JSON


@pytest.fixture
async def schedules(queue: TaskQueue) -> AsyncIterator[ScheduleManager]:
    yield queue.schedules  # started and closed with the queue


@pytest.fixture
def backend(queue: TaskQueue, schedules: ScheduleManager) -> ScheduleBackend:
    return ScheduleBackend(queue, schedules)


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="qtqueue")
    add_schedule_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["schedule", *argv])


async def run(backend: ScheduleBackend, capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert await cmd_schedule(backend, parse(*argv)) == 0  # type: ignore[arg-type]
    return capsys.readouterr().out


async def test_add_prints_the_new_schedule_and_ls_lists_it(
    backend: ScheduleBackend, schedules: ScheduleManager, capsys: pytest.CaptureFixture[str]
) -> None:
    out = await run(
        backend, capsys, "add", "--every", "1h30m", "--name", "disk", "--task", json.dumps(DF)
    )
    [s] = schedules.list_schedules()
    assert out.strip() == s.id
    assert (s.name, s.interval_s, s.template["params"]) == ("disk", 5400.0, DF["params"])

    table = (await run(backend, capsys, "ls")).splitlines()
    assert table[0].split() == ["ID", "NAME", "WHEN", "STATE", "NEXT", "RUN", "LAST", "RUN",
                                "RUNS", "MISSED"]  # fmt: skip
    assert table[1].startswith(s.id[:8])
    for text in ("disk", "every 1h30m", "active", "run_once"):
        assert text in table[1]

    listed = json.loads(await run(backend, capsys, "ls", "--json"))
    assert [x["id"] for x in listed] == [s.id]


async def test_ls_says_when_there_is_no_schedule(
    backend: ScheduleBackend, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await run(backend, capsys, "ls") == "no schedules\n"


async def test_show_pause_resume_edit_run_now_and_rm_by_name(
    backend: ScheduleBackend,
    schedules: ScheduleManager,
    queue: TaskQueue,
    capsys: pytest.CaptureFixture[str],
) -> None:
    s = await schedules.add_schedule(DF, cron="0 3 * * *", name="nightly", missed="skip")

    shown = await run(backend, capsys, "show", "nightly")
    for line in ("id:        " + s.id, "when:      cron 0 3 * * *", "state:     active",
                 "missed:    skip", "runs:      0"):  # fmt: skip
        assert line in shown.splitlines()

    assert (await run(backend, capsys, "pause", s.id[:6])).startswith(f"paused {s.id[:8]} nightly")
    assert schedules.get_schedule(s.id).paused
    assert (await run(backend, capsys, "resume", "nightly")).startswith("active")

    edited = await run(backend, capsys, "edit", "nightly", "--every", "10m", "--missed", "run_once")
    assert "when:      every 10m" in edited.splitlines()
    assert schedules.get_schedule(s.id).missed == "run_once"
    edited = await run(backend, capsys, "edit", "nightly", "--cron", "@daily", "--timezone", "UTC")
    assert "when:      cron @daily (UTC)" in edited.splitlines()

    task_id = (await run(backend, capsys, "run-now", "nightly")).strip()
    task = await queue.wait_for(task_id, timeout_s=10)
    assert task.status == TaskStatus.COMPLETED
    assert schedule_tag(s.id) in task.tags

    assert await run(backend, capsys, "rm", "nightly") == f"removed schedule {s.id[:8]}\n"
    assert schedules.list_schedules() == []
    assert (await queue.get_task(task_id)).status == TaskStatus.COMPLETED  # the task stays


async def test_a_template_can_come_from_a_file(
    backend: ScheduleBackend, schedules: ScheduleManager, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    path = tmp_path / "task.json"
    path.write_text(json.dumps(DF), encoding="utf-8")
    await run(backend, capsys, "add", "--cron", "@hourly", "--paused", "--task", f"@{path}")
    [s] = schedules.list_schedules()
    assert s.paused and s.template["params"] == DF["params"]
    edited = {**DF, "params": {"command": "du"}}
    path.write_text(json.dumps(edited), encoding="utf-8")
    await run(backend, capsys, "edit", s.id, "--task", f"@{path}", "--name", "du")
    assert schedules.get_schedule(s.id).template["params"] == {"command": "du"}
    assert schedules.get_schedule(s.id).name == "du"


@pytest.mark.parametrize(
    ("argv", "code"),
    [
        (["add", "--every", "10x", "--task", json.dumps(DF)], C.VALIDATION_INVALID_FORMAT),
        (["add", "--cron", "0 3 * *", "--task", json.dumps(DF)], C.VALIDATION_INVALID_FORMAT),
        (["add", "--every", "1h", "--task", "[1, 2]"], C.VALIDATION_INVALID_FORMAT),
        (["add", "--every", "1h", "--task", "{not json"], C.VALIDATION_INVALID_FORMAT),
        (["add", "--every", "1h", "--task", '{"task_type": "custom_command"}'],
         C.VALIDATION_MISSING_REQUIRED),
        (["add", "--task", json.dumps(DF)], C.VALIDATION_MISSING_REQUIRED),
        (["show", "nope"], C.QUEUE_SCHEDULE_NOT_FOUND),
        (["edit", "nope", "--every", "1h"], C.QUEUE_SCHEDULE_NOT_FOUND),
        (["run-now", "nope"], C.QUEUE_SCHEDULE_NOT_FOUND),
    ],
)  # fmt: skip
async def test_bad_input_is_a_queue_error_with_its_code(
    backend: ScheduleBackend, schedules: ScheduleManager, argv: list[str], code: TaskErrorCode
) -> None:
    with pytest.raises(QueueError) as exc:
        await cmd_schedule(backend, parse(*argv))  # type: ignore[arg-type]
    assert exc.value.code == code
    assert schedules.list_schedules() == []


async def test_edit_needs_something_to_change(
    backend: ScheduleBackend, schedules: ScheduleManager
) -> None:
    s = await schedules.add_schedule(DF, every="1h")
    with pytest.raises(QueueError) as exc:
        await cmd_schedule(backend, parse("edit", s.id))  # type: ignore[arg-type]
    assert exc.value.code == C.VALIDATION_MISSING_REQUIRED


@pytest.mark.parametrize(
    "argv",
    [
        ["add", "--every", "1h", "--cron", "@daily", "--task", "{}"],
        ["add", "--every", "1h"],
        ["add", "--every", "1h", "--missed", "sometimes", "--task", "{}"],
        ["frobnicate"],
        [],
    ],
)
def test_bad_usage_exits_with_status_2(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        parse(*argv)
    assert exc.value.code == 2


def add_parser() -> argparse.ArgumentParser:
    """What `qtqueue add` gains: --every / --cron / --timezone / --missed beside its own."""
    parser = argparse.ArgumentParser(prog="qtqueue add")
    parser.add_argument("--json", action="store_true")
    add_schedule_options(parser)
    return parser


async def test_add_with_every_creates_a_schedule_of_the_task_it_built(
    queue: TaskQueue,
    schedules: ScheduleManager,
    capsys: pytest.CaptureFixture[str],
) -> None:
    offline = ScheduleBackend(queue, schedules, remote=False)
    args = add_parser().parse_args(["--every", "10m", "--missed", "skip"])
    assert wants_schedule(args)

    assert await add_as_schedule(offline, args, dict(DF)) == 0  # type: ignore[arg-type]

    [s] = schedules.list_schedules()
    out, err = capsys.readouterr()
    assert out.strip() == s.id
    assert "no engine is running; the schedule starts when one runs" in err
    assert (s.interval_s, s.missed, s.template["params"]) == (600.0, "skip", DF["params"])
    assert await queue.list_tasks() == []


async def test_add_with_cron_and_json_prints_the_schedule(
    backend: ScheduleBackend, capsys: pytest.CaptureFixture[str]
) -> None:
    args = add_parser().parse_args(["--cron", "0 3 * * *", "--timezone", "UTC", "--json"])
    await add_as_schedule(backend, args, dict(DF))  # type: ignore[arg-type]
    printed = json.loads(capsys.readouterr().out)
    assert printed["engine_running"] is True
    assert (printed["schedule"]["cron"], printed["schedule"]["timezone"]) == ("0 3 * * *", "UTC")


def test_add_without_every_or_cron_adds_a_plain_task() -> None:
    assert not wants_schedule(add_parser().parse_args([]))


def test_every_schedule_action_is_bound_to_the_queue() -> None:
    assert set(queue_actions(lambda _queue: None)) == set(SCHEDULE_ACTIONS)  # type: ignore[arg-type, return-value]


# --- the real `qtqueue` command, end to end -------------------------------------------------


def test_the_qtqueue_command_adds_lists_and_runs_a_schedule(tmp_path: Path) -> None:
    """`qtqueue add … --every` stores a schedule (no engine running), `schedule ls` shows it,
    `schedule run-now` adds its task, `schedule rm` deletes it, and a bad interval is refused
    with its code and a hint."""
    qtqueue = qtqueue_command(tmp_path)

    added = qtqueue("add", "command", "--every", "10m", "--name", "nightly sync", "--json",
                    "--", "echo", "hi")  # fmt: skip
    assert added.returncode == 0, added.stderr
    schedule = json.loads(added.stdout)["schedule"]
    assert schedule["interval_s"] == 600 and schedule["template"]["name"] == "nightly sync"
    listed = qtqueue("schedule", "ls")
    assert listed.returncode == 0 and "nightly sync" in listed.stdout, listed.stderr
    assert qtqueue("schedule", "run-now", schedule["id"]).returncode == 0
    tasks = json.loads(qtqueue("ls", "--json").stdout)
    assert [t["name"] for t in tasks] == ["nightly sync"]
    assert schedule_tag(schedule["id"]) in tasks[0]["tags"]
    assert qtqueue("schedule", "rm", schedule["id"]).returncode == 0
    assert "nightly sync" not in qtqueue("schedule", "ls").stdout

    bad = qtqueue("add", "command", "--every", "often", "--", "true")
    assert bad.returncode != 0 and "error: VALIDATION_INVALID_FORMAT: " in bad.stderr
    assert "\nhint: " in bad.stderr and "Traceback" not in bad.stderr
