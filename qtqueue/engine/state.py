"""What the engine's parts share: the live index, the writer, the loop, the clock, the runs.

The facade (`engine/queue.py`) builds one `EngineState` and hands it to each part
(lifecycle, dispatch, gates, runner, recovery, retention); no part imports the facade.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections import defaultdict
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.core.overview import StartChecks
from qtqueue.core.task import ACTIVE, Task, TaskStatus
from qtqueue.engine import named_queues
from qtqueue.engine.context import RunHandle
from qtqueue.engine.events import EventBus, EventKind, TaskEvent
from qtqueue.engine.timer import Timer, TimerHandle
from qtqueue.engine.validation import log_file_name
from qtqueue.engine.writer import GroupCommitWriter
from qtqueue.executors import ExecutorRegistry
from qtqueue.executors.spawn_client import SpawnerClient
from qtqueue.storage.base import TaskStore

logger = logging.getLogger(__name__)


def not_found(task_id: str) -> QueueError:
    """QUEUE_TASK_NOT_FOUND for `task_id`."""
    return QueueError(
        TaskErrorCode.QUEUE_TASK_NOT_FOUND, f"no task with id {task_id}", task_id=task_id
    )


def invalid_state(task: Task, action: str) -> QueueError:
    """The coded error for an action the task's status does not allow."""
    if action == "retry" and task.status in ACTIVE:
        return QueueError(
            TaskErrorCode.QUEUE_TASK_ALREADY_RUNNING,
            f"cannot retry task {task.id}: it is {task.status.value}",
            task_id=task.id,
            status=task.status.value,
        )
    return QueueError(
        TaskErrorCode.QUEUE_INVALID_STATE,
        f"cannot {action} task {task.id}: it is {task.status.value}",
        task_id=task.id,
        status=task.status.value,
        action=action,
    )


def queue_order(task: Task) -> tuple[int, int, int, str]:
    """Queue rank first (high_priority, default, low_priority), then priority, then FIFO."""
    return (named_queues.BUILTIN_RANKS.get(task.queue or "", 1), -int(task.priority), task.seq,
            task.id)  # fmt: skip


class Alarm:
    """One loop timer for the earliest of some UNIX times: set(at) arms it unless it is already
    due no later than `at`."""

    def __init__(self, callback: Callable[[], None]) -> None:
        self._callback = callback
        self._handle: TimerHandle | None = None
        self._at: float | None = None

    def set(self, at: float, timer: Timer, now: float) -> None:
        """Fire at UNIX time `at` (or earlier, if already set earlier)."""
        if self._handle is not None:
            if self._at is not None and self._at <= at:
                return
            self._handle.cancel()
        self._at = at
        self._handle = timer.call_later(max(0.0, at - now), self._fire)

    def _fire(self) -> None:
        self._handle = None
        self._at = None
        self._callback()

    def cancel(self) -> None:
        """Disarm it."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
            self._at = None


@dataclass(eq=False)
class EngineState:
    """The state every part of one engine reads and changes (on the loop's thread only)."""

    data_dir: Path
    store: TaskStore
    registry: ExecutorRegistry
    events: EventBus
    #: UNIX time now (injected so that tests can move it).
    clock: Callable[[], float]
    #: False when the queue only opens the store (the CLI without an engine).
    dispatching: bool
    log_cap_bytes: int
    #: Settings executors read through `RunContext.settings`.
    executor_settings: dict[str, Any]
    #: Where the web API is served and its TLS files (`EngineSettings.http_*`): the
    #: composition roots read it when they start serving (applies at the next start).
    web_api: dict[str, str] = field(default_factory=dict)
    started: bool = False
    closing: bool = False
    loop: asyncio.AbstractEventLoop | None = None
    #: Timers and running time (the loop's own unless one was injected); set at start.
    timer: Timer | None = None
    writer: GroupCommitWriter | None = None
    #: Unfinished tasks (and finished ones until their final state is durable), by id.
    live: dict[str, Task] = field(default_factory=dict)
    #: Finished tasks a cleanup is deleting now: a retry of one of them finds it gone.
    removing: set[str] = field(default_factory=set)
    #: How many retries were accepted, and the count at each task's latest one: a cleanup
    #: leaves a task retried since it began (it may have finished again since, afresh).
    retries_accepted: int = 0
    retried_at: dict[str, int] = field(default_factory=dict)
    #: Attempts under way (suspended ones included), by task id.
    active: dict[str, RunHandle] = field(default_factory=dict)
    #: Who waits for a task to finish for good.
    waiters: dict[str, list[asyncio.Future[Task]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    background: set[asyncio.Task[Any]] = field(default_factory=set)
    queues: dict[str, named_queues.QueueSettings] = field(
        default_factory=lambda: named_queues.load(None)
    )
    #: The last queue-order number given out.
    seq: int = 0
    #: id -> seq of the task's one live queue entry (ready, delayed, or parked by a gate or a
    #: limit). Entries whose seq no longer matches are stale and skipped when met.
    queued: dict[str, int] = field(default_factory=dict)
    #: The parent of this engine's commands (see executors/spawner.py), while dispatching.
    spawner: SpawnerClient | None = None
    #: The failed start checks of each PENDING task since it last became ready (in memory
    #: only; cleared when it starts or ends): what `TaskQueue.overview` shows.
    start_checks: dict[str, StartChecks] = field(default_factory=dict)

    def __post_init__(self) -> None:
        #: Where task logs live.
        self.logs_dir = self.data_dir / "logs"
        self._logs_prefix = f"{self.logs_dir}{os.sep}"

    def log_path_text(self, task_id: str) -> str:
        """A task's log file. Never the id itself as a path: an id that is not a valid one
        (stored before ids were checked) gets a digest name, so no log path can leave the
        logs directory."""
        return f"{self._logs_prefix}{log_file_name(task_id)}"

    def log_path(self, task_id: str) -> Path:
        """`log_path_text` as a Path."""
        return Path(self.log_path_text(task_id))

    def next_seq(self) -> int:
        """A new queue-order number (later calls queue later)."""
        self.seq += 1
        return self.seq

    def check_failed(self, task: Task, reason: str, held_by: str) -> None:
        """Record that `task` was checked and could not start, held by `held_by`."""
        now = self.clock()
        record = self.start_checks.get(task.id)
        if record is None or record.seq != task.seq:
            self.start_checks[task.id] = StartChecks(1, reason, now, now, held_by, task.seq)
        else:
            record.attempts += 1
            record.last_reason = reason
            record.last_checked_at = now
            record.held_by = held_by

    def start_checks_passed(self, task: Task) -> None:
        """`task` passed every start check and starts: forget its failed checks (and say, as
        the resource document's queue does, after how many it got its turn)."""
        record = self.start_checks.pop(task.id, None) if self.start_checks else None
        if record is not None:
            logger.info(
                "task %s starts after %d failed start check%s (last: %s)",
                task.id,
                record.attempts,
                "" if record.attempts == 1 else "s",
                record.last_reason,
            )

    def take_entry(self, tid: str, seq: int) -> Task | None:
        """Consume a queue entry: its task if the entry is current and the task still waits."""
        if self.queued.get(tid) != seq:
            return None  # stale: the task was queued again since (a retry, a new seq)
        del self.queued[tid]
        task = self.live.get(tid)
        if task is None or task.status != TaskStatus.PENDING or task.seq != seq:
            return None
        return task

    def close_spawner(self) -> None:
        """Let go of the spawner (the commands it keeps go on)."""
        if self.spawner is not None:
            self.spawner.close()
            self.spawner = None

    def require_open(self) -> None:
        """QUEUE_ENGINE_UNAVAILABLE unless the queue is open."""
        if not self.started:
            raise QueueError(TaskErrorCode.QUEUE_ENGINE_UNAVAILABLE, "the queue is not open")

    def the_writer(self) -> GroupCommitWriter:
        """The group-commit writer (the queue is open)."""
        assert self.writer is not None
        return self.writer

    def the_loop(self) -> asyncio.AbstractEventLoop:
        """The loop the queue was started on."""
        assert self.loop is not None
        return self.loop

    def the_timer(self) -> Timer:
        """The timers of the queue (it is open)."""
        assert self.timer is not None
        return self.timer

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        """Start a background coroutine the queue owns; its failure is logged, never lost."""
        bg = self.the_loop().create_task(coro, name=name)
        self.background.add(bg)
        bg.add_done_callback(self._background_done)
        return bg

    def _background_done(self, bg: asyncio.Task[Any]) -> None:
        self.background.discard(bg)
        if not bg.cancelled() and bg.exception() is not None:
            logger.error("background task %s failed", bg.get_name(), exc_info=bg.exception())

    def event(self, kind: EventKind, task: Task) -> TaskEvent:
        """An event about `task` (a snapshot only when someone listens)."""
        snapshot = task.copy() if self.events.has_subscribers else None
        return TaskEvent(kind, task.id, task.status, snapshot)

    def notice(self, task: Task, text: str) -> TaskEvent:
        """A notification event (the tray shows these) about one task."""
        return TaskEvent(EventKind.NOTICE, task.id, task.status, None, detail=text)
