"""The engine's side of a running task: what `RunContext` promises executors, and the live
handles (runner, suspend hooks, timeout clock) that are never persisted."""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from qtqueue.core.task import INTERMEDIATE, Task, TaskStatus
from qtqueue.engine.logs import BoundedLog
from qtqueue.executors.base import Executor, InputSink, SuspendHook
from qtqueue.executors.spawn_client import SpawnerClient

if TYPE_CHECKING:
    from qtqueue.engine.queue import TaskQueue

logger = logging.getLogger(__name__)


class StopReason(StrEnum):
    """Why the engine cancelled a runner."""

    CANCEL = "cancel"
    TIMEOUT = "timeout"
    SHUTDOWN = "shutdown"


class RunHandle:
    """Runtime state of one running task: kept apart from the persisted `Task`."""

    def __init__(self, task: Task, log: BoundedLog, loop: asyncio.AbstractEventLoop) -> None:
        self.task = task
        self.log = log
        self.runner: asyncio.Task[None] | None = None
        self.holds_slot = False  # counts against the limits, suspended or not
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
        self.timeout_handle: asyncio.TimerHandle | None = None
        self.done = loop.create_future()

    def running_s(self) -> float:
        if self.stretch_start is None:
            return self.run_s
        return self.run_s + (time.monotonic() - self.stretch_start)

    def start_clock(self) -> None:
        if self.stretch_start is None:
            self.stretch_start = time.monotonic()

    def stop_clock(self) -> None:
        if self.stretch_start is not None:
            self.run_s += time.monotonic() - self.stretch_start
            self.stretch_start = None


async def call_hook(hook: SuspendHook | None) -> None:
    if hook is None:
        return
    out = hook()
    if inspect.isawaitable(out):
        await out


class EngineRunContext:
    """`RunContext` for one attempt of one task."""

    def __init__(self, queue: TaskQueue, handle: RunHandle, executor: Executor) -> None:
        self._queue = queue
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
        return self._queue.spawner

    @property
    def settings(self) -> Mapping[str, Any]:
        return MappingProxyType(self._queue.executor_settings)

    def progress(self, percent: float, step: str | None = None) -> None:
        self._queue._report_progress(self._handle.task, percent, step)

    def phase(self, status: TaskStatus) -> None:
        if status not in INTERMEDIATE and status != TaskStatus.RUNNING:
            raise ValueError(f"{status} is not a phase a running task can enter")
        self._queue._enter_phase(self._handle, status)

    def log(self, line: str) -> None:
        self.log_bytes((line if line.endswith("\n") else line + "\n").encode("utf-8", "replace"))

    def log_bytes(self, chunk: bytes) -> None:
        h = self._handle
        h.log.write(chunk)
        h.log_written.set()

    async def credential(self, name: str) -> str:
        value = await self._queue.credentials.get(name)
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
            self._queue._spawn(call_hook(pause), "suspend")

    def attach_pid(self, pid: int) -> None:
        self._queue._attach_pid(self._handle.task, pid)

    def set_input_sink(self, sink: InputSink | None) -> None:
        self._handle.input_sink = sink
