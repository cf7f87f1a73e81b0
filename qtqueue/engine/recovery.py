"""After an engine crash: what became of the commands it was running, in words that are true.

The spawner (executors/spawner.py) is the parent of every command, so a crash of the engine
leaves each command in one of three states, and the next engine treats each as it is:
- still running: adopted. It is followed to its end as if nothing had happened: its output
  (kept waiting in its pipe) goes on into the log, pause/cancel/timeout work, and its real
  exit status decides the outcome (`AdoptedCommand`).
- ended while no engine listened: its real exit status is recorded, with the output it left
  (`ended_outcome`).
- unknown (no spawner kept it: a machine restart, or an in-process task): cut short. A process
  that still exists is stopped; the task then follows its `on_interrupt` policy, and its log and
  history say it was cut short and whether it runs again.
"""

from __future__ import annotations

import contextlib
import logging
import os
from typing import Any

from pydantic import BaseModel

from qtqueue.core.errors import QueueError
from qtqueue.core.task import Task
from qtqueue.executors.base import Executor, RunContext
from qtqueue.executors.env import resolve_env
from qtqueue.executors.process import (
    DEFAULT_GRACE_S,
    DEFAULT_PROGRESS_PATTERN,
    DEFAULT_STEP_PATTERN,
    ProcessTree,
    exit_error,
    follow_command,
    spawned_waiter,
)
from qtqueue.executors.spawn_client import Ended, Running, SpawnerClient

logger = logging.getLogger(__name__)

#: Bytes of a command's last output kept to classify its exit (as run_command does).
TAIL_BYTES = 4096


def command_name(task: Task) -> str:
    """The program a command-like task ran, as error messages name it."""
    program = task.params.get("command") or task.params.get("script_path") or task.type_name
    return os.path.basename(str(program)) or str(program)


class AdoptedCommand(Executor):
    """Runs nothing: follows a command a crashed engine started, which the spawner kept."""

    task_type = "adopted command"

    def __init__(self, original: Executor, running: Running, spawner: SpawnerClient) -> None:
        self.original = original
        self.running = running
        self.spawner = spawner

    def parse(self, params: dict[str, Any]) -> BaseModel:
        return self.original.parse(params)

    async def run(self, ctx: RunContext) -> dict[str, Any] | None:
        ctx.log(
            f"[qtqueue] the engine stopped while this task ran; its command (pid "
            f"{self.running.pid}) kept running and is followed again"
        )
        params = ctx.params
        env = getattr(params, "env", None)
        if env:
            # The secrets it was given are masked in what it prints from now on, as before.
            with contextlib.suppress(QueueError):
                await resolve_env(ctx, env)
        tree = ProcessTree(self.running.pid, spawned_waiter(self.spawner, ctx.task.id))
        rc = await follow_command(
            ctx,
            tree,
            self.running.output_fd,
            command_name(ctx.task),
            progress_pattern=getattr(params, "progress_pattern", DEFAULT_PROGRESS_PATTERN),
            step_pattern=getattr(params, "step_pattern", DEFAULT_STEP_PATTERN),
            grace_s=getattr(params, "grace_s", DEFAULT_GRACE_S),
        )
        return {"exit_code": rc}


def drain(fd: int) -> bytes:
    """What a pipe holds now (its writers may be gone, or held by background children); the
    descriptor is closed."""
    chunks: list[bytes] = []
    try:
        os.set_blocking(fd, False)
        while True:
            try:
                chunk = os.read(fd, 65536)
            except (BlockingIOError, OSError):
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        with contextlib.suppress(OSError):
            os.close(fd)
    return b"".join(chunks)


def ended_outcome(task: Task, ended: Ended, tail: bytes) -> QueueError | None:
    """None if the command succeeded, else its coded error, saying when it ended."""
    rc = ended.returncode
    if rc == 0:
        return None
    err = exit_error(command_name(task), rc, tail[-TAIL_BYTES:].decode("utf-8", "replace"))
    return QueueError(
        err.code,
        f"{err} (it ended while the engine was stopped)",
        **err.details,
        ended_while_engine_stopped=True,
    )
