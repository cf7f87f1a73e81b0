"""The real headless engine (`qtqueue run`) SIGKILLed again and again while it runs short
commands, restarted each time: no task is lost, no command runs twice, no command that
finished is recorded as failed, and the database stays whole."""

from __future__ import annotations

import asyncio
import os
import random
import shlex
import sqlite3
import subprocess
import sys
from pathlib import Path

from helpers.cli import qtqueue_env
from helpers.waiting import eventually

from qtqueue.core.task import OnInterrupt, Task, TaskStatus, TaskType
from qtqueue.engine.queue import TaskQueue

TASKS = 60
KILLS = 12


def started(runs: Path) -> int:
    """How many commands have started (each writes its own file as it starts)."""
    return len(os.listdir(runs))


async def test_sigkill_at_random_moments_loses_nothing_and_runs_nothing_twice(
    tmp_path: Path,
) -> None:
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    data_dir, runs = tmp_path / "q", tmp_path / "runs"
    runs.mkdir()
    tasks = []
    for i in range(TASKS):
        record = shlex.quote(str(runs / str(i)))
        work = rng.choice(["0.05", "0.1", "0.2", "0.4"])  # each command's own run time
        tasks.append(
            Task(
                TaskType.CUSTOM_COMMAND,
                {"command": f"echo $$ >> {record}; sleep {work}; echo done", "shell": True},
                name=f"storm {i}",
                on_interrupt=rng.choice(list(OnInterrupt)),
            )
        )
    async with TaskQueue(data_dir, dispatch=False) as queue:
        ids = await queue.add_tasks(tasks)

    engine_cmd = [sys.executable, "-m", "qtqueue", "--data-dir", str(data_dir), "run",
                  "--max-concurrent", "2"]  # fmt: skip
    env = qtqueue_env(tmp_path)
    stderr = tmp_path / "engine.err"
    kills = 0
    with stderr.open("ab") as err:
        while kills < KILLS and started(runs) < TASKS:
            before = started(runs)
            engine = subprocess.Popen(engine_cmd, stdout=subprocess.DEVNULL, stderr=err, env=env)
            try:
                await eventually(
                    lambda before=before: started(runs) > before,
                    timeout_s=30,  # type: ignore[misc]
                    what=f"a command starts (seed {seed})",
                )
                # The crash lands at a random moment of the work (not a wait for anything).
                await asyncio.sleep(rng.uniform(0.0, 0.3))
            finally:
                engine.kill()
                engine.wait(timeout=30)
            kills += 1
        final = subprocess.run(
            [*engine_cmd, "--until-idle"], stdout=subprocess.DEVNULL, stderr=err, env=env,
            timeout=120, check=False,
        )  # fmt: skip
    assert final.returncode == 0, stderr.read_text()[-3000:]
    assert kills >= 10, f"only {kills} kills before every command had started (seed {seed})"

    async with TaskQueue(data_dir, dispatch=False) as queue:
        done = {t.id: t for t in await queue.list_tasks()}
        histories = {i: await queue.transitions(i) for i in ids}
    assert sorted(done) == sorted(ids), "a task was lost"
    failed = {t.name: (t.status, t.error_code) for t in done.values()
              if t.status is not TaskStatus.COMPLETED}  # fmt: skip
    assert not failed, f"finished commands recorded as failed (seed {seed}): {failed}"
    twice = {i: (runs / str(i)).read_text().split() for i in range(TASKS)}
    twice = {i: pids for i, pids in twice.items() if len(pids) != 1}
    assert not twice, f"commands run more or less than once (seed {seed}): {twice}"
    for task_id, history in histories.items():
        assert TaskStatus.FAILED not in [t.to_status for t in history], (task_id, history)
    with sqlite3.connect(data_dir / "queue.db") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
