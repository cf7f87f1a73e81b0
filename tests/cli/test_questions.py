"""`qtqueue ask` inside a task's command, `qtqueue questions` and `qtqueue answer`, with a real
engine process (`qtqueue run`) and real shell commands."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers.cli import Run, ok, qtqueue_env, refused, running_engine
from helpers.waiting import wait_until

TIMEOUT_S = 30


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """Every qtqueue process's environment: `qtqueue` on PATH (the commands tasks run call
    it), never the user's data directory, and no task id of its own."""
    env = qtqueue_env(tmp_path)
    env.pop("QTQUEUE_TASK_ID", None)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


@pytest.fixture
def cli(tmp_path: Path, data_dir: Path, env: dict[str, str]) -> Run:
    """`qtqueue --data-dir DATA_DIR ARGS…` to completion, with `env`."""

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "qtqueue", "--data-dir", str(data_dir), *args],
            capture_output=True, text=True, env=env, timeout=60, check=False,
        )  # fmt: skip

    return run


@pytest.fixture
def engine(data_dir: Path, env: dict[str, str], tmp_path: Path) -> Iterator[None]:
    with running_engine(data_dir, env, tmp_path / "engine.log"):
        yield


def add(cli: Run, script: str) -> str:
    return ok(cli("add", "command", "--max-retries", "0", "--", "sh", "-c", script)).strip()


def open_questions(cli: Run) -> list[dict[str, Any]]:
    return json.loads(ok(cli("questions", "--json")))  # type: ignore[no-any-return]


def asked(cli: Run, task_id: str) -> dict[str, Any]:
    """The open question of `task_id`, once it has asked."""
    return wait_until(  # type: ignore[no-any-return]
        lambda: next((q for q in open_questions(cli) if q["task_id"] == task_id), None),
        TIMEOUT_S,
        what=f"task {task_id} to ask",
    )


def finished(cli: Run, task_id: str) -> dict[str, Any]:
    def shown() -> dict[str, Any] | None:
        task = json.loads(ok(cli("show", task_id, "--json")))
        return task if task["status"] in ("completed", "failed", "cancelled") else None

    return wait_until(shown, TIMEOUT_S, what=f"task {task_id} to finish")  # type: ignore[no-any-return]


@pytest.mark.usefixtures("engine")
def test_a_shell_command_asks_a_person_and_goes_on_with_the_answer(cli: Run) -> None:
    task_id = add(cli, 'branch=$(qtqueue ask "Which branch?") && echo "deploying $branch"')
    q = asked(cli, task_id)
    assert (q["message"], q["request_type"], q["status"]) == ("Which branch?", "question", "open")
    assert 1790 < q["expires_at"] - q["created_at"] <= 1800

    shown = json.loads(ok(cli("show", task_id, "--json")))
    assert shown["status"] == "running"
    assert shown["task"]["current_step"] == "Waiting for an answer: Which branch?"
    listing = ok(cli("questions"))
    assert q["id"][:8] in listing and task_id[:8] in listing and "Which branch?" in listing

    assert "answered" in ok(cli("answer", q["id"][:8], "release-2.1", "--by", "alice"))
    done = finished(cli, task_id)
    assert done["status"] == "completed"
    assert "deploying release-2.1\n" in ok(cli("log", task_id))
    assert open_questions(cli) == []
    (kept,) = json.loads(ok(cli("questions", "--all", "--json", "--task", task_id[:8])))
    assert (kept["status"], kept["answer"], kept["generated_by"], kept["responder_id"]) == (
        "answered",
        "release-2.1",
        "human",
        "alice",
    )
    refused(cli("answer", q["id"], "again"), "QUEUE_INVALID_STATE")


@pytest.mark.usefixtures("engine")
def test_a_rejected_approval_makes_qtqueue_ask_exit_3(cli: Run) -> None:
    task_id = add(
        cli, 'qtqueue ask --type approval "Push to prod?" && echo pushed || echo "refused: $?"'
    )
    q = asked(cli, task_id)
    assert q["request_type"] == "approval"
    ok(cli("answer", q["id"], "--reject"))
    assert finished(cli, task_id)["status"] == "completed"
    log = ok(cli("log", task_id))
    assert "rejected\nrefused: 3\n" in log and "pushed" not in log


@pytest.mark.usefixtures("engine")
def test_an_unanswered_question_times_out_with_its_code_and_a_failing_exit(cli: Run) -> None:
    task_id = add(cli, 'qtqueue ask --timeout 0.5s "Anyone there?"; echo "exit=$?"')
    done = finished(cli, task_id)
    assert done["status"] == "completed"
    log = ok(cli("log", task_id))
    assert "error: QUEUE_QUESTION_TIMEOUT: " in log
    assert "exit=1\n" in log
    (ended,) = json.loads(ok(cli("questions", "--all", "--json")))
    assert ended["status"] == "timed_out"


def test_bad_input_gets_usage_errors_and_coded_errors(cli: Run) -> None:
    outside = cli("ask", "Which?")  # not run by a task: no $QTQUEUE_TASK_ID
    assert outside.returncode == 2
    assert "QTQUEUE_TASK_ID is not set" in outside.stderr
    assert cli("answer", "1234abcd").returncode == 2  # neither TEXT nor --approve/--reject
    refused(cli("answer", "1234abcd", "blue"), "QUEUE_QUESTION_NOT_FOUND")
    refused(cli("answer", "1234abcd", " "), "VALIDATION_MISSING_REQUIRED")
    assert ok(cli("questions")) == "no open questions\n"


def test_an_engine_killed_while_a_command_asks_cancels_the_question_at_its_next_start(
    cli: Run, data_dir: Path, env: dict[str, str], tmp_path: Path
) -> None:
    with running_engine(data_dir, env, tmp_path / "engine.log") as proc:
        task_id = add(cli, 'qtqueue ask "Which branch?"; echo "ask exit=$?"')
        q = asked(cli, task_id)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=TIMEOUT_S)

    # The command learns at once that nobody will answer, and goes on; the next engine
    # follows it to its end and closes the question nobody waits for any more.
    ok(cli("run", "--until-idle"))
    assert finished(cli, task_id)["status"] == "completed"
    log = ok(cli("log", task_id))
    assert "error: QUEUE_ENGINE_UNAVAILABLE: " in log and "ask exit=1\n" in log
    (ended,) = json.loads(ok(cli("questions", "--all", "--json")))
    assert (ended["id"], ended["status"]) == (q["id"], "cancelled")
