"""Work orders (the RQ-style document's `WorkOrderMessage` as the `work_order` task type).

Real git repositories (a bare one as a local path, the same as a file:// URL), a real engine,
and a real agent: a Python script that reads the work order, changes files and prints. The
agent command is a template of whole-argument placeholders, so a title full of shell syntax
reaches the agent as one argument, untouched.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
import pytest
from helpers.git_http import git_http_server
from helpers.git_repos import GIT_ENV, git, make_bare_repo
from helpers.queues import QueueFactory
from helpers.work_orders import work_order_registry

from qtqueue.core.errors import QueueError, error_info
from qtqueue.core.task import Permission, Task, TaskStatus
from qtqueue.engine.events import EventKind, TaskEvent
from qtqueue.engine.queue import TaskQueue
from qtqueue.families.work_order import family
from qtqueue.work_orders import (
    PermissionLevel,
    Priority,
    TaskType,
    WorkOrderMessage,
    work_order_message,
    work_order_task,
)

TIMEOUT_S = 60
#: A title a shell would take apart; the agent must get it as one argument.
TITLE = "Fix it; echo pwned > /tmp/x && $(rm -rf ~) 'quoted' \"double\""

AGENT = """\
import json, os, pathlib, subprocess, sys
order = json.loads(pathlib.Path(os.environ["QTQUEUE_WORK_ORDER"]).read_text())
env = dict(os.environ, **GIT_ENV)
print("argv", json.dumps(sys.argv[1:]))
print("task", os.environ["QTQUEUE_TASK_ID"], "data", os.environ["QTQUEUE_DATA_DIR"])
print("order", order["work_order_id"], order["task_type"], order["priority"])
mode = order["payload"].get("mode", "edit")
if mode == "hang":  # works on and on, until it is stopped
    pathlib.Path(order["payload"]["pid_file"]).write_text(str(os.getpid()))
    subprocess.run(["sleep", "3600"])
if mode == "fail":
    print("cannot do this one", file=sys.stderr)
    sys.exit(3)
if mode == "fresh":  # the first attempt leaves litter and fails; a retry must not see it
    if pathlib.Path("litter.txt").exists():
        sys.exit(9)
    count = pathlib.Path(order["payload"]["counter"])
    if not count.exists():
        count.write_text("1")
        pathlib.Path("litter.txt").write_text("left behind")
        sys.exit(4)
pathlib.Path("README.md").write_text("changed by the agent\\n")
pathlib.Path("docs").mkdir(exist_ok=True)
pathlib.Path("docs/new.md").write_text("new\\n")
pathlib.Path("committed.txt").write_text("committed\\n")
subprocess.run(["git", "add", "committed.txt"], check=True, env=env)
subprocess.run(["git", "commit", "-q", "-m", "agent"], check=True, env=env)
print("50%")
print("done with", order["title"][:8])
"""


@pytest.fixture
def origin(tmp_path: Path) -> Path:
    return make_bare_repo(tmp_path / "repos", {"README.md": "hello\n", "src/app.py": "x = 1\n"})


@pytest.fixture
def agent(tmp_path: Path) -> list[str]:
    """The agent command template: the test agent, with the title, the files (one argument
    each) and the issue number as its arguments."""
    script = tmp_path / "agent.py"
    script.write_text(AGENT.replace("**GIT_ENV", f"**{GIT_ENV!r}"))
    return [sys.executable, str(script), "{title}", "{files}", "{issue_number}"]


@pytest.fixture
async def queue(make_queue: QueueFactory, agent: list[str]) -> TaskQueue:
    q = await make_queue(registry=work_order_registry())
    q.executor_settings["work_order_agent_command"] = agent
    return q


def order(repository: str, **fields: Any) -> WorkOrderMessage:
    values: dict[str, Any] = {
        "task_type": TaskType.BUGFIX,
        "permission_level": PermissionLevel.AUTONOMOUS,
        "priority": Priority.HIGH,
        "repository_url": repository,
        "branch_name": "main",
        "title": TITLE,
        "description": "Make the README say what changed.",
        "files": ["README.md", "src/app.py"],
        "issue_number": 42,
        "work_order_id": "order-7",
        **fields,
    }
    return WorkOrderMessage(**values)


async def finished(queue: TaskQueue, message: WorkOrderMessage, **fields: Any) -> Task:
    return await queue.wait_for(
        await queue.add_task(work_order_task(message, **fields)), timeout_s=TIMEOUT_S
    )


def log_of(queue: TaskQueue, task: Task) -> str:
    return Path(queue.data_dir / "logs" / f"{task.id}.log").read_text()


async def test_a_work_order_runs_its_agent_in_a_fresh_worktree_and_reports_what_changed(
    queue: TaskQueue, origin: Path
) -> None:
    task = await finished(queue, order(str(origin)))
    assert task.status is TaskStatus.COMPLETED, (task.error_code, task.error)
    worktree = queue.data_dir / "work_orders" / task.id / "worktree"
    result = task.result or {}
    assert result["status"] == "success"
    assert result["files_modified"] == ["README.md", "committed.txt", "docs/new.md"]
    assert (result["branch"], result["work_branch"]) == ("main", f"work-order/{task.id[:8]}")
    assert result["worktree"] == str(worktree)
    assert (worktree / "README.md").read_text() == "changed by the agent\n"
    assert result["output"].splitlines()[-1] == "done with Fix it; "
    assert task.name == TITLE  # the title names the task

    # Each placeholder was one argument: the title untouched, one per file, the issue number.
    argv_line = next(ln for ln in log_of(queue, task).splitlines() if ln.startswith("argv "))
    assert json.loads(argv_line[5:]) == [TITLE, "README.md", "src/app.py", "42"]
    assert f"task {task.id} data {queue.data_dir}" in log_of(queue, task)
    assert "order order-7 bugfix high" in log_of(queue, task)

    # The agent's commit is on the work branch of the local repository, for review; the
    # branch the work started from is as it was.
    assert git(origin, "log", "-1", "--format=%s", f"work-order/{task.id[:8]}").strip() == "agent"
    assert git(origin, "log", "-1", "--format=%s", "main").strip() == "seed"


async def test_a_repository_with_the_branch_checked_out_is_left_as_it_was(
    queue: TaskQueue, origin: Path
) -> None:
    checkout = origin.parent / "seed"  # the repository origin was made from, on main
    task = await finished(queue, order(str(checkout)))
    assert task.status is TaskStatus.COMPLETED, (task.error_code, task.error)
    assert (task.result or {})["files_modified"] == ["README.md", "committed.txt", "docs/new.md"]
    assert git(checkout, "branch", "--show-current").strip() == "main"
    assert git(checkout, "status", "--porcelain") == ""
    assert (checkout / "README.md").read_text() == "hello\n"


async def test_a_url_is_cloned_and_worked_on_the_same_way(queue: TaskQueue, origin: Path) -> None:
    task = await finished(queue, order(origin.as_uri()))
    assert task.status is TaskStatus.COMPLETED, (task.error_code, task.error)
    assert (task.result or {})["files_modified"] == ["README.md", "committed.txt", "docs/new.md"]
    # A clone: the origin knows nothing of the work.
    assert "work-order/" not in git(origin, "branch", "--list")


async def test_the_message_round_trips_through_the_task(queue: TaskQueue, origin: Path) -> None:
    sent = order(str(origin), permission_level=PermissionLevel.SUPERVISED, timeout_seconds=900)
    task = await queue.get_task(await queue.add_task(work_order_task(sent)))
    back = work_order_message(task)
    assert back.to_dict() | {"id": sent.id, "task_id": sent.task_id, "created_at": None} == (
        sent.to_dict() | {"created_at": None}
    )
    assert (task.priority.name, task.permission, task.timeout_s) == ("HIGH", "supervised", 900)


async def test_a_url_over_http_is_cloned_and_one_that_asks_for_a_login_is_refused(
    queue: TaskQueue, origin: Path
) -> None:
    async with git_http_server(origin.parent) as base:
        task = await finished(queue, order(f"{base}/origin.git"))
        assert task.status is TaskStatus.COMPLETED, (task.error_code, task.error)
        assert (task.result or {})["files_modified"] == [
            "README.md",
            "committed.txt",
            "docs/new.md",
        ]
        missing = await finished(queue, order(f"{base}/nowhere.git", max_retries=0))
        assert missing.error_code == "WORK_ORDER_REPO_NOT_FOUND", missing.error
    async with git_http_server(origin.parent, user="ada", password="secret") as base:
        private = await finished(queue, order(f"{base}/origin.git", max_retries=3))
    # Work orders take no credentials: no retry can help (final), and nothing waited for one.
    assert (private.status, private.error_code) == (TaskStatus.FAILED, "WORK_ORDER_AUTH_REQUIRED")
    assert private.retry_count == 0
    assert error_info("WORK_ORDER_AUTH_REQUIRED").final


@pytest.mark.parametrize(
    ("repository", "branch", "code"),
    [
        ("{tmp}/nowhere", "main", "WORK_ORDER_REPO_NOT_FOUND"),
        ("{tmp}", "main", "WORK_ORDER_REPO_NOT_FOUND"),  # a folder, not a repository
        ("{origin}", "no-such-branch", "WORK_ORDER_BRANCH_NOT_FOUND"),
        ("file://{tmp}/nowhere.git", "main", "WORK_ORDER_REPO_NOT_FOUND"),
        ("file://{origin}", "no-such-branch", "WORK_ORDER_BRANCH_NOT_FOUND"),
    ],
)
async def test_a_missing_repository_or_branch_fails_with_its_own_code(
    queue: TaskQueue, origin: Path, tmp_path: Path, repository: str, branch: str, code: str
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    where = repository.format(tmp=outside, origin=origin)
    task = await finished(queue, order(where, branch_name=branch, max_retries=0))
    assert (task.status, task.error_code) == (TaskStatus.FAILED, code), task.error
    assert error_info(code).suggestion


async def test_an_agent_that_fails_fails_the_task_and_its_worktree_stays(
    queue: TaskQueue, origin: Path
) -> None:
    task = await finished(queue, order(str(origin), payload={"mode": "fail"}, max_retries=0))
    assert (task.status, task.error_code) == (TaskStatus.FAILED, "WORK_ORDER_AGENT_FAILED")
    assert "cannot do this one" in (task.error or "")
    assert task.error_details["exit_code"] == 3
    assert Path(task.error_details["worktree"]).is_dir()
    assert error_info("WORK_ORDER_AGENT_FAILED").retryable


async def test_no_agent_set_and_an_agent_not_installed_say_so(
    queue: TaskQueue, origin: Path
) -> None:
    queue.executor_settings.pop("work_order_agent_command")
    task = await finished(queue, order(str(origin), max_retries=0))
    assert (task.status, task.error_code) == (TaskStatus.FAILED, "WORK_ORDER_AGENT_NOT_CONFIGURED")

    queue.executor_settings["work_order_agent_command"] = ["no-such-agent-anywhere", "{prompt}"]
    task = await finished(queue, order(str(origin), max_retries=0))
    assert (task.status, task.error_code) == (TaskStatus.FAILED, "WORK_ORDER_AGENT_NOT_FOUND")
    assert "no-such-agent-anywhere" in (task.error or "")


async def test_without_git_a_work_order_fails_with_a_clear_code(
    queue: TaskQueue, origin: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir = tmp_path / "bin-without-git"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", str(bin_dir))
    task = await finished(queue, order(str(origin), max_retries=0))
    assert (task.status, task.error_code) == (TaskStatus.FAILED, "WORK_ORDER_GIT_NOT_FOUND")
    assert "git is not installed" in (task.error or "")


async def test_a_retry_starts_from_a_fresh_worktree(
    queue: TaskQueue, origin: Path, tmp_path: Path
) -> None:
    payload = {"mode": "fresh", "counter": str(tmp_path / "attempts")}
    task = await finished(
        queue, order(str(origin), payload=payload, max_retries=1), retry_backoff=0
    )
    assert (task.status, task.retry_count) == (TaskStatus.COMPLETED, 1), task.error
    assert "litter.txt" not in (task.result or {})["files_modified"]


async def test_worktrees_are_removed_when_the_setting_says_so(
    queue: TaskQueue, origin: Path
) -> None:
    queue.executor_settings["work_order_keep_worktrees"] = False
    task = await finished(queue, order(str(origin)))
    assert task.status is TaskStatus.COMPLETED, task.error
    assert (task.result or {})["worktree"] is None
    assert (task.result or {})["files_modified"] == ["README.md", "committed.txt", "docs/new.md"]
    assert not (queue.data_dir / "work_orders" / task.id / "worktree").exists()
    assert str(queue.data_dir) not in git(origin, "worktree", "list")
    # The work branch and its commit stay in the repository.
    assert git(origin, "log", "-1", "--format=%s", f"work-order/{task.id[:8]}").strip() == "agent"


async def test_a_work_order_that_runs_past_its_timeout_is_stopped_and_its_worktree_kept(
    queue: TaskQueue, origin: Path, tmp_path: Path
) -> None:
    pid_file = tmp_path / "agent.pid"
    payload = {"mode": "hang", "pid_file": str(pid_file)}
    task = await finished(
        queue, order(str(origin), payload=payload, timeout_seconds=1, max_retries=0)
    )
    assert task.status is TaskStatus.TIMEOUT
    agent_pid = int(pid_file.read_text())
    assert not psutil.pid_exists(agent_pid)  # its whole process group was stopped
    assert (queue.data_dir / "work_orders" / task.id / "worktree" / "README.md").exists()


# --- Permission levels -------------------------------------------------------------------------


def notices(queue: TaskQueue) -> list[TaskEvent]:
    heard: list[TaskEvent] = []
    queue.subscribe(lambda events: heard.extend(e for e in events if e.kind == EventKind.NOTICE))
    return heard


async def test_an_autonomous_work_order_runs_unattended_without_a_notice(
    queue: TaskQueue, origin: Path
) -> None:
    heard = notices(queue)
    task = await finished(queue, order(str(origin)))
    assert task.status is TaskStatus.COMPLETED
    assert [n for n in heard if n.task_id == task.id] == []


async def test_a_supervised_work_order_runs_and_a_notice_says_it_started(
    queue: TaskQueue, origin: Path
) -> None:
    heard = notices(queue)
    task = await finished(queue, order(str(origin), permission_level=PermissionLevel.SUPERVISED))
    assert task.status is TaskStatus.COMPLETED
    assert [(n.task_id, n.detail) for n in heard] == [
        (task.id, f"supervised task started: {TITLE}")
    ]


async def test_a_human_required_work_order_waits_for_approval(
    queue: TaskQueue, origin: Path
) -> None:
    task_id = await queue.add_task(
        work_order_task(order(str(origin), permission_level=PermissionLevel.HUMAN_REQUIRED))
    )
    await queue.settled()
    waiting = await queue.get_task(task_id)
    assert (waiting.status, waiting.wait_reason) == (TaskStatus.PENDING, "awaiting approval")
    assert waiting.permission == Permission.HUMAN_REQUIRED
    assert not (queue.data_dir / "work_orders" / task_id).exists()  # nothing made yet

    await queue.approve_task(task_id)
    done = await queue.wait_for(task_id, timeout_s=TIMEOUT_S)
    assert done.status is TaskStatus.COMPLETED, done.error


# --- Bad input ---------------------------------------------------------------------------------

BAD: list[tuple[str, Callable[[str], dict[str, Any]]]] = [
    ("repository_url", lambda o: {"repository_url": "https://user:secret@example.invalid/r"}),
    ("repository_url", lambda o: {"repository_url": "ext::sh -c touch% /tmp/pwned"}),
    ("branch_name", lambda o: {"branch_name": "--upload-pack=touch /tmp/pwned"}),
    ("agent_command", lambda o: {"agent_command": ["sh", "-c", "echo {title}"]}),
    ("agent_command", lambda o: {"agent_command": ["agent", "{nonsense}"]}),
    ("title", lambda o: {"title": "two\nlines"}),
]


@pytest.mark.parametrize(("field", "change"), BAD)
async def test_bad_params_are_refused_with_a_coded_error_naming_the_field(
    queue: TaskQueue, origin: Path, field: str, change: Callable[[str], dict[str, Any]]
) -> None:
    task = work_order_task(order(str(origin)))
    task.params.update(change(str(origin)))
    with pytest.raises(QueueError) as refused:
        await queue.add_task(task)
    assert refused.value.code == "VALIDATION_INVALID_PARAMS"
    assert field in str(refused.value)
    assert "secret" not in str(refused.value)
    assert await queue.list_tasks() == []


def test_a_bad_agent_template_is_refused_in_the_settings() -> None:
    model = family.settings_model
    assert model is not None
    with pytest.raises(ValueError, match="whole argument"):
        model(work_order_agent_command=["my-agent", "--title={title}"])
    assert model().model_dump() == {
        "work_order_agent_command": [],
        "work_order_keep_worktrees": True,
        "work_order_output_lines": 20,
    }
