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
from collections.abc import Callable, Iterator, Sequence

from qtqueue.core.task import Task
from qtqueue.engine.events import TaskEvent
from qtqueue.storage.base import TaskStore, Transition, WriteBatch

logger = logging.getLogger(__name__)

#: Seconds a transition may wait before it is written (see the module's docstring).
HISTORY_DELAY_S = 0.05
#: A batch the store refused whole is written again after this long, doubling up to RETRY_MAX_S.
RETRY_FIRST_S = 0.05
RETRY_MAX_S = 2.0
#: Tries left to a failing store once the writer closes, before its changes are given up.
CLOSE_ATTEMPTS = 3


class _Pending:
    __slots__ = ("deletes", "events", "future", "inserts", "transitions", "updates")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.inserts: dict[str, Task] = {}
        self.updates: dict[str, Task] = {}
        self.deletes: list[str] = []
        self.transitions: list[Transition] = []
        self.events: list[TaskEvent] = []
        self.future: asyncio.Future[None] = loop.create_future()

    def size(self) -> int:
        return len(self.inserts) + len(self.updates) + len(self.deletes)

    def batch(self) -> WriteBatch:
        return WriteBatch(
            inserts=list(self.inserts.values()),
            updates=list(self.updates.values()),
            deletes=self.deletes,
            transitions=self.transitions,
        )

    def per_task(self) -> Iterator[tuple[str, WriteBatch]]:
        """Each task's own change as a batch of its own (transitions apart)."""
        for task_id, task in self.inserts.items():
            yield task_id, WriteBatch(inserts=[task])
        for task_id, task in self.updates.items():
            yield task_id, WriteBatch(updates=[task])
        for task_id in self.deletes:
            yield task_id, WriteBatch(deletes=[task_id])


class GroupCommitWriter:
    """Batches task writes into transactions on `store`.

    Each registration returns the future of the batch it joined: it resolves once that batch
    is committed and its events have been handed to `on_committed`. A batch is never dropped:
    one the store refuses is split so that a change it cannot hold (see `take_refusal`) fails
    alone, and one it refuses whole is written again until it succeeds (see `_write`). Rows are
    snapshotted when the batch is written, so several changes to one task before a flush cost
    one row write.
    """

    def __init__(self, store: TaskStore, on_committed: Callable[[list[TaskEvent]], None]) -> None:
        self._store = store
        self._on_committed = on_committed
        self._loop = asyncio.get_running_loop()
        self._pending = _Pending(self._loop)
        self._flusher: asyncio.Task[None] | None = None
        self._history: list[Transition] = []
        self._history_timer: asyncio.TimerHandle | None = None
        self._refused: dict[str, BaseException] = {}
        self._closing = False

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
        if self._flusher is not None and self._flusher.cancelled():
            # Cancelled before its first step (asyncio.run cancels every task as it ends).
            self._flusher = self._loop.create_task(self._flush_loop())
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

    def take_refusal(self, task_id: str) -> BaseException | None:
        """The error that kept `task_id`'s own change out of the store, once (see _isolate).

        A batch's future resolves when every change the store accepted is durable; a change the
        store refused on its own (a value SQLite cannot hold, say) is reported here instead, so
        one bad change never fails the others that shared its transaction."""
        return self._refused.pop(task_id, None)

    async def _flush_loop(self) -> None:
        try:
            # A new task waits one turn of the loop before it is written: whatever the engine
            # registers in reply to the same wake-up (the claim of the task added before it,
            # the end of one that just ran) joins this transaction instead of the next one. A
            # caller that awaits each add_task then pays one commit per task instead of three.
            # Claims and ends alone (a queue running commands) are written at once.
            if self._pending.inserts:
                await asyncio.sleep(0)
            while True:
                p = self._pending
                if not (p.inserts or p.updates or p.deletes or p.transitions or p.events):
                    break
                self._pending = _Pending(self._loop)
                try:
                    refused = await self._write(p)
                except BaseException as exc:
                    # Only cancellation (the engine is going away) or a store that kept
                    # failing at close gets here: the batch's callers hear of it.
                    logger.error("writing %d task changes failed: %s", p.size(), exc)
                    if not p.future.done():
                        p.future.set_exception(exc)
                        p.future.exception()  # retrieved here: callers may not await it
                    if isinstance(exc, asyncio.CancelledError):
                        raise
                    continue
                events = p.events
                if refused:
                    self._refused.update(refused)
                    events = [e for e in events if e.task_id not in refused]
                try:
                    self._on_committed(events)
                finally:
                    if not p.future.done():
                        p.future.set_result(None)
        finally:
            self._flusher = None

    async def _write(self, p: _Pending) -> dict[str, BaseException]:
        """Make `p` durable; returns the changes the store refused on their own, by task id.

        A batch that fails is split (see _isolate). One that fails whole is the store's trouble
        (a locked or full disk), not a row's: it is written again after a pause that doubles up
        to RETRY_MAX_S, for as long as the writer is open; once it is closing, after
        CLOSE_ATTEMPTS more tries the error is raised to the batch's callers."""
        delay = RETRY_FIRST_S
        attempt = 0
        while True:
            try:
                await self._store.apply(p.batch())
                return {}
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                error: Exception = exc
            refused = await self._isolate(p)
            if refused is not None:
                for task_id, why in refused.items():
                    logger.error("the store refused the change of task %s: %s", task_id, why)
                return refused
            attempt += 1
            if self._closing and attempt > CLOSE_ATTEMPTS:
                raise error
            if attempt == 1 or attempt % 20 == 0:
                logger.warning(
                    "writing %d task changes failed (%s); trying again in %.2f s (attempt %d)",
                    p.size(),
                    error,
                    delay,
                    attempt,
                )
            await asyncio.sleep(delay)
            delay = min(delay * 2, RETRY_MAX_S)

    async def _isolate(self, p: _Pending) -> dict[str, BaseException] | None:
        """Write `p` one task at a time, its transitions after; returns the tasks whose change
        failed, or None if nothing could be written (the store itself is failing)."""
        refused: dict[str, BaseException] = {}
        written = 0
        for task_id, part in p.per_task():
            try:
                await self._store.apply(part)
                written += 1
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                refused[task_id] = exc
        transitions = [t for t in p.transitions if t.task_id not in refused]
        if transitions:
            try:
                await self._store.apply(WriteBatch(transitions=transitions))
                written += 1
            except asyncio.CancelledError:
                raise
            except Exception:
                for t in transitions:  # history only: keep what the store takes
                    try:
                        await self._store.apply(WriteBatch(transitions=[t]))
                        written += 1
                    except asyncio.CancelledError:
                        raise
                    except Exception as exc:
                        logger.warning(
                            "a transition of task %s was not recorded: %s", t.task_id, exc
                        )
        if written == 0 and refused:
            return None
        return refused

    async def close(self) -> None:
        """Write out everything registered; after this, a store that keeps failing makes the
        remaining changes fail (after CLOSE_ATTEMPTS tries) instead of being retried forever."""
        self._closing = True
        await self.flush()
