"""Crash recovery: an engine process killed outright while a command runs.

A real, separate Python process runs a TaskQueue and starts a long command; the test SIGKILLs
that process (no clean shutdown of any kind), then opens the same data directory as the next
start of the app would.
"""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import signal
import sys
from pathlib import Path
from typing import ClassVar

import psutil
import pytest
from helpers.cli import qtqueue_command
from helpers.processes import gone
from helpers.waiting import eventually

from engine.crash_env import command_pid, crash_while_running, gated_command
from qtqueue.core.errors import TaskErrorCode
from qtqueue.core.task import Task, TaskStatus, TaskType
from qtqueue.engine.queue import TaskQueue
from qtqueue.executors import ExecutorRegistry
from qtqueue.executors.base import Executor, RunContext

S = TaskStatus


def suspended(pid: int) -> bool:
    """Whether the command's whole tree is stopped. A stop signal takes effect when the kernel
    next schedules a process; a shell caught in vfork() sleeps uninterruptibly ("disk sleep")
    until its stopped child runs again, so it is held as surely as a stopped one."""
    root = psutil.Process(pid)
    states = {p.status() for p in [root, *root.children(recursive=True)]}
    return psutil.STATUS_STOPPED in states and states <= {
        psutil.STATUS_STOPPED,
        psutil.STATUS_DISK_SLEEP,
    }


@pytest.mark.parametrize("on_interrupt", ["fail", "retry", "requeue"])
@pytest.mark.parametrize("exit_status", [0, 3])
async def test_a_command_still_running_after_its_engine_was_killed_is_adopted(
    tmp_path: Path, on_interrupt: str, exit_status: int
) -> None:
    data_dir, runs, gate = tmp_path / "data", tmp_path / "runs.txt", tmp_path / "gate"
    command = gated_command(runs, gate, exit_status)
    task_id, pid = await crash_while_running(data_dir, on_interrupt, 0, command, runs)

    async with TaskQueue(data_dir) as queue:
        task = await queue.get_task(task_id)
        assert task.status is S.RUNNING  # followed again, not failed, not queued again
        assert not gone(pid)
        gate.touch()
        task = await queue.wait_for(task_id, timeout_s=20)
        log = await queue.read_log(task_id)
    # Its real outcome, whatever the interrupt policy: the command ran once and said so.
    assert runs.read_text().split() == [str(pid)]
    if exit_status == 0:
        assert task.status is S.COMPLETED
        assert task.result == {"exit_code": 0}
    else:
        assert task.status is S.FAILED
        assert task.error_details["exit_code"] == exit_status
    assert task.retry_count == 0
    assert task.error_code != TaskErrorCode.QUEUE_TASK_INTERRUPTED.value
    assert "before the crash" in log
    assert "after the crash" in log  # the output it wrote while no engine listened
    assert "kept running and is followed again" in log


@pytest.mark.parametrize("stopped_before_the_crash", [True, False])
async def test_a_command_paused_when_its_engine_was_killed_stays_paused_and_resumes(
    tmp_path: Path, stopped_before_the_crash: bool
) -> None:
    data_dir, runs, gate = tmp_path / "data", tmp_path / "runs.txt", tmp_path / "gate"
    command = gated_command(runs, gate, 0)
    task_id, pid = await crash_while_running(data_dir, "retry", 0, command, runs, "pause")
    if not stopped_before_the_crash:
        # The engine died after the pause was stored but before its signal reached the
        # command: the command runs on, though the store says paused.
        for proc in [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]:
            proc.resume()

    async with TaskQueue(data_dir) as queue:
        assert (await queue.get_task(task_id)).status is S.PAUSED
        await eventually(lambda: suspended(pid), what="its process tree suspended")
        gate.touch()  # it would end now, but it is suspended
        default = next(q for q in queue.list_queues() if q["name"] == "default")
        assert default["running"] == 1  # suspended, it still holds its slot
        await queue.resume_task(task_id)
        task = await queue.wait_for(task_id, timeout_s=20)
    assert task.status is S.COMPLETED
    assert runs.read_text().split() == [str(pid)]


@pytest.mark.parametrize("exit_status", [0, 3])
async def test_a_command_that_ended_while_no_engine_ran_is_recorded_as_it_ended(
    tmp_path: Path, exit_status: int
) -> None:
    data_dir, runs, gate = tmp_path / "data", tmp_path / "runs.txt", tmp_path / "gate"
    command = gated_command(runs, gate, exit_status)
    task_id, pid = await crash_while_running(data_dir, "requeue", 0, command, runs)
    gate.touch()
    await eventually(lambda: gone(pid), what="the command ends while no engine runs")

    async with TaskQueue(data_dir) as queue:
        task = await queue.wait_for(task_id, timeout_s=20)
        log = await queue.read_log(task_id)
        history = [(t.to_status, t.error_code) for t in await queue.transitions(task_id)]
    assert runs.read_text().split() == [str(pid)]  # never run twice, though "requeue"
    if exit_status == 0:
        assert task.status is S.COMPLETED
    else:
        assert task.status is S.FAILED
        assert task.error_details["exit_code"] == exit_status
        assert "while the engine was stopped" in (task.error or "")
    assert history[-1] == (task.status, task.error_code)
    assert "after the crash" in log
    assert f"ended meanwhile with exit status {exit_status}" in log


@pytest.mark.parametrize(
    ("on_interrupt", "max_retries", "outcome", "runs", "retry_count"),
    [
        ("fail", 3, S.FAILED, 1, 0),
        ("retry", 0, S.FAILED, 1, 0),
        ("retry", 1, S.COMPLETED, 2, 1),
        ("requeue", 0, S.COMPLETED, 2, 0),
    ],
)
async def test_a_command_nothing_kept_is_cut_short_and_follows_its_policy(
    tmp_path: Path,
    on_interrupt: str,
    max_retries: int,
    outcome: TaskStatus,
    runs: int,
    retry_count: int,
) -> None:
    """As after a machine restart: the engine, its spawner and the command all died."""
    data_dir, runs_file = tmp_path / "data", tmp_path / "runs.txt"
    quoted = shlex.quote(str(runs_file))
    # Every run records itself; the first one then waits forever, a later one exits at once.
    command = f"echo $$ >> {quoted}; [ $(wc -l < {quoted}) -ge 2 ] || exec sleep 300"
    task_id, pid = await crash_while_running(
        data_dir, on_interrupt, max_retries, command, runs_file
    )
    spawner = psutil.Process(pid).parent()
    assert spawner is not None
    spawner.kill()
    os.killpg(pid, signal.SIGKILL)
    await eventually(lambda: gone(pid) and gone(spawner.pid), what="all of it is gone")

    async with TaskQueue(data_dir) as queue:
        task = await queue.wait_for(task_id, timeout_s=20)
        history = [t.error_code for t in await queue.transitions(task_id)]
        log = await queue.read_log(task_id)
    assert task.status is outcome
    assert task.retry_count == retry_count
    assert task.pid is None
    assert "[qtqueue] cut short: the engine stopped while this task ran" in log
    assert "had already ended, how is not known" in log
    if outcome is S.FAILED:
        assert task.error_code == TaskErrorCode.QUEUE_TASK_INTERRUPTED.value
        assert "it does not run again" in log
    else:  # it ran again, and its history says why
        assert TaskErrorCode.QUEUE_TASK_INTERRUPTED.value in history
        assert "it runs again" in log
    assert len(runs_file.read_text().split()) == runs


HISTORY_ENGINE = r"""
import asyncio, sys
import qtqueue.engine.writer
from qtqueue import Task, TaskQueue, TaskType

# Transitions are held back before they are written; here, for longer than the test lives,
# so the kill below surely lands while the history of every task is still unwritten.
qtqueue.engine.writer.HISTORY_DELAY_S = 3600

async def main(data_dir, n):
    async with TaskQueue(data_dir) as queue:  # never left normally: the test kills us
        done = set()
        all_done = asyncio.Event()

        def watch(events):
            for e in events:
                if e.status == "completed":
                    done.add(e.task_id)
            if len(done) == int(n):
                all_done.set()

        queue.subscribe(watch)
        await queue.add_tasks(
            [Task(TaskType.CUSTOM_COMMAND, {"command": "true"}) for _ in range(int(n))]
        )
        await all_done.wait()  # events come after the change is durable
        print("ready", flush=True)
        await asyncio.Event().wait()

asyncio.run(main(*sys.argv[1:]))
"""


async def test_statistics_agree_with_the_tasks_after_a_crash_lost_the_latest_history(
    tmp_path: Path,
) -> None:
    """Killed before it wrote its held-back transitions, the engine leaves tasks completed
    in the store but not in the history; whatever opens the store next (here `qtqueue stats`
    with no engine running, then an engine) restores the missing transitions, so statistics
    count every completed task and each history ends in its task's status."""
    data_dir = tmp_path / "data"
    engine = await asyncio.create_subprocess_exec(
        sys.executable, "-c", HISTORY_ENGINE, str(data_dir), "5",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        line = await asyncio.wait_for(engine.stdout.readline(), timeout=30)  # type: ignore[union-attr]
        assert line.startswith(b"ready"), line
    finally:
        engine.kill()
        _, err = await engine.communicate()
    assert engine.returncode == -9, err.decode()

    # What `qtqueue stats` prints with no engine running: it restores as it opens the store.
    stats_cli = qtqueue_command(tmp_path, data_dir=data_dir)("stats", "--json")
    assert stats_cli.returncode == 0, stats_cli.stderr
    assert json.loads(stats_cli.stdout)["performance"]["completed_tasks"] == 5

    async with TaskQueue(data_dir) as queue:
        tasks = await queue.list_tasks()
        assert [t.status for t in tasks] == [S.COMPLETED] * 5
        stats = await queue.get_queue_stats()
        assert stats["performance"]["completed_tasks"] == 5
        assert stats["performance"]["success_rate"] == 100.0
        for t in tasks:
            history = await queue.transitions(t.id)
            assert history[-1].to_status is S.COMPLETED
            assert history[-1].at == t.updated_at
    # Closed cleanly: the next start has nothing to restore (and adds nothing twice).
    async with TaskQueue(data_dir) as queue:
        for t in tasks:
            assert [x.to_status for x in await queue.transitions(t.id)].count(S.COMPLETED) == 1


async def test_a_command_whose_spawner_dies_is_cut_short_and_the_queue_goes_on(
    tmp_path: Path,
) -> None:
    data_dir, runs, gate = tmp_path / "data", tmp_path / "runs.txt", tmp_path / "gate"
    async with TaskQueue(data_dir) as queue:
        task_id = await queue.add_task(
            Task(
                TaskType.CUSTOM_COMMAND,
                {"command": gated_command(runs, gate, 0), "shell": True},
                max_retries=0,
            )
        )
        pid = await eventually(lambda: command_pid(runs), what="the command started")
        spawner = psutil.Process(pid).parent()
        assert spawner is not None
        spawner.kill()  # the process that follows the command is gone
        task = await queue.wait_for(task_id, timeout_s=20)
        assert task.status is S.FAILED
        assert task.error_code == TaskErrorCode.QUEUE_TASK_INTERRUPTED.value
        assert (task.error or "").startswith("cut short: the spawner that followed")
        await eventually(lambda: gone(pid), what="its orphaned command is stopped")
        # The next command still runs (started by the engine itself from now on).
        after = await queue.add_task(Task(TaskType.CUSTOM_COMMAND, {"command": "true"}))
        assert (await queue.wait_for(after, timeout_s=20)).status is S.COMPLETED


NOT_RETRY_SAFE_ENGINE = r"""
import asyncio, sys
from qtqueue import Task, TaskQueue
from qtqueue.executors.base import Executor

class Rents(Executor):
    task_type = "rents_once"
    retry_safe = False

    async def run(self, ctx):
        print("running", ctx.task.id, flush=True)
        await asyncio.Event().wait()

async def main(data_dir):
    async with TaskQueue(data_dir) as queue:  # never left normally: the test kills us
        queue.register_executor(Rents())
        await queue.add_task(Task("rents_once", on_interrupt="requeue"))
        await asyncio.Event().wait()

asyncio.run(main(sys.argv[1]))
"""


async def test_a_type_that_is_not_retry_safe_is_not_run_again_after_a_crash(
    tmp_path: Path,
) -> None:
    """Killed while it may have done costly work (a paid instance rented), the task fails
    instead of following its requeue policy: a second attempt could repeat that work."""
    data_dir = tmp_path / "data"
    engine = await asyncio.create_subprocess_exec(
        sys.executable, "-c", NOT_RETRY_SAFE_ENGINE, str(data_dir),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        line = await asyncio.wait_for(engine.stdout.readline(), timeout=30)  # type: ignore[union-attr]
        assert line.startswith(b"running "), line
        task_id = line.decode().split()[1]
    finally:
        engine.kill()
        await engine.communicate()

    runs: list[str] = []

    class Rents(Executor):
        task_type: ClassVar[str] = "rents_once"
        retry_safe = False

        async def run(self, ctx: RunContext) -> None:
            runs.append(ctx.task.id)

    registry = ExecutorRegistry()
    registry.register(Rents())
    async with TaskQueue(data_dir, registry=registry) as queue:
        task = await queue.wait_for(task_id, timeout_s=20)
        log = await queue.read_log(task_id)
        await queue.settled()
    assert (task.status, task.error_code) == (S.FAILED, "QUEUE_TASK_INTERRUPTED")
    assert "a second attempt could repeat its work" in log
    assert runs == []
