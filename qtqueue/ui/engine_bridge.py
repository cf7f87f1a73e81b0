"""Where engine events cross into Qt: coalesced per frame, re-emitted as Qt signals.

The engine calls its subscribers with each committed batch of `TaskEvent`s. A busy queue
commits many small batches; repainting for each would swamp the window. `EngineBridge` keeps
only the newest snapshot per task id, and a single-shot timer (one frame, 16 ms by default)
flushes what gathered as at most one `tasksRemoved`, one `tasksChanged`, one
`queueStateChanged` and one `questionsChanged` emission. qasync runs the engine on Qt's
thread, so no locking is needed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any, Protocol

from PySide6.QtCore import QObject, QTimer, Signal

from qtqueue.api.port import ENGINE_BACK, ENGINE_LOST
from qtqueue.core.errors import QueueError
from qtqueue.core.task import Task
from qtqueue.engine.events import EventKind, Subscriber, TaskEvent

logger = logging.getLogger(__name__)

#: One frame at 60 Hz.
FRAME_MS = 16


class EventSource(Protocol):
    """What the bridge needs of the engine: `TaskQueue` (or its `EventBus`) fits."""

    def subscribe(self, fn: Subscriber) -> Callable[[], None]: ...


def event_loop() -> asyncio.AbstractEventLoop:
    """The running loop, or qasync's loop when a Qt slot runs while it is not running."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.get_event_loop_policy().get_event_loop()


class BackgroundTasks:
    """Owns asyncio tasks started by widgets: failures are logged, `cancel_all` ends them."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        task = event_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def adopt(self, task: asyncio.Task[Any]) -> None:
        """Own a task started elsewhere (an async slot's)."""
        if task not in self._tasks:
            self._tasks.add(task)
            task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("background task %s failed", task.get_name(), exc_info=task.exception())

    def __len__(self) -> int:
        return len(self._tasks)

    async def cancel_all(self) -> None:
        """Cancel every owned task (but the caller's own) and wait until they are done."""
        current = asyncio.current_task()
        tasks = [t for t in self._tasks if t is not current]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


class EngineBridge(QObject):
    """Subscribes to the engine and re-emits its events as coalesced Qt signals.

    - `tasksChanged(list[Task])`: the newest snapshot of every task added or changed since
      the last flush.
    - `tasksRemoved(list[str])`: ids of tasks removed since the last flush (emitted first).
    - `queueStateChanged(str)`: "paused" or "resumed", the queue's latest state.
    - `questionsChanged(list[str])`: ids of the tasks that asked a question, or whose
      question was answered or timed out, since the last flush.

    `events_received` and `flushes` count what came in and what went out.
    """

    tasksChanged = Signal(list)
    tasksRemoved = Signal(list)
    queueStateChanged = Signal(str)
    questionsChanged = Signal(list)
    #: A schedule was added, changed or deleted (its id).
    schedulesChanged = Signal(str)
    #: An attached engine stopped answering (`ENGINE_LOST`) or answers again (`ENGINE_BACK`).
    engineLinkChanged = Signal(str)

    def __init__(
        self, source: EventSource, parent: QObject | None = None, *, interval_ms: int = FRAME_MS
    ) -> None:
        super().__init__(parent)
        self._source = source
        self._unsubscribe: Callable[[], None] | None = None
        self._changed: dict[str, Task] = {}
        self._removed: dict[str, None] = {}  # an ordered set
        self._queue_state: str | None = None
        self._link: str | None = None
        self._questions: dict[str, None] = {}  # an ordered set of task ids
        self._stale: set[str] = set()
        self._background = BackgroundTasks()
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.flush)
        self.events_received = 0
        self.flushes = 0

    @property
    def running(self) -> bool:
        return self._unsubscribe is not None

    def start(self) -> None:
        """Start listening (before loading the task list, so no change is missed)."""
        if self._unsubscribe is None:
            self._unsubscribe = self._source.subscribe(self._on_events)

    async def stop(self) -> None:
        """Stop listening; what gathered is dropped."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self._timer.stop()
        self._changed.clear()
        self._removed.clear()
        self._questions.clear()
        self._stale.clear()
        self._queue_state = None
        self._link = None
        await self._background.cancel_all()

    def _on_events(self, events: list[TaskEvent]) -> None:
        """The engine's subscriber: gather, keeping only the newest snapshot per task."""
        self.events_received += len(events)
        for e in events:
            if e.kind == EventKind.SCHEDULE_CHANGED:
                self.schedulesChanged.emit(e.detail)
                continue
            if e.kind == EventKind.QUESTION:
                self._questions[e.task_id] = None  # the question's own change: no snapshot
                continue
            if e.kind == EventKind.NOTICE:
                continue  # words for the tray; the task's own change comes as CHANGED
            if e.kind == EventKind.QUEUE:
                if e.detail in ("paused", "resumed"):
                    self._queue_state = e.detail
                elif e.detail in (ENGINE_LOST, ENGINE_BACK):
                    self._link = e.detail
            elif e.kind == EventKind.REMOVED:
                self._changed.pop(e.task_id, None)
                self._stale.discard(e.task_id)
                self._removed[e.task_id] = None
            elif e.task is not None:
                self._changed[e.task_id] = e.task
                self._stale.discard(e.task_id)
            else:
                # Made before anyone subscribed, so it carries no snapshot: fetch one.
                self._stale.add(e.task_id)
        if not self._timer.isActive():
            self._timer.start()

    def flush(self) -> None:
        """Emit what gathered now (the timer calls this once per frame)."""
        self._timer.stop()
        removed, self._removed = list(self._removed), {}
        changed, self._changed = list(self._changed.values()), {}
        state, self._queue_state = self._queue_state, None
        link, self._link = self._link, None
        questions, self._questions = list(self._questions), {}
        if self._stale:
            stale, self._stale = sorted(self._stale), set()
            self._background.spawn(self._fetch(stale), "fetch stale snapshots")
        if removed or changed or state or questions:
            self.flushes += 1
        if removed:
            self.tasksRemoved.emit(removed)
        if changed:
            self.tasksChanged.emit(changed)
        if state is not None:
            self.queueStateChanged.emit(state)
        if questions:
            self.questionsChanged.emit(questions)
        if link is not None:
            self.engineLinkChanged.emit(link)

    async def _fetch(self, ids: list[str]) -> None:
        get_task = getattr(self._source, "get_task", None)
        if get_task is None:
            return
        for task_id in ids:
            try:
                task = await get_task(task_id)
            except QueueError:
                continue  # removed meanwhile; its REMOVED event follows
            if task_id not in self._changed and task_id not in self._removed:
                self._changed[task_id] = task
        if not self._timer.isActive():
            self._timer.start()
