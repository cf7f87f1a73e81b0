"""Specification of `qtqueue queue`, `qtqueue status` and `qtqueue workers`, run as real
`python -m qtqueue` processes against a real engine (`qtqueue run`) on this machine.

Scarcity is real: a long-running command reserves every CPU core of this machine (CPU cores
are accounted by reservation), so a task that needs one more waits for resources.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from helpers.cli import Run, ok, qtqueue_command, qtqueue_env, running_engine
from helpers.waiting import wait_until

#: A command that runs until its stdin closes (`qtqueue send ID '' --eof`).
UNTIL_EOF = "import sys\nsys.stdin.read()\n"
CORES = psutil.cpu_count(logical=True) or 1


@pytest.fixture
def cli(tmp_path: Path, data_dir: Path) -> Run:
    """`python -m qtqueue --data-dir DATA_DIR ARGS…` to completion."""
    return qtqueue_command(tmp_path, data_dir=data_dir)


@pytest.fixture
def engine_pid(data_dir: Path, tmp_path: Path) -> Iterator[int]:
    """A running engine (`qtqueue run`); its pid."""
    with running_engine(data_dir, qtqueue_env(tmp_path), tmp_path / "engine.log") as proc:
        yield proc.pid


def as_json(cli: Run, *args: str) -> Any:
    return json.loads(ok(cli(*args, "--json")))


def add_until_eof(cli: Run, *options: str) -> str:
    """Add a command that runs until its input ends; its id."""
    return ok(
        cli("add", "command", "--param", "interactive=true", *options, "--", sys.executable,
            "-c", UNTIL_EOF)
    ).strip()  # fmt: skip


def reaches(cli: Run, task_id: str, status: str) -> None:
    """Wait until the task has `status`."""
    wait_until(
        lambda: as_json(cli, "show", task_id)["status"] == status,
        timeout_s=30,
        what=f"{task_id} is {status}",
    )


def test_queue_lists_what_held_each_task_and_empties_as_they_start(
    cli: Run, engine_pid: int
) -> None:
    assert ok(cli("queue")).startswith("No queued tasks")
    assert as_json(cli, "queue") == []

    ok(cli("queues", "set", "nightly", "--concurrency", "1"))
    holder = add_until_eof(cli, "--needs-cpu", str(CORES), "--queue", "nightly")
    reaches(cli, holder, "running")
    limited = ok(cli("add", "command", "--queue", "nightly", "--name", "limited", "--", "true"))
    short = ok(cli("add", "command", "--needs-cpu", "1", "--name", "needs a core", "--", "true"))
    limited, short = limited.strip(), short.strip()

    def listed() -> dict[str, Any]:
        return {row["id"]: row for row in as_json(cli, "queue")}

    rows = wait_until(lambda: len(listed()) == 2 and listed(), what="both are listed", timeout_s=30)
    assert rows[short]["last_reason"] == "Insufficient CPU: 0.00 available, task requires 1.00"
    assert rows[short]["needs"] == {"cpu_cores": 1.0}
    assert rows[short]["held_by"] == "resources"
    assert rows[short]["target"] == "default"
    assert rows[short]["attempts"] >= 1
    assert rows[short]["waiting_s"] >= 0
    assert rows[limited]["last_reason"] == "waiting: queue 'nightly' is at its limit of 1"
    assert (rows[limited]["held_by"], rows[limited]["target"]) == ("queue_limit", "nightly")
    assert set(rows[limited]) >= {"id", "name", "needs", "waiting_s", "attempts",
                                  "last_reason", "target"}  # fmt: skip

    text = ok(cli("queue"))
    assert "  QUEUED TASKS (2 pending)" in text.splitlines()
    assert f"Task ID: {short}" in text
    assert "    Needs:          1 CPU core" in text.splitlines()
    assert "    Last Reason:    Insufficient CPU: 0.00 available, task requires 1.00" in text
    assert "    Queue:          nightly" in text

    ok(cli("send", holder, "", "--eof"))
    wait_until(
        lambda: as_json(cli, "queue") == [], what="both start once the holder ends", timeout_s=30
    )
    for task_id in (limited, short):
        reaches(cli, task_id, "completed")


def test_workers_show_busy_and_suspended_slots_with_their_tasks(cli: Run, engine_pid: int) -> None:
    idle = as_json(cli, "workers")
    assert (idle["total"], idle["idle"], idle["busy"], idle["suspended"]) == (
        idle["total"], idle["total"], 0, 0
    )  # fmt: skip
    first = add_until_eof(cli, "--name", "first")
    second = add_until_eof(cli, "--name", "second")
    for task_id in (first, second):
        reaches(cli, task_id, "running")
    ok(cli("pause", second))

    stats = as_json(cli, "workers")
    assert (stats["idle"], stats["busy"], stats["suspended"]) == (idle["total"] - 2, 1, 1)
    taken = [(s["state"], s["task_id"], s["task_name"]) for s in stats["slots"] if s["task_id"]]
    assert sorted(taken) == [("busy", first, "first"), ("suspended", second, "second")]
    table = ok(cli("workers"))
    assert f"suspended  {second[:8]}  second" in table
    assert table.endswith(f"{idle['total']} workers: {idle['total'] - 2} idle, 1 busy, "
                          "1 suspended\n")  # fmt: skip

    ok(cli("resume", second))
    for task_id in (first, second):
        ok(cli("send", task_id, "", "--eof"))
    for task_id in (first, second):
        reaches(cli, task_id, "completed")
    assert as_json(cli, "workers")["idle"] == idle["total"]


def test_status_is_the_engines_overview(cli: Run, engine_pid: int, data_dir: Path) -> None:
    holder = add_until_eof(cli, "--needs-cpu", str(CORES))
    reaches(cli, holder, "running")
    waiter = ok(cli("add", "command", "--needs-cpu", "1", "--", "true")).strip()
    wait_until(lambda: as_json(cli, "queue"), what="the waiter could not start", timeout_s=30)

    st = as_json(cli, "status")
    assert st["engine"] == {
        "state": "dispatching",
        "dispatching": True,
        "paused": False,
        "pid": engine_pid,
        "data_dir": str(data_dir),
    }
    assert (st["running"], st["waiting"], st["pending"]) == (1, 1, 1)
    assert st["workers"]["busy"] == 1
    assert st["free"]["cpu_cores"] == 0.0
    assert st["free"]["memory_gb"] > 0
    default = next(q for q in st["queues"] if q["name"] == "default")
    assert (default["running"], default["waiting"]) == (1, 1)

    text = ok(cli("status"))
    assert f"engine    dispatching (pid {engine_pid}, data dir {data_dir})" in text
    assert "waiting   1 could not start" in text
    assert "free      CPU 0.0 cores, memory " in text

    ok(cli("send", holder, "", "--eof"))
    reaches(cli, waiter, "completed")


def test_without_an_engine_the_views_say_so(cli: Run, data_dir: Path) -> None:
    assert "no engine is running" in ok(cli("status"))
    assert as_json(cli, "status")["engine"]["dispatching"] is False
    assert ok(cli("workers")).endswith("(no engine is running)\n")
    assert as_json(cli, "queue") == []
    assert not os.path.exists(data_dir / "engine.json")
