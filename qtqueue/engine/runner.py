"""Run supervision: an admitted task's attempt from its durable claim to its conclusion.

The runner starts attempts, follows their progress and phases, suspends and continues them
(a paused task keeps its slot), stops them (cancel, timeout, shutdown), and gives their slots
back. `EngineRunContext` talks to it through the `RunHost` protocol.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Coroutine
from enum import StrEnum
from typing import Any

from qtqueue.core.errors import QueueError, TaskErrorCode, classify_exception
from qtqueue.core.task import ACTIVE, TERMINAL, Permission, Task, TaskStatus
from qtqueue.engine.context import (
    EngineRunContext,
    QuestionPort,
    RunHandle,
    StopReason,
    call_hook,
)
from qtqueue.engine.credentials import CredentialStore
from qtqueue.engine.dispatch import Dispatcher
from qtqueue.engine.gates.resources import ResourceGate
from qtqueue.engine.lifecycle import Lifecycle
from qtqueue.engine.logs import BoundedLog, redact
from qtqueue.engine.state import invalid_state
from qtqueue.executors.base import Executor, SuspendHook
from qtqueue.executors.process import kill_orphan
from qtqueue.executors.spawn_client import SpawnerClient

logger = logging.getLogger(__name__)

#: A command's pid is written once it has run this long (see Runner.attach_pid).
PID_WRITE_DELAY_S = 0.05


class ShutdownPolicy(StrEnum):
    """What happens to running tasks when the engine stops.

    REQUEUE: stop them and put them back in the queue for the next start. WAIT: let them
    finish (nothing new starts). CANCEL: cancel them.
    """

    REQUEUE = "requeue"
    WAIT = "wait"
    CANCEL = "cancel"


class Runner:
    """Supervises the attempts under way (`state.active`); the `RunHost` of their contexts."""

    def __init__(
        self,
        dispatcher: Dispatcher,
        resources: ResourceGate,
        credentials: CredentialStore,
    ) -> None:
        self.dispatcher = dispatcher
        self.lifecycle: Lifecycle = dispatcher.lifecycle
        self.state = dispatcher.state
        self.slots = dispatcher.slots
        self.resources = resources
        self.credentials = credentials
        #: Where `RunContext.ask` goes, told when an attempt ends (engine/questions.py).
        self.questions: QuestionPort | None = None
        dispatcher.start = self.start

    # ------------------------------------------------------------------ RunHost

    @property
    def spawner(self) -> SpawnerClient | None:
        """The parent of this engine's commands, while dispatching."""
        return self.state.spawner

    @property
    def executor_settings(self) -> dict[str, Any]:
        """Settings executors read through `RunContext.settings`."""
        return self.state.executor_settings

    @property
    def data_dir(self) -> str:
        """The engine's data directory."""
        return str(self.state.data_dir)

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        """Start a background coroutine the queue owns; its failure is logged, never lost."""
        return self.state.spawn(coro, name)

    def report_progress(
        self,
        task: Task,
        percent: float,
        step: str | None,
        done_bytes: int | None = None,
        total_bytes: int | None = None,
    ) -> None:
        """Record progress (0-100, rounded), the current step (secrets masked) and the bytes
        moved of how many (in memory and events only)."""
        changed = False
        if done_bytes is not None and done_bytes >= 0 and done_bytes != task.done_bytes:
            task.done_bytes = done_bytes
            changed = True
        if total_bytes is not None and total_bytes >= 0 and total_bytes != task.total_bytes:
            task.total_bytes = total_bytes
            changed = True
        if percent >= 0:
            p = round(min(100.0, max(0.0, float(percent))), 1)
            if p != task.progress:
                task.progress = p
                changed = True
        if step is not None:
            handle = self.state.active.get(task.id)
            if handle is not None and handle.log.secrets:
                step = redact(step, handle.log.secrets)
        if step is not None and step != task.current_step:
            task.current_step = step
            changed = True
        if changed and task.status not in TERMINAL:
            self.lifecycle.touch(task)

    def enter_phase(self, handle: RunHandle, status: TaskStatus) -> None:
        """Move the running task into `status` (remembered for its resume while paused)."""
        task = handle.task
        if task.status == TaskStatus.PAUSED:
            task.paused_from = status
            self.lifecycle.touch(task)
        elif task.status != status:
            self.lifecycle.set_status(task, status)

    def alert(self, task: Task, text: str) -> None:
        """Tell a person now: a NOTICE event about `task` (the window's tray shows it)."""
        self.state.events.publish([self.state.notice(task, text)])

    def attach_pid(self, task: Task, pid: int) -> None:
        """Remember the command's pid; persist it only if the command outlives PID_WRITE_DELAY_S.

        Most short commands finish first, and their completion write carries the row anyway:
        one transaction fewer per task. The cost: an engine killed within that moment leaves
        the command running unkilled (the task itself is still recovered as interrupted).
        """
        task.pid = pid
        if self.state.timer is not None:
            self.state.timer.call_later(PID_WRITE_DELAY_S, self._persist_pid, task, pid)

    def _persist_pid(self, task: Task, pid: int) -> None:
        state = self.state
        if task.pid == pid and task.id in state.active and state.live.get(task.id) is task:
            self.lifecycle.touch(task)

    # ------------------------------------------------------------------ starting

    def start(self, task: Task, executor: Executor) -> None:
        """Claim `task` (RUNNING) and run one attempt of it with `executor`."""
        state = self.state
        log = BoundedLog(state.log_path_text(task.id), state.log_cap_bytes)
        handle = RunHandle(task, log, state.the_loop(), state.the_timer().monotonic)
        state.active[task.id] = handle
        self.slots.take(handle)
        task.started_at = state.clock()
        task.completed_at = None
        task.run_at = None
        task.wait_reason = ""
        task.current_step = ""
        task.done_bytes = task.total_bytes = None
        self.resources.started(task)
        claimed = self.lifecycle.set_status(task, TaskStatus.RUNNING)
        handle.runner = state.spawn(self._run(handle, executor, claimed), f"run {task.id}")

    def follow(
        self, task: Task, executor: Executor, pause: SuspendHook, resume: SuspendHook
    ) -> None:
        """Supervise an attempt already under way (a command adopted after a crash), paused
        or not: it holds its slot either way."""
        state = self.state
        log = BoundedLog(state.log_path_text(task.id), state.log_cap_bytes)
        handle = RunHandle(task, log, state.the_loop(), state.the_timer().monotonic)
        state.active[task.id] = handle
        # Resume must reach it before the follower (which sets these too) starts.
        handle.pause_hook, handle.resume_hook = pause, resume
        self.slots.take(handle)
        claimed: asyncio.Future[None] = state.the_loop().create_future()
        claimed.set_result(None)
        handle.runner = state.spawn(self._run(handle, executor, claimed), f"follow {task.id}")

    async def _run(self, handle: RunHandle, executor: Executor, claimed: Awaitable[None]) -> None:
        """One attempt of one task, from the durable claim to its conclusion."""
        task = handle.task
        try:
            await claimed  # RUNNING is durable before anything is started
            if task.permission == Permission.SUPERVISED:
                self.alert(task, f"supervised task started: {task.name}")
            ctx = EngineRunContext(self, handle, executor)
            handle.retry_safe = executor.retry_safe
            if task.status == TaskStatus.PAUSED:
                handle.resumed.clear()
            else:
                handle.start_clock()
                self._arm_timeout(handle)
            if not handle.resumed.is_set():
                handle.mark_entered()  # it waits for its resume
            await handle.resumed.wait()
            if task.retry_count:
                handle.log.write(f"[qtqueue] attempt {task.retry_count + 1}\n".encode())
            handle.mark_entered()  # done once the executor has run up to its first wait
            result = await executor.run(ctx)
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None:
                current.uncancel()
            self._finish_stopped(handle)
        except QueueError as exc:
            self._finish(handle, TaskStatus.FAILED, exc.code, str(exc), exc.details)
        except Exception as exc:
            code = classify_exception(exc)
            logger.debug("task %s raised", task.id, exc_info=True)
            self._finish(handle, TaskStatus.FAILED, code, f"{type(exc).__name__}: {exc}", {})
        else:
            if result is not None and not isinstance(result, dict):
                result = {"value": result}
            self._finish(handle, TaskStatus.COMPLETED, None, None, None, result)

    # ------------------------------------------------------------------ ending

    def forget_when_durable(self, task_id: str, fut: asyncio.Future[None]) -> None:
        """Once an attempt's outcome is durable, the spawner no longer needs to keep it."""
        spawner = self.state.spawner
        if spawner is None:
            return

        def forget(_: object) -> None:
            if not spawner.closed:
                spawner.forget(task_id)

        fut.add_done_callback(forget)

    def _finish_stopped(self, handle: RunHandle) -> None:
        reason = handle.stop_reason or StopReason.SHUTDOWN
        task = handle.task
        if reason == StopReason.TIMEOUT:
            self._finish(
                handle,
                TaskStatus.TIMEOUT,
                TaskErrorCode.SYSTEM_TIMEOUT,
                f"timed out after {task.timeout_s:g} s of running time",
                {"timeout_s": task.timeout_s},
            )
        elif reason == StopReason.CANCEL:
            self._finish(handle, TaskStatus.CANCELLED, None, "cancelled by the user", {})
        else:
            self._release(handle)
            handle.log.write(b"[qtqueue] stopped by shutdown; it runs again at the next start\n")
            if task.status == TaskStatus.PAUSED:
                task.paused_from = TaskStatus.PENDING
                task.pid = None
                fut = self.lifecycle.touch(task)
            else:
                fut = self.lifecycle.requeue(
                    task, "stopped by a shutdown; runs again at the next start"
                )
            self.forget_when_durable(task.id, fut)
            self._done(handle)

    def _finish(
        self,
        handle: RunHandle,
        status: TaskStatus,
        code: TaskErrorCode | str | None,
        message: str | None,
        details: dict[str, Any] | None,
        result: dict[str, Any] | None = None,
    ) -> None:
        task = handle.task
        self._release(handle)
        secrets = handle.log.secrets
        if secrets:  # what the task learnt from the keyring never reaches the store
            message, details, result = (
                redact(message, secrets),
                redact(details, secrets),
                redact(result, secrets),
            )
            task.current_step = redact(task.current_step, secrets)
        if message and status != TaskStatus.COMPLETED:
            handle.log.write(f"[qtqueue] {status.value}: {code}: {message}\n".encode())
        if task.status == TaskStatus.PAUSED:
            self.lifecycle.resume_implied(task)
        fut = self.lifecycle.conclude(
            task,
            status,
            code=code,
            message=message,
            details=details,
            result=result,
            allow_retry=status != TaskStatus.CANCELLED and handle.retry_safe,
        )
        self.forget_when_durable(task.id, fut)
        self._done(handle)

    def _release(self, handle: RunHandle) -> None:
        task = handle.task
        handle.stop_clock()
        if handle.timeout_handle is not None:
            handle.timeout_handle.cancel()
        task.duration_s = handle.running_s()
        self.state.active.pop(task.id, None)
        if self.questions is not None:
            self.questions.attempt_ended(task.id)
        if handle.holds_slot:
            self.lifecycle.release(self.slots.give_back(handle))
        self.resources.released(task)
        self.dispatcher.request()

    @staticmethod
    def _done(handle: RunHandle) -> None:
        handle.log.close()
        handle.log_written.set()
        handle.mark_entered()
        if not handle.done.done():
            handle.done.set_result(None)

    async def shutdown(self, policy: ShutdownPolicy) -> None:
        """The engine stops: every attempt under way follows `policy`; returns once each
        has ended."""
        handles = list(self.state.active.values())
        if policy != ShutdownPolicy.WAIT:
            reason = StopReason.CANCEL if policy == ShutdownPolicy.CANCEL else StopReason.SHUTDOWN
            for h in handles:
                self.stop(h, reason)
        if runners := [h.runner for h in handles if h.runner is not None]:
            await asyncio.wait(runners)
        for h in handles:  # cancelled before its first step (asyncio.run's end): never ended
            if h.runner is not None and h.runner.cancelled() and not h.done.done():
                self._finish_stopped(h)
        await asyncio.gather(*(asyncio.shield(h.done) for h in handles))

    def stop(self, handle: RunHandle, reason: StopReason) -> None:
        """Stop an attempt (a paused one is woken to be stopped)."""
        if handle.stop_reason is None:
            handle.stop_reason = reason
        handle.resumed.set()
        if handle.runner is not None and not handle.runner.done():
            handle.runner.cancel()

    def _arm_timeout(self, handle: RunHandle) -> None:
        t = handle.task.timeout_s
        if t is None or self.state.timer is None:
            return
        if handle.timeout_handle is not None:
            handle.timeout_handle.cancel()
        remaining = max(0.0, t - handle.running_s())
        handle.timeout_handle = self.state.timer.call_later(
            remaining, self.stop, handle, StopReason.TIMEOUT
        )

    # ------------------------------------------------------------------ control

    async def pause(self, task: Task) -> None:
        """Hold a pending task, or suspend a running one. A suspended task stops its clock but
        keeps its slot (as pueue does): the limits still count it, so resuming it never
        exceeds them."""
        if task.status == TaskStatus.PENDING:
            task.paused_from = TaskStatus.PENDING
            self.lifecycle.set_status(task, TaskStatus.PAUSED)
        elif task.status in ACTIVE:
            handle = self.state.active.get(task.id)
            task.paused_from = task.status
            if handle is not None:
                # First: the PAUSED snapshot carries its running time.
                handle.resumed.clear()
                handle.stop_clock()
                task.duration_s = handle.run_s
                if handle.timeout_handle is not None:
                    handle.timeout_handle.cancel()
                    handle.timeout_handle = None
            self.lifecycle.set_status(task, TaskStatus.PAUSED)
            if handle is not None:
                await call_hook(handle.pause_hook)
        else:
            raise invalid_state(task, "pause")

    async def resume(self, task: Task) -> None:
        """Release a held task or continue a suspended one."""
        if task.status != TaskStatus.PAUSED:
            raise invalid_state(task, "resume")
        handle = self.state.active.get(task.id)
        target = task.paused_from or TaskStatus.PENDING
        if handle is None and target in ACTIVE:
            target = TaskStatus.PENDING  # offline: nothing to continue, so it queues again
        task.paused_from = None
        self.lifecycle.set_status(task, target)
        if handle is not None:
            await call_hook(handle.resume_hook)
            handle.resumed.set()
            handle.start_clock()
            self._arm_timeout(handle)
        elif target == TaskStatus.PENDING:
            self.dispatcher.enqueue(task)

    async def cancel(self, task: Task) -> None:
        """Cancel a waiting task, or terminate a running one and wait for its end."""
        handle = self.state.active.get(task.id)
        if handle is not None:
            self.stop(handle, StopReason.CANCEL)
            await asyncio.shield(handle.done)
            return
        if task.status in TERMINAL:
            raise invalid_state(task, "cancel")
        if task.pid:  # left running by a crashed engine, seen from an offline queue
            kill_orphan(task.pid, task.started_at)
        self.lifecycle.conclude(
            task,
            TaskStatus.CANCELLED,
            code=None,
            message="cancelled by the user",
            allow_retry=False,
        )

    async def send_input(self, task: Task, text: str | bytes, eof: bool) -> None:
        """Write to a running interactive command's stdin (see TaskQueue.send_input)."""
        handle = self.state.active.get(task.id)
        sink = handle.input_sink if handle is not None else None
        if sink is None:
            raise QueueError(
                TaskErrorCode.QUEUE_INVALID_STATE,
                f"task {task.id} takes no input now: only a running command or script started "
                "with params interactive: true does",
                task_id=task.id,
                status=task.status.value,
            )
        data = text.encode() if isinstance(text, str) else text
        await sink(data, eof)
        if handle is not None:
            end = " and end of input" if eof else ""
            handle.log.write(f"[qtqueue] sent {len(data)} bytes of input{end}\n".encode())
            handle.log_written.set()
