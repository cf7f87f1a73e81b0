"""After an engine crash: what became of the commands it was running, in words that are true.

The spawner (executors/spawner.py) is the parent of every command, so a crash of the engine
leaves each command in one of three states, and the next engine treats each as it is:
- still running: adopted. It is followed to its end as if nothing had happened: its output
  (kept waiting in its pipes; stderr marked as ever) goes on into the log, pause/cancel/timeout
  work, and its real exit status decides the outcome (`AdoptedCommand`).
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

from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.core.log_streams import mark_stderr
from qtqueue.core.task import OnInterrupt, Task, TaskStatus
from qtqueue.engine.gates.dependencies import DependencyGate
from qtqueue.engine.gates.expiry import ExpiryGate
from qtqueue.engine.lifecycle import as_it_ran
from qtqueue.engine.logs import BoundedLog
from qtqueue.engine.runner import Runner
from qtqueue.executors.base import Executor, RunContext
from qtqueue.executors.env import resolve_env
from qtqueue.executors.process import (
    DEFAULT_GRACE_S,
    DEFAULT_PROGRESS_PATTERN,
    DEFAULT_STEP_PATTERN,
    ProcessTree,
    exit_error,
    follow_command,
    kill_orphan,
    spawned_waiter,
)
from qtqueue.executors.spawn_client import Ended, Leftovers, Running, SpawnerClient

logger = logging.getLogger(__name__)

#: "0" while an engine has the store open, "1" once one closed with its history written out.
_META_HISTORY_COMPLETE = "history_complete"
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

    def parse(self, params: dict[str, Any]) -> Any:
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
            err_fd=self.running.error_fd,
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


class Recovery:
    """Opening the store: the live index built, and tasks a crashed engine left running
    settled (adopted, recorded as they ended, queued again, or cut short)."""

    def __init__(
        self,
        runner: Runner,
        dependencies: DependencyGate,
        expiry: ExpiryGate,
    ) -> None:
        self.runner = runner
        self.lifecycle = runner.lifecycle
        self.state = runner.state
        self.dependencies = dependencies
        self.expiry = expiry

    async def restore_history(self) -> None:
        """After a crash, add the transitions that were still held back for writing (see
        GroupCommitWriter), before recovery records its own: statistics, which count tasks by
        their latest transition, then agree with the tasks' stored states again. Whatever
        opens the store does it, so `qtqueue stats` right after a crash is right too."""
        if (await self.state.store.get_meta(_META_HISTORY_COMPLETE)) == "0":
            restored = await self.state.store.restore_transitions()
            if restored:
                logger.warning("restored %d status transitions lost in a crash", restored)
        await self.state.store.set_meta(_META_HISTORY_COMPLETE, "0")

    async def history_complete(self) -> None:
        """Say in the store that every transition is written (the engine closes cleanly)."""
        await self.state.store.set_meta(_META_HISTORY_COMPLETE, "1")

    async def connect_spawner(self) -> Leftovers:
        """Reach (or start) the data directory's spawner; what a crashed engine left with it."""
        state = self.state
        if not state.dispatching or os.name != "posix":
            return Leftovers()
        try:
            state.spawner, leftovers = await SpawnerClient.connect(state.data_dir)
        except (OSError, TimeoutError, ValueError) as exc:
            logger.warning(
                "commands start without a spawner (%s): an engine crash cuts them short", exc
            )
            return Leftovers()
        return leftovers

    async def load(self, leftovers: Leftovers) -> None:
        """Build the live index; in dispatch mode, settle tasks a crashed engine left running."""
        state = self.state
        interrupted: list[Task] = []
        unfinished = await state.store.load_unfinished()
        for task in unfinished:
            state.live[task.id] = task
        await self.dependencies.track(unfinished)
        for task in unfinished:
            self.expiry.watch(task)
            if task.status == TaskStatus.PENDING:
                self.lifecycle.enqueue(task)
            elif task.status == TaskStatus.PAUSED and task.paused_from in (
                None,
                TaskStatus.PENDING,
            ):
                pass  # held by the user; stays held
            elif state.dispatching:
                interrupted.append(task)
        for task in interrupted:
            self._recover_interrupted(task, leftovers)
        self._settle_strays(leftovers)

    def _recover_interrupted(self, task: Task, leftovers: Leftovers) -> None:
        """A task the store says was running when the engine stopped."""
        ended = leftovers.ended.pop(task.id, None)
        # Left in `leftovers` unless adopted: what nobody takes is closed and stopped there.
        running = leftovers.running.get(task.id)
        executor = self.state.registry.get(task.type_name)
        if ended is not None:
            self._record_ended(task, ended)
        elif running is not None and self._adopt(task, running):
            del leftovers.running[task.id]  # its output pipe is the follower's now
            logger.warning("task %s: adopted its command (pid %d)", task.id, running.pid)
        elif leftovers.known and executor is not None and executor.runs_commands:
            self._never_started(task)
        else:
            self._cut_short(task)

    def _never_started(self, task: Task) -> None:
        """The engine stopped between claiming the task and starting its command: nothing ran,
        so it simply runs now (no retry is spent; the history and log say why)."""
        self._note(
            task, b"[qtqueue] the engine stopped before this task's command started; queued again\n"
        )
        as_it_ran(task)
        task.error_code = TaskErrorCode.QUEUE_TASK_INTERRUPTED.value
        self.lifecycle.requeue(task, "the engine stopped before its command started; queued again")
        task.error_code = None

    def _record_ended(self, task: Task, ended: Ended) -> None:
        """Its command ended while no engine listened: record its real outcome and output."""
        output = drain(ended.output_fd)
        errors = drain(ended.error_fd) if ended.error_fd is not None else b""
        self._note(
            task,
            output,
            mark_stderr(errors),
            f"[qtqueue] the engine stopped while this task ran; its command ended meanwhile "
            f"with exit status {ended.returncode}, recorded at the next start\n".encode(),
        )
        error = ended_outcome(task, ended, output + errors)
        as_it_ran(task)
        if error is None:
            fut = self.lifecycle.conclude(
                task, TaskStatus.COMPLETED, code=None, message=None, result={"exit_code": 0}
            )
        else:
            fut = self.lifecycle.conclude(
                task,
                TaskStatus.FAILED,
                code=error.code,
                message=str(error),
                details=error.details,
            )
        self.runner.forget_when_durable(task.id, fut)
        logger.warning(
            "task %s: its command ended while the engine was stopped (exit status %d)",
            task.id,
            ended.returncode,
        )

    def _adopt(self, task: Task, running: Running) -> bool:
        """Follow a command that kept running through an engine crash to its real end."""
        executor = self.state.registry.get(task.type_name)
        spawner = self.state.spawner
        if executor is None or spawner is None:
            return False
        adopted = AdoptedCommand(executor, running, spawner)
        tree = ProcessTree(running.pid, spawned_waiter(spawner, task.id))
        if task.status == TaskStatus.PAUSED:
            # Stored as paused: suspend it again. The engine may have died between persisting
            # the pause and stopping the command (its pause hook comes once the command runs).
            tree.suspend()
        self.runner.follow(task, adopted, tree.suspend, tree.resume)
        return True

    def _cut_short(self, task: Task) -> None:
        """Nothing kept the task's command: stop what is left of it, then follow its policy."""
        killed = bool(task.pid) and kill_orphan(task.pid or 0, task.started_at)
        note = "[qtqueue] cut short: the engine stopped while this task ran"
        if killed:
            note += f"; its leftover process {task.pid} was stopped"
        elif task.pid:
            note += f"; its process {task.pid} had already ended, how is not known"
        # A type whose second attempt would repeat costly work (Executor.retry_safe) is never
        # run again by itself, whatever its on_interrupt says.
        executor = self.state.registry.get(task.type_name)
        again = executor is None or executor.retry_safe
        will_retry = again and (
            task.on_interrupt == OnInterrupt.REQUEUE
            or (
                task.on_interrupt == OnInterrupt.RETRY
                and task.retry_count < (task.max_retries or 0)
            )
        )
        if will_retry:
            note += "; it runs again"
        elif again:
            note += "; it does not run again"
        else:
            note += "; it does not run again by itself: a second attempt could repeat its work"
        self._note(task, (note + "\n").encode())
        as_it_ran(task)
        task.pid = None
        details = {"killed_pid": killed}
        if again and task.on_interrupt == OnInterrupt.REQUEUE:
            # The history records why it runs again: this transition carries the code.
            task.error_code = TaskErrorCode.QUEUE_TASK_INTERRUPTED.value
            self.lifecycle.requeue(task, "cut short by an engine crash; runs again")
            task.error_code = None
        else:
            self.lifecycle.conclude(
                task,
                TaskStatus.FAILED,
                code=TaskErrorCode.QUEUE_TASK_INTERRUPTED,
                message="cut short: the engine stopped while the task ran",
                details=details,
                allow_retry=again and task.on_interrupt == OnInterrupt.RETRY,
            )
        logger.warning("task %s was cut short by an engine crash (%s)", task.id, task.on_interrupt)

    def _note(self, task: Task, *chunks: bytes) -> None:
        """Append to the log of a task that is not running (what recovery found out)."""
        log = BoundedLog(self.state.log_path(task.id), self.state.log_cap_bytes)
        for chunk in chunks:
            log.write(chunk)
        log.close()

    def _settle_strays(self, leftovers: Leftovers) -> None:
        """Commands the spawner kept that nobody took (their task was removed or concluded,
        or could not be followed): forget the ended ones, stop the running ones."""
        spawner = self.state.spawner
        if spawner is None:
            return
        for ended in leftovers.ended.values():
            spawner.forget(ended.task_id)
        for running in leftovers.running.values():
            logger.warning(
                "stopping command %d: its task %s no longer runs", running.pid, running.task_id
            )
            kill_orphan(running.pid, None)
