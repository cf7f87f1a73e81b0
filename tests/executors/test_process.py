"""Process trees and orphans, with real processes: what pause, cancel and crash recovery use."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from helpers.processes import gone, status_of
from helpers.waiting import wait_until

from qtqueue.core.errors import TaskErrorCode
from qtqueue.core.task import Task, TaskStatus, TaskType
from qtqueue.engine.queue import TaskQueue
from qtqueue.executors.process import ProcessTree, kill_orphan
from qtqueue.families.shell.command import ScriptExecutor


def sleeps_of(pid: int) -> list[int]:
    try:
        return [p.pid for p in psutil.Process(pid).children(recursive=True) if p.name() == "sleep"]
    except psutil.Error:
        return []


@pytest.fixture
def tree() -> Iterator[tuple[subprocess.Popen[bytes], list[int]]]:
    """A shell in its own process group with two sleeps, one of them in a session of its own
    (it left the group, as daemons do). Yields the shell and the pids of all three."""
    proc = subprocess.Popen(
        ["sh", "-c", "setsid sleep 30 & sleep 30; wait"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        process_group=0,
    )
    wait_until(lambda: len(sleeps_of(proc.pid)) == 2)
    pids = [proc.pid, *sleeps_of(proc.pid)]
    try:
        yield proc, pids
    finally:
        for pid in pids:
            with contextlib.suppress(psutil.NoSuchProcess):
                psutil.Process(pid).kill()
        proc.wait()


def test_the_tree_includes_a_child_that_left_the_process_group(
    tree: tuple[subprocess.Popen[bytes], list[int]],
) -> None:
    _, pids = tree
    groups = {p: os.getpgid(p) for p in pids}
    assert len(set(groups.values())) == 2  # the setsid child is elsewhere


def test_suspend_stops_every_process_and_resume_continues_them(
    tree: tuple[subprocess.Popen[bytes], list[int]],
) -> None:
    proc, pids = tree
    handle = ProcessTree(proc.pid, functools.partial(asyncio.to_thread, proc.wait))
    handle.suspend()
    wait_until(lambda: all(status_of(p) == psutil.STATUS_STOPPED for p in pids))
    handle.resume()
    wait_until(lambda: all(status_of(p) == psutil.STATUS_SLEEPING for p in pids))


def test_a_signal_reaches_every_process_of_the_tree(
    tree: tuple[subprocess.Popen[bytes], list[int]],
) -> None:
    proc, pids = tree
    ProcessTree(proc.pid, functools.partial(asyncio.to_thread, proc.wait)).signal_tree(
        signal.SIGTERM
    )
    assert proc.wait(timeout=10) == -signal.SIGTERM
    wait_until(lambda: all(gone(p) for p in pids))


def test_kill_orphan_kills_the_process_group_left_by_a_crashed_engine() -> None:
    started_at = time.time()
    proc = subprocess.Popen(
        ["sh", "-c", "sleep 30 & sleep 30; wait"], stdin=subprocess.DEVNULL, process_group=0
    )
    wait_until(lambda: len(sleeps_of(proc.pid)) == 2)
    pids = [proc.pid, *sleeps_of(proc.pid)]
    assert kill_orphan(proc.pid, started_at) is True
    assert proc.wait(timeout=10) == -signal.SIGKILL
    wait_until(lambda: all(gone(p) for p in pids))


def test_kill_orphan_spares_a_process_younger_than_the_task_a_reused_pid() -> None:
    proc = subprocess.Popen(["sleep", "30"], stdin=subprocess.DEVNULL, process_group=0)
    try:
        created = psutil.Process(proc.pid).create_time()
        # The task started well before this process existed: the pid was reused.
        assert kill_orphan(proc.pid, created - 60) is False
        assert status_of(proc.pid) != "gone"
    finally:
        proc.kill()
        proc.wait()


def test_kill_orphan_of_a_process_that_is_gone_does_nothing() -> None:
    proc = subprocess.Popen(["true"])
    proc.wait()
    assert kill_orphan(proc.pid, time.time()) is False


# --- Which interpreter runs a script ----------------------------------------------------------


def _script(tmp_path: Path, name: str, body: str, mode: int = 0o644) -> str:
    path = tmp_path / name
    path.write_text(body)
    path.chmod(mode)
    return str(path)


def test_an_explicit_interpreter_wins(tmp_path: Path) -> None:
    path = _script(tmp_path, "x.py", "#!/bin/sh\n")
    assert ScriptExecutor._interpreter(path, "python3 -X dev") == ["python3", "-X", "dev"]


def test_the_shebang_line_comes_next(tmp_path: Path) -> None:
    path = _script(tmp_path, "x.py", "#!/usr/bin/env bash -e\necho\n")
    assert ScriptExecutor._interpreter(path, None) == ["/usr/bin/env", "bash", "-e"]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("a.py", [sys.executable]),
        ("a.sh", ["/bin/sh"]),
        ("a.bash", ["bash"]),
        ("a.js", ["node"]),
        ("A.PY", [sys.executable]),
    ],
)
def test_then_the_extension(tmp_path: Path, name: str, expected: list[str]) -> None:
    assert ScriptExecutor._interpreter(_script(tmp_path, name, "print(1)\n"), None) == expected


def test_an_executable_without_known_extension_runs_itself(tmp_path: Path) -> None:
    path = _script(tmp_path, "tool", "binary-ish\n", mode=0o755)
    assert ScriptExecutor._interpreter(path, None) == []


def test_anything_else_runs_with_the_shell(tmp_path: Path) -> None:
    path = _script(tmp_path, "notes.txt", "echo hi\n")
    assert ScriptExecutor._interpreter(path, None)[0].endswith("sh")


# ------------------------------------------------------------------- what a command inherits

_FDS = "import os; print('fds', sorted(int(f) for f in os.listdir('/proc/self/fd')))"


@pytest.mark.parametrize("with_cwd", [False, True], ids=["no-cwd", "cwd"])
async def test_a_command_holds_only_its_standard_streams_open(
    queue: TaskQueue, tmp_path: Path, with_cwd: bool
) -> None:
    """The engine's database, logs and sockets never leak into commands (a long-running child
    would otherwise keep them open after the engine closed them)."""
    params: dict[str, object] = {"command": sys.executable, "args": ["-c", _FDS]}
    if with_cwd:
        params["cwd"] = str(tmp_path)
    task = await queue.wait_for(await queue.add_task(Task(TaskType.CUSTOM_COMMAND, params)))
    assert task.status is TaskStatus.COMPLETED, task.error
    lines = (await queue.read_log(task.id)).splitlines()
    line = next(ln for ln in lines if ln.startswith("fds"))
    # 0-2 are stdin, stdout and stderr; one more is listdir's own handle on /proc/self/fd
    assert line == "fds [0, 1, 2, 3]"


@pytest.mark.parametrize("with_cwd", [False, True], ids=["no-cwd", "cwd"])
async def test_a_command_gets_sigpipe_back_so_pipelines_end(
    queue: TaskQueue, tmp_path: Path, with_cwd: bool
) -> None:
    """Python ignores SIGPIPE; a child must not inherit that, or `producer | head` never ends
    the producer by signal."""
    params: dict[str, object] = {"command": "cat", "args": ["/proc/self/status"]}
    if with_cwd:
        params["cwd"] = str(tmp_path)
    task = await queue.wait_for(await queue.add_task(Task(TaskType.CUSTOM_COMMAND, params)))
    assert task.status is TaskStatus.COMPLETED, task.error
    lines = (await queue.read_log(task.id)).splitlines()
    ignored = next(ln for ln in lines if ln.startswith("SigIgn:"))
    mask = int(ignored.split()[1], 16)
    assert not mask & (1 << (signal.SIGPIPE - 1)), ignored


async def test_a_missing_program_is_command_not_found_with_or_without_cwd(
    queue: TaskQueue, tmp_path: Path
) -> None:
    for extra in ({}, {"cwd": str(tmp_path)}):
        params = {"command": "qtqueue-no-such-program", **extra}
        added = await queue.add_task(Task(TaskType.CUSTOM_COMMAND, params, max_retries=0))
        task = await queue.wait_for(added)
        assert task.status is TaskStatus.FAILED
        assert task.error_code == TaskErrorCode.SYSTEM_COMMAND_NOT_FOUND.value
