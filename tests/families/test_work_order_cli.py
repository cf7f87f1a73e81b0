"""A work order from the command line, run by a real headless engine (`qtqueue run`).

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


def test_a_work_order_from_the_command_line_waits_for_approval_then_runs(
    tmp_path: Path, with_entry_point: None
) -> None:
    data_dir = tmp_path / "q"
    origin = make_bare_repo(tmp_path / "repos", {"README.md": "hello\n"})
    agent = tmp_path / "agent.py"
    agent.write_text(AGENT)
    run = qtqueue_command(tmp_path, data_dir=data_dir)
    assert "work_order" in ok(run("types"))

    template = json.dumps([sys.executable, str(agent), "{task_type}", "{title}"])
    ok(run("config", "set", f"work_order.work_order_agent_command={template}"))
    # A template that would put a value into another argument's text is refused, coded.
    refused(
        run("config", "set", 'work_order.work_order_agent_command=["sh", "-c", "echo {title}"]'),
        "VALIDATION_INVALID_PARAMS",
    )

    with running_engine(data_dir, qtqueue_env(tmp_path), tmp_path / "engine.log"):
        params = {
            "title": "Write the notes",
            "description": "Add NOTES.md",
            "repository_url": str(origin),
            "branch_name": "main",
            "task_type": "docs",
        }
        pairs = [arg for key, value in params.items() for arg in ("-p", f"{key}={value}")]
        added = ok(run("add", "work_order", "--approval", "human_required", "--json", *pairs))
        task_id = json.loads(added)["id"]
        assert ok(run("approve", task_id))
        wait_until(
            lambda: show(run, task_id)["status"] in ("completed", "failed"),
            60,
            what="the work order to end",
        )
        task = show(run, task_id)
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
