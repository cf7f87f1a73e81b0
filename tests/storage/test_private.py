"""The data directory is its user's alone: 0700, files 0600, looser modes repaired on start,
and another user's command gets a coded error. Real files, real `qtqueue` processes, and a
real second user (uid 65534, through setpriv) where this machine lets a test be one."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.cli import ok, qtqueue_command, qtqueue_env, refused

from qtqueue.api.server import ApiServer
from qtqueue.core.task import Task, TaskType
from qtqueue.engine.queue import TaskQueue
from qtqueue.executors import default_registry

NOBODY = 65534


def modes(data_dir: Path) -> dict[str, int]:
    """Permission bits of the data directory and of everything below it, by relative path."""
    found = {".": stat.S_IMODE(data_dir.stat().st_mode)}
    for path in data_dir.rglob("*"):
        found[str(path.relative_to(data_dir))] = stat.S_IMODE(path.lstat().st_mode)
    return found


def open_to_others(data_dir: Path) -> dict[str, int]:
    return {p: oct(m) for p, m in modes(data_dir).items() if m & 0o077}  # type: ignore[misc]


def test_a_new_data_directory_and_everything_in_it_is_private(
    tmp_path: Path, data_dir: Path
) -> None:
    cli = qtqueue_command(tmp_path, data_dir=data_dir)
    task_id = ok(cli("add", "command", "--", "echo", "secret output")).strip()
    ok(cli("add", "command", "--", "true"))  # opens a store with a task: the daily backup
    ok(cli("run", "--until-idle"))
    assert ok(cli("log", task_id)) == "secret output\n"

    found = modes(data_dir)
    assert {"queue.db", "engine.lock", "logs", f"logs/{task_id}.log", "backups"} <= set(found)
    assert any(p.startswith("backups/queue-") for p in found)
    assert open_to_others(data_dir) == {}
    assert found["."] == found["logs"] == found["backups"] == 0o700


async def test_everything_a_running_engine_has_open_is_private(data_dir: Path) -> None:
    async with (
        TaskQueue(data_dir, registry=default_registry(entry_points=False)) as queue,
        ApiServer(queue),
    ):
        task = Task(TaskType.CUSTOM_COMMAND, {"command": "echo hi"}, max_retries=0)
        task_id = await queue.add_task(task)
        await queue.wait_for(task_id)
        found = modes(data_dir)
        assert {"queue.db-wal", "queue.db-shm", "api.sock", "engine.json"} <= set(found)
        assert open_to_others(data_dir) == {}


def test_a_data_directory_left_open_by_an_older_version_is_repaired_on_start(
    tmp_path: Path, data_dir: Path
) -> None:
    cli = qtqueue_command(tmp_path, data_dir=data_dir)
    task_id = ok(cli("add", "command", "--", "echo", "hi")).strip()
    ok(cli("run", "--until-idle"))
    for path in [data_dir, *data_dir.rglob("*")]:  # as an older qtqueue left it
        path.chmod(0o755 if path.is_dir() else 0o644)
    (data_dir / "logs").chmod(0o700)  # its files were reachable through the open data dir
    assert open_to_others(data_dir)
    notes = data_dir / "notes.txt"  # the user's own, in a folder they chose
    notes.write_text("mine")
    notes.chmod(0o644)

    ok(cli("ls"))

    assert open_to_others(data_dir) == {"notes.txt": oct(0o644)}  # qtqueue's files only
    assert modes(data_dir)[f"logs/{task_id}.log"] == 0o600
    assert ok(cli("log", task_id)) == "hi\n"  # the owner still reads everything


def _setpriv_works() -> bool:
    """Whether this test can run qtqueue as uid 65534: root, setpriv, and an interpreter and
    checkout that other users may read (not so under a 0700 home, for one)."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        return False
    probe = subprocess.run(
        ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
         sys.executable, "-c", "import qtqueue.cli"],
        capture_output=True, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}, check=False,
    )  # fmt: skip
    return probe.returncode == 0


@pytest.fixture
def shared_parent() -> Iterator[Path]:
    """A folder every user may enter (as /home is), for one user's data directory."""
    parent = Path(tempfile.mkdtemp(prefix="qtqueue-users-"))
    try:
        parent.chmod(0o755)
        yield parent
    finally:
        shutil.rmtree(parent)


@pytest.mark.skipif(
    not _setpriv_works(), reason="needs root, setpriv, and a qtqueue that uid 65534 can import"
)
def test_another_user_gets_a_coded_error_and_cannot_read_the_store(
    tmp_path: Path, shared_parent: Path
) -> None:
    data_dir = shared_parent / "q"
    owner = qtqueue_command(tmp_path, data_dir=data_dir)
    task_id = ok(owner("add", "command", "--", "echo", "token=abc123")).strip()
    ok(owner("run", "--until-idle"))

    as_nobody = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
    env = {**qtqueue_env(tmp_path), "HOME": str(shared_parent), "PYTHONDONTWRITEBYTECODE": "1"}
    for command in (["ls"], ["add", "command", "--", "true"], ["show", task_id]):
        result = subprocess.run(
            [*as_nobody, sys.executable, "-m", "qtqueue", "--data-dir", str(data_dir), *command],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )
        error = refused(result, "SYSTEM_PERMISSION_DENIED")
        assert f"{data_dir} belongs to root (uid 0)" in error
    for path in (data_dir / "queue.db", data_dir / "logs" / f"{task_id}.log"):
        read = subprocess.run([*as_nobody, "cat", str(path)], capture_output=True, check=False)
        assert read.returncode != 0 and b"abc123" not in read.stdout

    shown = json.loads(ok(owner("show", task_id, "--json")))  # the owner's queue is intact
    assert shown["status"] == "completed"
