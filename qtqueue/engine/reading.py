"""Reading tasks, their logs and history, and waiting for them to finish.

Reads of one task come from the live index while it is unfinished, else from the store; reads
of many flush every pending change first, so they see what the engine has done.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import dataclasses
import logging
from collections.abc import AsyncIterator, Iterable
from typing import Any

from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.core.task import TERMINAL, Task, TaskStatus, TaskType, parse_task_type
from qtqueue.engine.logs import LogTail, read_log
from qtqueue.engine.state import EngineState, invalid_state, not_found
from qtqueue.storage.base import TaskFilter, Transition

logger = logging.getLogger(__name__)

#: The statuses a listing may name: one, several, or None for all.
Statuses = TaskStatus | str | Iterable[TaskStatus | str] | None


class Reader:
    """The engine's reads and waits, over the shared state."""

    def __init__(self, state: EngineState) -> None:
        self.state = state

    async def get_task(self, task_id: str) -> Task:
        """A copy of the task's current state; QueueError QUEUE_TASK_NOT_FOUND if unknown."""
        self.state.require_open()
        live = self.state.live.get(task_id)
        if live is not None:
            return live.copy()
        task = await self.state.store.get_task(task_id)
        if task is None:
            raise not_found(task_id)
        return task

    async def flushed(self) -> None:
        """Return once every change registered so far is durable."""
        self.state.require_open()
        await self.state.the_writer().flush()

    async def list_tasks(
        self,
        status: TaskStatus | str | Iterable[TaskStatus | str] | None,
        task_type: TaskType | str | None,
        listing: TaskFilter,
    ) -> list[Task]:
        """Tasks from the store (every pending change flushed first): `listing` with the
        statuses and task type as callers may name them."""
        listing = await self._filter(status, task_type, listing)
        return await self.state.store.list_tasks(listing)

    async def count_tasks(
        self,
        status: Statuses,
        *,
        task_type: TaskType | str | None = None,
        category: str | None = None,
        tag: str | None = None,
        dead_letter: bool | None = None,
        queue: str | None = None,
    ) -> int:
        """How many tasks match the filters (pending changes flushed first)."""
        listing = TaskFilter(category=category, tag=tag, dead_letter=dead_letter, queue=queue)
        listing = await self._filter(status, task_type, listing)
        return await self.state.store.count_tasks(listing)

    async def _filter(
        self,
        status: TaskStatus | str | Iterable[TaskStatus | str] | None,
        task_type: TaskType | str | None,
        listing: TaskFilter,
    ) -> TaskFilter:
        self.state.require_open()
        if status is None:
            statuses: tuple[TaskStatus, ...] = ()
        elif isinstance(status, (str, TaskStatus)):
            statuses = (TaskStatus(status),)
        else:
            statuses = tuple(TaskStatus(s) for s in status)
        tt = None
        if task_type is not None:
            parsed = parse_task_type(task_type)
            tt = parsed.value if isinstance(parsed, TaskType) else parsed
        await self.flushed()
        return dataclasses.replace(listing, statuses=statuses, task_type=tt)

    async def ids_with_prefix(self, prefix: str, limit: int) -> list[str]:
        """Up to `limit` task ids that start with `prefix`, in id order (an index search)."""
        await self.flushed()
        return await self.state.store.ids_with_prefix(prefix, limit)

    async def read_log(self, task_id: str, tail_bytes: int | None = None) -> str:
        """The retained log of a task as text."""
        await self.get_task(task_id)
        return read_log(self.state.log_path(task_id), tail_bytes).decode("utf-8", "replace")

    async def follow_log(self, task_id: str) -> AsyncIterator[str]:
        """Yield the log as it grows (text chunks, each byte once), until the task is finished.

        Reads only what was written since the last chunk, in a worker thread, and wakes when
        the running task writes (or every half second for output written elsewhere).
        """
        await self.get_task(task_id)
        tail = LogTail(self.state.log_path(task_id))
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        active = self.state.active
        while True:
            handle = active.get(task_id)
            if handle is not None:
                handle.log_written.clear()
            chunk = await asyncio.to_thread(tail.read_new)
            if chunk:
                yield decoder.decode(chunk)
            task = await self.get_task(task_id)
            if task.status in TERMINAL:
                rest = await asyncio.to_thread(tail.read_new)
                text = decoder.decode(rest, final=True)
                if text:
                    yield text
                return
            if handle is not None and task_id in active:
                await handle.log_written.wait()
            else:
                # Not running here (held, queued, or written by another process): look
                # again when it finishes, or in half a second for output from elsewhere.
                waiter: asyncio.Future[Task] = self.state.the_loop().create_future()
                self.state.waiters[task_id].append(waiter)
                try:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(asyncio.shield(waiter), 0.5)
                finally:
                    self._drop_waiter(task_id, waiter)

    async def transitions(self, task_id: str) -> list[Transition]:
        """The status history of a task, oldest first (pending changes written first)."""
        await self.get_task(task_id)
        await self.flushed()
        return await self.state.store.transitions(task_id)

    async def stats(
        self, *, max_concurrent_tasks: int, running_tasks: int, queue_paused: bool
    ) -> dict[str, Any]:
        """Summary (with the engine's own figures given here), distributions, performance,
        retries and recent activity (computed in SQL)."""
        await self.flushed()
        store = self.state.store
        stats = await store.stats(self.state.clock())
        dist = stats["status_distribution"]
        summary = {
            "total_tasks": sum(dist.values()),
            "max_concurrent_tasks": max_concurrent_tasks,
            "running_tasks": running_tasks,
            "queue_size": dist.get(TaskStatus.PENDING.value, 0),
            "queue_paused": queue_paused,
            "dead_letters": await store.count_tasks(TaskFilter(dead_letter=True)),
        }
        return {"summary": summary, **stats}

    async def get_history(
        self, since_s: float = 86400, bucket_s: float | None = None
    ) -> dict[str, Any]:
        """Activity over the last `since_s` seconds in buckets of `bucket_s` (default: 60
        buckets): per bucket the outcomes, success rate, throughput and queue depth, plus
        duration percentiles per task type (see `SqliteTaskStore.history`). Buckets are
        aligned to multiples of `bucket_s` in UNIX time, so they stay put between calls; the
        first may begin up to one bucket before `now - since_s`, the last ends after now."""
        self.state.require_open()
        if since_s <= 0 or (bucket_s is not None and bucket_s <= 0):
            raise ValueError("since_s and bucket_s must be positive")
        bucket_s = bucket_s or since_s / 60
        await self.flushed()
        now = self.state.clock()
        since = (now - since_s) // bucket_s * bucket_s
        return await self.state.store.history(since, bucket_s, until=now)

    # ------------------------------------------------------------------ waiting

    async def wait_for(self, task_id: str, timeout_s: float | None = None) -> Task:
        """Return the task once it is finished for good (terminal, no retry pending)."""
        self.state.require_open()
        task = self.state.live.get(task_id)
        if task is None:
            stored = await self.state.store.get_task(task_id)
            if stored is None:
                raise not_found(task_id)
            if stored.status in TERMINAL:
                return stored
        if task is not None and task.status in TERMINAL:
            await self.flushed()  # its final state is durable once this returns
            return await self.get_task(task_id)
        fut: asyncio.Future[Task] = self.state.the_loop().create_future()
        self.state.waiters[task_id].append(fut)
        try:
            await asyncio.wait_for(asyncio.shield(fut), timeout_s)
        finally:
            self._drop_waiter(task_id, fut)
        await self.flushed()  # its history too (transitions are written in batches)
        return await self.get_task(task_id)

    def _drop_waiter(self, task_id: str, fut: asyncio.Future[Task]) -> None:
        waiting = self.state.waiters.get(task_id)
        if waiting is not None and fut in waiting:
            waiting.remove(fut)
            if not waiting:
                del self.state.waiters[task_id]

    async def join(self, timeout_s: float | None = None) -> None:
        """Return once every task unfinished at the time of the call is finished."""
        self.state.require_open()
        loop = self.state.the_loop()
        futures = []
        for i, t in self.state.live.items():
            if t.status not in TERMINAL:
                fut: asyncio.Future[Task] = loop.create_future()
                self.state.waiters[i].append(fut)
                futures.append(fut)
        try:
            if futures:
                await asyncio.wait_for(asyncio.gather(*futures), timeout_s)
        finally:
            for f in futures:
                f.cancel()
        await self.flushed()

    async def live_task(self, task_id: str, action: str) -> Task:
        """The unfinished task `action` applies to (QUEUE_TASK_NOT_FOUND, or
        QUEUE_INVALID_STATE for a finished one)."""
        self.state.require_open()
        task = self.state.live.get(task_id)
        if task is not None and task.status not in TERMINAL:
            return task
        stored = task or await self.state.store.get_task(task_id)
        if stored is None:
            raise not_found(task_id)
        raise invalid_state(stored, action)

    def close_waiters(self) -> None:
        """The queue closes: whoever still waits gets QUEUE_ENGINE_UNAVAILABLE."""
        for futures in self.state.waiters.values():
            for f in futures:
                if not f.done():
                    f.set_exception(
                        QueueError(TaskErrorCode.QUEUE_ENGINE_UNAVAILABLE, "the queue was closed")
                    )
                    f.exception()
