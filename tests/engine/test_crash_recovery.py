"""Crash recovery: an engine process killed outright while a command runs.

A real, separate Python process runs a TaskQueue and starts a long command; the test SIGKILLs
that process (no clean shutdown of any kind), then opens the same data directory as the next
start of the app would.
"""

from __future__ import annotations

import asyncio
import json
import shlex
import sys
from pathlib import Path

import psutil
import pytest
from cli_runner import qtqueue_command

from qtqueue.core.errors import TaskErrorCode
from qtqueue.core.task import TaskStatus
from qtqueue.engine.queue import TaskQueue

from .helpers import eventually, gone

S = TaskStatus

ENGINE = r"""
import asyncio, sys
from qtqueue import OnInterrupt, Task, TaskQueue, TaskType

async def main(data_dir, on_interrupt, max_retries, command):
    async with TaskQueue(data_dir) as queue:  # never left normally: the test kills us
        await run(queue, on_interrupt, max_retries, command)

async def run(queue, on_interrupt, max_retries, command):
    has_pid = asyncio.Event()

    def watch(events):
        for e in events:
            if e.task is not None and e.status == "running" and e.task.pid:
                has_pid.set()

    queue.subscribe(watch)
    task_id = await queue.add_task(Task(
        TaskType.CUSTOM_COMMAND, {"command": command, "shell": True},
        on_interrupt=OnInterrupt(on_interrupt), max_retries=int(max_retries), retry_backoff=[0.01],
    ))
    await has_pid.wait()  # events come after the change is durable: the pid is stored
    print("ready", task_id, (await queue.get_task(task_id)).pid, flush=True)
    await asyncio.Event().wait()

asyncio.run(main(*sys.argv[1:]))
"""


def sleeping_tree(pid: int) -> list[int] | None:
    """[shell, sleep] once the command's shell has started its `sleep`, else None."""
    try:
        children = psutil.Process(pid).children()
        sleeps = [c.pid for c in children if c.name() == "sleep"]
    except psutil.Error:
        return None
    return [pid, *sleeps] if sleeps else None


async def crash_while_running(
    data_dir: Path, on_interrupt: str, max_retries: int, runs_file: Path
) -> tuple[str, list[int]]:
    """Start an engine process, let its command start, SIGKILL the engine. Returns the task id
    and the pids of the command's tree, which the dead engine left running."""
    runs = shlex.quote(str(runs_file))
    # Every run appends a line; the first run then sleeps, a later one finishes at once.
    command = f"echo run >> {runs}; [ $(wc -l < {runs}) -ge 2 ] || sleep 30"
    engine = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        ENGINE,
        str(data_dir),
        on_interrupt,
        str(max_retries),
        command,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        line = await asyncio.wait_for(engine.stdout.readline(), timeout=30)  # type: ignore[union-attr]
        assert line.startswith(b"ready "), line
        _, task_id, pid = line.decode().split()
        tree = await eventually(
            lambda: sleeping_tree(int(pid)), what="the command's shell runs its sleep"
        )
    finally:
        engine.kill()  # SIGKILL: nothing of the engine gets to clean up
        _, err = await engine.communicate()
    assert engine.returncode == -9, err.decode()
    assert not any(gone(p) for p in tree), "the orphaned command outlived its engine"
    return task_id, tree


@pytest.mark.parametrize(
    ("on_interrupt", "max_retries", "outcome", "runs", "retry_count"),
    [
        ("fail", 3, S.FAILED, 1, 0),
        ("retry", 0, S.FAILED, 1, 0),
        ("retry", 1, S.COMPLETED, 2, 1),
        ("requeue", 0, S.COMPLETED, 2, 0),
    ],
)
async def test_a_task_running_when_its_engine_was_killed_is_settled_at_the_next_start(
    tmp_path: Path,
    on_interrupt: str,
    max_retries: int,
    outcome: TaskStatus,
    runs: int,
    retry_count: int,
) -> None:
    data_dir = tmp_path / "data"
    runs_file = tmp_path / "runs.txt"
    task_id, orphans = await crash_while_running(data_dir, on_interrupt, max_retries, runs_file)

    async with TaskQueue(data_dir) as queue:
        # The orphaned process group is killed as the engine starts.
        await eventually(lambda: all(gone(p) for p in orphans), what="the orphans are killed")
        task = await queue.wait_for(task_id, timeout_s=20)
        assert task.status is outcome
        assert task.retry_count == retry_count
        assert task.pid is None
        if outcome is S.FAILED:
            assert task.error_code == TaskErrorCode.QUEUE_TASK_INTERRUPTED.value
            assert task.error_details == {"killed_pid": True}
        log = await queue.read_log(task_id)
        assert "[qtqueue] interrupted" in log
        assert "was killed" in log
    # Nothing ran twice behind anyone's back: one killed run, plus the one rerun if any.
    assert runs_file.read_text().splitlines() == ["run"] * runs


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
