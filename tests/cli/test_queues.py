"""`qtqueue queues` and the queue defaults `qtqueue add` gets: real `python -m qtqueue`
processes on real data directories."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any, Protocol

import pytest
from helpers.cli import ok, qtqueue_command, refused


class Cli(Protocol):
    def __call__(
        self, *args: str, input: str | None = None
    ) -> subprocess.CompletedProcess[str]: ...


@pytest.fixture
def cli(tmp_path: Path, data_dir: Path) -> Cli:
    """Run `python -m qtqueue --data-dir DATA_DIR ARGS…` to completion."""
    return qtqueue_command(tmp_path, data_dir=data_dir)


def shown(cli: Cli, task_id: str) -> dict[str, Any]:
    return json.loads(ok(cli("show", task_id, "--json")))  # type: ignore[no-any-return]


def test_queues_lists_the_documented_defaults(cli: Cli) -> None:
    listed = [line.split() for line in ok(cli("queues")).splitlines()]
    assert listed[0] == [
        "QUEUE", "CONCURRENCY", "TIMEOUT", "RETRIES", "RESULT-TTL", "FAILURE-TTL", "MAX-LENGTH",
        "ALERT-DEPTH", "RUNNING", "WAITING",
    ]  # fmt: skip
    assert listed[1:] == [
        ["high_priority", "-", "3600s", "3", "24h00m", "168h00m", "-", "-", "0", "0"],
        ["default", "-", "7200s", "3", "24h00m", "168h00m", "-", "-", "0", "0"],
        ["low_priority", "-", "14400s", "2", "12h00m", "168h00m", "-", "-", "0", "0"],
    ]


def test_a_command_added_without_options_gets_its_queues_retries_and_max_retries_0_runs_once(
    cli: Cli, tmp_path: Path
) -> None:
    plain = shown(cli, ok(cli("add", "command", "--", "false")).strip())
    assert (plain["task"]["queue"], plain["task"]["timeout_s"]) == ("default", 7200)
    assert plain["retry"]["max_retries"] == 3
    low = shown(cli, ok(cli("add", "command", "--priority", "low", "--", "false")).strip())
    assert (low["task"]["queue"], low["retry"]["max_retries"]) == ("low_priority", 2)
    no_timeout = shown(cli, ok(cli("add", "command", "--timeout", "0", "--", "true")).strip())
    assert no_timeout["task"]["timeout_s"] is None

    once = qtqueue_command(tmp_path, data_dir=tmp_path / "once")
    task_id = ok(once("add", "command", "--max-retries", "0", "--", "false")).strip()
    ok(once("run", "--until-idle"))
    ran = shown(once, task_id)
    assert (ran["status"], ran["retry"]["count"], ran["retry"]["max_retries"]) == ("failed", 0, 0)
    assert ran["retry"]["dead_letter"] is False


def test_queue_settings_are_changed_kept_and_a_full_queue_refuses_more(cli: Cli) -> None:
    made = json.loads(
        ok(cli("queues", "set", "default", "--failure-ttl", "30d", "--max-length", "1",
               "--timeout", "none", "--json"))
    )[0]  # fmt: skip
    assert (made["failure_ttl_s"], made["max_length"], made["timeout_s"]) == (2592000, 1, None)
    assert made["max_retries"] == 3, "what was not changed keeps its default"
    first = ok(cli("add", "command", "--", "true")).strip()
    assert shown(cli, first)["task"]["timeout_s"] is None
    err = refused(cli("add", "command", "--", "true"), "QUEUE_FULL")
    assert "queue 'default' is full" in err
    ok(cli("add", "command", "--priority", "high", "--", "true"))  # another queue has room
    again = {q["name"]: q for q in json.loads(ok(cli("queues", "--json")))}
    assert (again["default"]["max_length"], again["default"]["waiting"]) == (1, 1)
    assert cli("queues", "set", "default", "--max-length", "0").returncode == 2
