"""Group commit: many changes, one transaction, nothing announced before it is durable.

Changes are registered synchronously (so the engine's state and the pending batch never
disagree); a single flusher coroutine writes whatever has accumulated while the previous
transaction was in flight. Under load batches grow by themselves; when idle, a change is
written at once.

Transitions (the `task_events` rows behind statistics and history, not the tasks' state) are
held back for up to `HISTORY_DELAY_S` and then written many to a transaction: in every claim
and completion they were half of what the commit wrote, on the path between one command's
exit and the next one's start. A crash loses at most that much history, never a task's state;
`flush()` writes them at once, and the engine flushes before it reads statistics or history.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence

from qtqueue.core.task import Task
from qtqueue.engine.events import TaskEvent
from qtqueue.storage.base import TaskStore, Transition, WriteBatch

logger = logging.getLogger(__name__)

#: Seconds a transition may wait before it is written (see the module's docstring).
HISTORY_DELAY_S = 0.05


class _Pending:
    __slots__ = ("deletes", "events", "future", "inserts", "transitions", "updates")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.inserts: dict[str, Task] = {}
        self.updates: dict[str, Task] = {}
        self.deletes: list[str] = []
        self.transitions: list[Transition] = []
        self.events: list[TaskEvent] = []
        self.future: asyncio.Future[None] = loop.create_future()


class GroupCommitWriter:
    """Batches task writes into transactions on `store`.

    Each registration returns the future of the batch it joined: it resolves once that batch
    is committed and its events have been handed to `on_committed`, or fails with the store's
    error. Rows are snapshotted when the batch is written, so several changes to one task
    before a flush cost one row write.
    """

    def __init__(self, store: TaskStore, on_committed: Callable[[list[TaskEvent]], None]) -> None:
        self._store = store
        self._on_committed = on_committed
        self._loop = asyncio.get_running_loop()
        self._pending = _Pending(self._loop)
        self._flusher: asyncio.Task[None] | None = None
        self._history: list[Transition] = []
        self._history_timer: asyncio.TimerHandle | None = None

    def insert(
        self, task: Task, event: TaskEvent | None = None, transitions: Sequence[Transition] = ()
    ) -> asyncio.Future[None]:
        p = self._pending
        p.inserts[task.id] = task
        return self._register(p, event, transitions)

    def update(
        self, task: Task, event: TaskEvent | None = None, transitions: Sequence[Transition] = ()
    ) -> asyncio.Future[None]:
        p = self._pending
        if task.id not in p.inserts:
            p.updates[task.id] = task
        return self._register(p, event, transitions)

    def delete(self, task_id: str, event: TaskEvent | None = None) -> asyncio.Future[None]:
        # A held-back transition names its task by id: write it before the task goes.
        self._release_history()
        p = self._pending
        p.inserts.pop(task_id, None)
        p.updates.pop(task_id, None)
        p.deletes.append(task_id)
        return self._register(p, event, ())

    def _register(
        self, p: _Pending, event: TaskEvent | None, transitions: Sequence[Transition]
    ) -> asyncio.Future[None]:
        if transitions:
            if not self._history:
                self._history_timer = self._loop.call_later(HISTORY_DELAY_S, self._release_history)
            self._history.extend(transitions)
        if event is not None:
            p.events.append(event)
        if self._flusher is None:
            self._flusher = self._loop.create_task(self._flush_loop())
        return p.future

    def _release_history(self) -> None:
        """Move the held-back transitions into the next transaction."""
        if self._history_timer is not None:
            self._history_timer.cancel()
            self._history_timer = None
        if not self._history:
            return
        self._pending.transitions.extend(self._history)
        self._history = []
        if self._flusher is None:
            self._flusher = self._loop.create_task(self._flush_loop())

    async def flush(self) -> None:
        """Return once everything registered so far is durable, transitions included."""
        self._release_history()
        if (
            self._pending.inserts
            or self._pending.updates
            or self._pending.deletes
            or (self._pending.transitions or self._pending.events)
        ):
            await asyncio.shield(self._pending.future)
        elif self._flusher is not None:
            await asyncio.shield(self._flusher)

    async def _flush_loop(self) -> None:
        try:
            while True:
                p = self._pending
                if not (p.inserts or p.updates or p.deletes or p.transitions or p.events):
                    break
                self._pending = _Pending(self._loop)
                batch = WriteBatch(
                    inserts=list(p.inserts.values()),
                    updates=list(p.updates.values()),
                    deletes=p.deletes,
                    transitions=p.transitions,
                )
                try:
                    await self._store.apply(batch)
                except BaseException as exc:
                    logger.exception("writing %d task changes failed", len(batch.updates))
                    if not p.future.done():
                        p.future.set_exception(exc)
                        p.future.exception()  # retrieved here: callers may not await it
                    if isinstance(exc, asyncio.CancelledError):
                        raise
                    continue
                try:
                    self._on_committed(p.events)
                finally:
                    if not p.future.done():
                        p.future.set_result(None)
        finally:
            self._flusher = None
