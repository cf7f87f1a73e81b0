"""A work order from the command line, run by a real headless engine (`qtqueue run`); its agent
asks a person through `qtqueue ask` and goes on with the answer.

The family comes in through its `qtqueue.families` entry point, as every family does; while
the installed metadata predates that entry point, the test writes it into a dist-info
directory on the path (as `pip install` would leave it).
"""

from __future__ import annotations

import json
import os
import sys
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest
from helpers.cli import Run, ok, qtqueue_command, qtqueue_env, refused, running_engine
from helpers.git_repos import git, make_bare_repo
from helpers.waiting import wait_until

from qtqueue.executors import FAMILY_ENTRY_POINT_GROUP

from .conftest import write_dist_info

AGENT = """\
import os, pathlib, sys
pathlib.Path("NOTES.md").write_text(" ".join(sys.argv[1:]) + "\\n")
print("agent for task", os.environ["QTQUEUE_TASK_ID"])
print("wrote NOTES.md")
"""

#: An agent that asks which name to write, and writes the answer.
ASKING_AGENT = """\
import pathlib, subprocess, sys
ask = [sys.executable, "-m", "qtqueue", "ask", "--type", "clarification", "Which name?"]
answer = subprocess.run(ask, capture_output=True, text=True, check=True).stdout.strip()
pathlib.Path("NAMES.md").write_text(answer + "\\n")
print("told", answer)
"""


@pytest.fixture
def with_entry_point(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The work_order entry point visible to the processes the test starts."""
    if any(ep.name == "work_order" for ep in entry_points(group=FAMILY_ENTRY_POINT_GROUP)):
        return
    site = write_dist_info(
        tmp_path / "site",
        name="qtqueue-work-order-entry",
        entries="work_order = qtqueue.families.work_order:family",
    )
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]))


def show(run: Run, task_id: str) -> dict[str, Any]:
    shown: dict[str, Any] = json.loads(ok(run("show", task_id, "--json")))
    return shown


def set_agent(run: Run, template: list[str]) -> None:
    ok(run("config", "set", f"work_order.work_order_agent_command={json.dumps(template)}"))


def add_work_order(run: Run, *options: str, **params: str) -> str:
    """`qtqueue add work_order OPTIONS -p KEY=VALUE…`; the new task's id."""
    pairs = [arg for key, value in params.items() for arg in ("-p", f"{key}={value}")]
    added: str = json.loads(ok(run("add", "work_order", "--json", *options, *pairs)))["id"]
    return added


def ended(run: Run, task_id: str) -> dict[str, Any]:
    """The task as `show --json` gives it, once it has ended."""
    wait_until(
        lambda: show(run, task_id)["status"] in ("completed", "failed", "cancelled"),
        60,
        what="the work order to end",
    )
    return show(run, task_id)


def prepared(tmp_path: Path, agent_source: str) -> tuple[Run, Path, Path]:
    """`run` on the data directory TMP/q, a bare repository to work on, and the agent script
    written from `agent_source`."""
    origin = make_bare_repo(tmp_path / "repos", {"README.md": "hello\n"})
    agent = tmp_path / "agent.py"
    agent.write_text(agent_source)
    return qtqueue_command(tmp_path, data_dir=tmp_path / "q"), origin, agent


def test_a_work_order_from_the_command_line_waits_for_approval_then_runs(
    tmp_path: Path, with_entry_point: None
) -> None:
    data_dir = tmp_path / "q"
    run, origin, agent = prepared(tmp_path, AGENT)
    assert "work_order" in ok(run("types"))

    set_agent(run, [sys.executable, str(agent), "{task_type}", "{title}"])
    # A template that would put a value into another argument's text is refused, coded.
    refused(
        run("config", "set", 'work_order.work_order_agent_command=["sh", "-c", "echo {title}"]'),
        "VALIDATION_INVALID_PARAMS",
    )

    with running_engine(data_dir, qtqueue_env(tmp_path), tmp_path / "engine.log"):
        task_id = add_work_order(
            run,
            "--approval",
            "human_required",
            title="Write the notes",
            description="Add NOTES.md",
            repository_url=str(origin),
            branch_name="main",
            task_type="docs",
        )
        assert ok(run("approve", task_id))
        task = ended(run, task_id)
        assert task["status"] == "completed", task
        result = task["result"]
        assert result["files_modified"] == ["NOTES.md"]
        worktree = Path(result["worktree"])
        assert worktree == data_dir / "work_orders" / task_id / "worktree"
        assert (worktree / "NOTES.md").read_text() == "docs Write the notes\n"
        log = ok(run("log", task_id))
        assert f"agent for task {task_id}" in log  # QTQUEUE_TASK_ID reached the agent
        assert "wrote NOTES.md" in log
    assert f"work-order/{task_id[:8]}" in git(origin, "branch", "--list")


def test_a_work_orders_agent_asks_a_person_and_goes_on_with_the_answer(
    tmp_path: Path, with_entry_point: None
) -> None:
    data_dir = tmp_path / "q"
    run, origin, agent = prepared(tmp_path, ASKING_AGENT)
    set_agent(run, [sys.executable, str(agent)])

    with running_engine(data_dir, qtqueue_env(tmp_path), tmp_path / "engine.log"):
        task_id = add_work_order(
            run,
            title="Name it",
            description="Write the name you are told into NAMES.md",
            repository_url=str(origin),
            branch_name="main",
        )

        def asked() -> dict[str, Any] | None:
            open_ones = json.loads(ok(run("questions", "--json")))
            return next((q for q in open_ones if q["task_id"] == task_id), None)

        question = wait_until(asked, 60, what="the agent to ask")
        assert (question["message"], question["request_type"]) == ("Which name?", "clarification")
        assert show(run, task_id)["status"] == "running"  # it waits for the answer, running

        ok(run("answer", question["id"], "Ada Lovelace"))
        task = ended(run, task_id)
        assert task["status"] == "completed", task
        assert task["result"]["files_modified"] == ["NAMES.md"]
        assert (Path(task["result"]["worktree"]) / "NAMES.md").read_text() == "Ada Lovelace\n"
        assert "told Ada Lovelace" in ok(run("log", task_id))
