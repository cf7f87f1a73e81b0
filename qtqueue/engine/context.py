"""The engine's side of a running task: what `RunContext` promises executors, and the live
handles (runner, suspend hooks, timeout clock) that are never persisted."""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Protocol

from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.core.question import DEFAULT_QUESTION_TIMEOUT_S, Question, RequestType
from qtqueue.core.task import INTERMEDIATE, Task, TaskStatus
from qtqueue.engine.credentials import CredentialStore
from qtqueue.engine.logs import BoundedLog
from qtqueue.engine.timer import TimerHandle
from qtqueue.executors.base import Executor, InputSink, S, SuspendHook
from qtqueue.executors.spawn_client import SpawnerClient

logger = logging.getLogger(__name__)


class StopReason(StrEnum):
    """Why the engine cancelled a runner."""

    CANCEL = "cancel"
    TIMEOUT = "timeout"
    SHUTDOWN = "shutdown"


@dataclass(frozen=True)
class AttemptState:
    """What can be seen from outside of an attempt under way."""

    #: Running time so far, paused time excluded.
    running_s: float
    #: Whether it counts against the limits (suspended or not).
    holds_slot: bool
    #: Whether it takes input now (`TaskQueue.send_input`).
    takes_input: bool


class RunHandle:
    """Runtime state of one running task: kept apart from the persisted `Task`."""

    def __init__(
        self,
        task: Task,
        log: BoundedLog,
        loop: asyncio.AbstractEventLoop,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.task = task
        self.log = log
        self._monotonic = monotonic
        self.runner: asyncio.Task[None] | None = None
        self.holds_slot = False  # counts against the limits, suspended or not
        self.retry_safe = True  # its executor's `Executor.retry_safe`
        self.stop_reason: StopReason | None = None
        self.pause_hook: SuspendHook | None = None
        self.resume_hook: SuspendHook | None = None
        self.input_sink: InputSink | None = None
        self.resumed = asyncio.Event()
        self.resumed.set()
        self.log_written = asyncio.Event()
        # Running time, paused time excluded: `run_s` so far plus the current stretch.
        self.run_s = 0.0
        self.stretch_start: float | None = None
        self.timeout_handle: TimerHandle | None = None
        self.done = loop.create_future()
        #: Done once the attempt's claim (RUNNING) is durable and its executor has begun (it
        #: has run up to its first wait), or it waits for its resume, or it has ended.
        self.entered: asyncio.Future[None] = loop.create_future()

    def mark_entered(self) -> None:
        """The attempt has begun (see `entered`)."""
        if not self.entered.done():
            self.entered.set_result(None)

    def seen(self) -> AttemptState:
        """Its state as seen from outside."""
        return AttemptState(self.running_s(), self.holds_slot, self.input_sink is not None)

    def running_s(self) -> float:
        if self.stretch_start is None:
            return self.run_s
        return self.run_s + (self._monotonic() - self.stretch_start)

    def start_clock(self) -> None:
        if self.stretch_start is None:
            self.stretch_start = self._monotonic()

    def stop_clock(self) -> None:
        if self.stretch_start is not None:
            self.run_s += self._monotonic() - self.stretch_start
            self.stretch_start = None


async def call_hook(hook: SuspendHook | None) -> None:
    if hook is None:
        return
    out = hook()
    if inspect.isawaitable(out):
        await out


class RunHost(Protocol):
    """What a running task's context needs from the engine (the runner provides it)."""

    @property
    def spawner(self) -> SpawnerClient | None:
        """The parent of the engine's commands, if there is one."""
        ...

    @property
    def credentials(self) -> CredentialStore:
        """Where `RunContext.credential` reads secrets."""
        ...

    @property
    def executor_settings(self) -> dict[str, Any]:
        """What `RunContext.settings` shows."""
        ...

    @property
    def data_dir(self) -> str:
        """The engine's data directory (what `RunContext.data_dir` shows)."""
        ...

    def report_progress(
        self,
        task: Task,
        percent: float,
        step: str | None,
        done_bytes: int | None = None,
        total_bytes: int | None = None,
    ) -> None:
        """Record the task's progress (and step, and bytes moved of how many)."""

    def enter_phase(self, handle: RunHandle, status: TaskStatus) -> None:
        """Move the running task into an intermediate phase (or back to RUNNING)."""

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        """Run `coro` in the background, owned and logged by the engine."""
        ...

    def attach_pid(self, task: Task, pid: int) -> None:
        """Remember the pid of the task's command."""

    def alert(self, task: Task, text: str) -> None:
        """Publish a NOTICE event about `task` saying `text`."""

    @property
    def questions(self) -> QuestionPort | None:
        """Where `RunContext.ask` goes (None: this engine takes no questions)."""
        ...


class QuestionPort(Protocol):
    """Where running tasks' questions go (`engine/questions.py`'s QuestionDesk)."""

    async def ask(
        self,
        task_id: str,
        message: str,
        *,
        request_type: str = ...,
        context: Mapping[str, Any] | None = ...,
        timeout_s: float = ...,
        conversation_id: str | None = ...,
        parent_id: str | None = ...,
    ) -> Question:
        """Ask and wait: the answered question, or QueueError(QUEUE_QUESTION_TIMEOUT)."""
        ...

    def attempt_ended(self, task_id: str) -> None:
        """The task's attempt is over: its open questions end CANCELLED."""


class EngineRunContext:
    """`RunContext` for one attempt of one task."""

    def __init__(self, host: RunHost, handle: RunHandle, executor: Executor) -> None:
        self._host = host
        self._handle = handle
        self._executor = executor
        self._params: Any = None

    @property
    def task(self) -> Task:
        return self._handle.task

    @property
    def params(self) -> Any:
        """The params model instance, built on first use (plain handlers never need it)."""
        if self._params is None:
            self._params = self._executor.parse(self._handle.task.params)
        return self._params

    @property
    def log_path(self) -> str:
        return self._handle.log.path_text

    @property
    def spawner(self) -> SpawnerClient | None:
        return self._host.spawner

    @property
    def settings(self) -> Mapping[str, Any]:
        return MappingProxyType(self._host.executor_settings)

    def family_settings(self, model: type[S]) -> S:
        """`model` (a family's settings model) from the settings for executors: its own
        fields only (the mapping holds every family's), its defaults for the rest."""
        current = self._host.executor_settings
        return model.model_validate({k: current[k] for k in model.model_fields if k in current})

    def progress(
        self,
        percent: float,
        step: str | None = None,
        *,
        done_bytes: int | None = None,
        total_bytes: int | None = None,
    ) -> None:
        self._host.report_progress(self._handle.task, percent, step, done_bytes, total_bytes)

    def phase(self, status: TaskStatus) -> None:
        if status not in INTERMEDIATE and status != TaskStatus.RUNNING:
            raise ValueError(f"{status} is not a phase a running task can enter")
        self._host.enter_phase(self._handle, status)

    def log(self, line: str) -> None:
        self.log_bytes((line if line.endswith("\n") else line + "\n").encode("utf-8", "replace"))

    def log_bytes(self, chunk: bytes) -> None:
        h = self._handle
        h.log.write(chunk)
        h.log_written.set()

    async def credential(self, name: str) -> str:
        value = await self._host.credentials.get(name)
        if value:
            self._handle.log.add_secret(value.encode())
        return value

    def add_secret(self, secret: str) -> None:
        if secret:
            self._handle.log.add_secret(secret.encode())

    async def checkpoint(self) -> None:
        await self._handle.resumed.wait()

    def set_suspend_hooks(self, pause: SuspendHook, resume: SuspendHook) -> None:
        h = self._handle
        h.pause_hook, h.resume_hook = pause, resume
        if not h.resumed.is_set():
            # Paused before the work had started: suspend it now.
            self._host.spawn(call_hook(pause), "suspend")

    def attach_pid(self, pid: int) -> None:
        self._host.attach_pid(self._handle.task, pid)

    def alert(self, text: str) -> None:
        self._host.alert(self._handle.task, text)

    def set_input_sink(self, sink: InputSink | None) -> None:
        self._handle.input_sink = sink

    @property
    def data_dir(self) -> str:
        return self._host.data_dir

    async def ask(
        self,
        message: str,
        *,
        request_type: str = RequestType.QUESTION.value,
        context: Mapping[str, Any] | None = None,
        timeout_s: float = DEFAULT_QUESTION_TIMEOUT_S,
        conversation_id: str | None = None,
        parent_id: str | None = None,
    ) -> Question:
        desk = self._host.questions
        if desk is None:
            raise QueueError(TaskErrorCode.INTERNAL_ERROR, "this engine takes no questions")
        return await desk.ask(
            self._handle.task.id,
            message,
            request_type=request_type,
            context=context,
            timeout_s=timeout_s,
            conversation_id=conversation_id,
            parent_id=parent_id,
        )
