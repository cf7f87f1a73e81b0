"""An engine process killed outright while its command runs (crash recovery tests): a real,
separate Python process runs a TaskQueue and starts a command; `crash_while_running` SIGKILLs
it (no clean shutdown of any kind) once the command has started, leaving it running."""

from __future__ import annotations

import asyncio
import shlex
import sys
from pathlib import Path

from helpers.processes import gone
from helpers.waiting import eventually

ENGINE = r"""
import asyncio, sys
from qtqueue import OnInterrupt, Task, TaskQueue, TaskType

async def main(data_dir, on_interrupt, max_retries, command, pause="no"):
    async with TaskQueue(data_dir) as queue:  # never left normally: the test kills us
        await run(queue, on_interrupt, max_retries, command, pause == "pause")

async def run(queue, on_interrupt, max_retries, command, pause):
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
    if pause:
        await queue.pause_task(task_id)
    print("ready", task_id, (await queue.get_task(task_id)).pid, flush=True)
    await asyncio.Event().wait()

asyncio.run(main(*sys.argv[1:]))
"""


def command_pid(runs_file: Path) -> int | None:
    """The pid the command wrote once it started (its shell's), else None."""
    try:
        lines = runs_file.read_text().split()
    except FileNotFoundError:
        return None
    return int(lines[-1]) if lines else None


def gated_command(runs_file: Path, gate: Path, exit_status: int) -> str:
    """A command that records each run (its pid), prints a line, and then waits for the test
    to create `gate` before it says more and exits with `exit_status` — its own work, which
    the test controls, not a sleep."""
    runs, gate_q = shlex.quote(str(runs_file)), shlex.quote(str(gate))
    return (
        f"echo $$ >> {runs}; echo before the crash; "
        f"while [ ! -e {gate_q} ]; do sleep 0.02; done; "
        f"echo after the crash; exit {exit_status}"
    )


async def crash_while_running(
    data_dir: Path,
    on_interrupt: str,
    max_retries: int,
    command: str,
    runs_file: Path,
    pause: str = "no",
) -> tuple[str, int]:
    """Start an engine process, let its command start, SIGKILL the engine. Returns the task id
    and the pid of the command, which the dead engine left running."""
    engine = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        ENGINE,
        str(data_dir),
        on_interrupt,
        str(max_retries),
        command,
        pause,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        line = await asyncio.wait_for(engine.stdout.readline(), timeout=30)  # type: ignore[union-attr]
        assert line.startswith(b"ready "), line
        _, task_id, _ = line.decode().split()
        pid = await eventually(lambda: command_pid(runs_file), what="the command started")
    finally:
        engine.kill()  # SIGKILL: nothing of the engine gets to clean up
        _, err = await engine.communicate()
    assert engine.returncode == -9, err.decode()
    assert not gone(pid), "the command outlived its engine"
    return task_id, pid
