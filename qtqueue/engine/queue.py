"""TaskQueue: the engine's facade. It opens and closes the engine and composes its parts.

State lives in the store; the engine keeps unfinished tasks in a live index for speed, changes
them in memory, registers each change with the group-commit writer, and publishes events only
once the change is durable. The parts, each handed the shared `EngineState`:
`lifecycle` (every status change), `dispatch` (queues, slots, the dispatch pass), `gates`
(approval, dependencies, expiry, resources), `runner` (run supervision), `adding`,
`recovery` (the start after a crash) and `retention`.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable
from enum import StrEnum
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from qtqueue.config import resolve_data_dir
from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.core.task import (
    RETRYABLE_TERMINAL,
    TERMINAL,
    Task,
    TaskStatus,
    TaskType,
    parse_task_type,
)
from qtqueue.engine import named_queues
from qtqueue.engine.adding import Adder
from qtqueue.engine.context import AttemptState, StopReason
from qtqueue.engine.credentials import CredentialStore, KeyringCredentials
from qtqueue.engine.dispatch import Dispatcher, Slots
from qtqueue.engine.events import EventBus, EventKind, Subscriber, TaskEvent
from qtqueue.engine.gates.approval import ApprovalGate
from qtqueue.engine.gates.dependencies import DependencyGate
from qtqueue.engine.gates.expiry import ExpiryGate
from qtqueue.engine.gates.resources import (
    RESOURCE_AGING_S,
    RESOURCE_AGING_STARTS,
    ResourceGate,
)
from qtqueue.engine.lifecycle import Lifecycle
from qtqueue.engine.logs import DEFAULT_LOG_CAP_BYTES, LogTail, read_log, remove_log
from qtqueue.engine.recovery import Recovery
from qtqueue.engine.resources import ResourceAccountant, ResourceProbe
from qtqueue.engine.retention import DEFAULT_RETENTION_S, Retention
from qtqueue.engine.runner import Runner
from qtqueue.engine.schedules import ScheduleManager
from qtqueue.engine.state import EngineState, invalid_state, not_found
from qtqueue.engine.writer import GroupCommitWriter
from qtqueue.executors import ExecutorRegistry, default_registry
from qtqueue.executors.base import Executor, Handler
from qtqueue.storage.base import TaskFilter, TaskStore, Transition
from qtqueue.storage.private import PRIVATE_FILE_MODE, make_data_dir_private, permission_denied
from qtqueue.storage.sqlite import SqliteTaskStore

__all__ = ["DB_NAME", "DEFAULT_RETENTION_S", "LOCK_NAME", "ShutdownPolicy", "TaskQueue"]

logger = logging.getLogger(__name__)

DB_NAME = "queue.db"
LOCK_NAME = "engine.lock"
_META_QUEUE_PAUSED = "queue_paused"
#: "0" while an engine has the store open, "1" once one closed with its history written out.
_META_HISTORY_COMPLETE = "history_complete"


class ShutdownPolicy(StrEnum):
    """What happens to running tasks when the engine stops.

    REQUEUE: stop them and put them back in the queue for the next start. WAIT: let them
    finish (nothing new starts). CANCEL: cancel them.
    """

    REQUEUE = "requeue"
    WAIT = "wait"
    CANCEL = "cancel"


class TaskQueue:
    """The embedded, persistent task queue.

    ```
    async with TaskQueue(data_dir, max_concurrent=4) as queue:
        task_id = await queue.add_task(Task(TaskType.CUSTOM_COMMAND, {"command": "true"}))
        await queue.wait_for(task_id)
    ```

    With `dispatch=False` the queue opens the store without running anything (what the CLI
    does when no engine runs): tasks can be added, read and managed, and the next engine to
    start runs them. One process owns a data directory at a time; a second `TaskQueue` on it
    raises QueueError(QUEUE_ENGINE_LOCKED), and another user's raises
    QueueError(SYSTEM_PERMISSION_DENIED). A damaged store raises QueueError(QUEUE_STORE_CORRUPT,
    details `damaged=True`) unless `replace_damaged_store`, which sets the file aside and starts
    on an empty store (the user's choice: `qtqueue run --new-store-if-damaged`).
    """

    def __init__(
        self,
        data_dir: str | Path | None = None,
        *,
        max_concurrent: int = 4,
        category_limits: dict[str, int] | None = None,
        registry: ExecutorRegistry | None = None,
        store: TaskStore | None = None,
        credentials: CredentialStore | None = None,
        dispatch: bool = True,
        log_cap_bytes: int = DEFAULT_LOG_CAP_BYTES,
        executor_settings: dict[str, Any] | None = None,
        retention_s: float | None = DEFAULT_RETENTION_S,
        cleanup_interval_s: float = 3600.0,
        shutdown_policy: ShutdownPolicy | str = ShutdownPolicy.REQUEUE,
        synchronous: str = "NORMAL",
        lock_timeout_s: float = 3.0,
        clock: Callable[[], float] = time.time,
        resource_probe: ResourceProbe | None = None,
        resource_aging_s: float = RESOURCE_AGING_S,
        resource_aging_starts: int = RESOURCE_AGING_STARTS,
        replace_damaged_store: bool = False,
    ) -> None:
        if max_concurrent < 1:
            raise ValueError("max_concurrent must be at least 1")
        self.data_dir = resolve_data_dir(data_dir)
        self.store: TaskStore = (
            store
            if store is not None
            else SqliteTaskStore(
                self.data_dir / DB_NAME,
                synchronous=synchronous,
                replace_damaged=replace_damaged_store,
            )
        )
        self.credentials: CredentialStore = credentials or KeyringCredentials()
        self.events = EventBus()
        self.clock = clock
        self.state = EngineState(
            data_dir=self.data_dir,
            store=self.store,
            registry=registry if registry is not None else default_registry(),
            events=self.events,
            clock=clock,
            dispatching=dispatch,
            log_cap_bytes=log_cap_bytes,
            executor_settings=dict(executor_settings or {}),
        )
        self.registry = self.state.registry
        #: Settings executors read through `RunContext.settings` ("docker_host": the Docker
        #: daemon for tasks that name none); changes apply to tasks that start afterwards.
        self.executor_settings = self.state.executor_settings
        self.logs_dir = self.state.logs_dir
        self.shutdown_policy = ShutdownPolicy(shutdown_policy)
        self.lock_timeout_s = lock_timeout_s
        self.resources = ResourceAccountant(resource_probe)
        # The parts, from the status changes up.
        self.lifecycle = Lifecycle(self.state)
        self.approval = ApprovalGate(self.lifecycle)
        self.resource_gate = ResourceGate(
            self.lifecycle, self.resources, resource_aging_s, resource_aging_starts
        )
        self.expiry = ExpiryGate(self.lifecycle)
        self.dependencies = DependencyGate(self.lifecycle)
        self.slots = Slots(self.state, max_concurrent, dict(category_limits or {}))
        self.dispatcher = Dispatcher(
            self.lifecycle,
            self.slots,
            admission=(self.approval, self.dependencies),
            before_start=(self.expiry, self.slots, self.resource_gate),
        )
        self.runner = Runner(self.dispatcher, self.resource_gate, self.credentials)
        self.adder = Adder(self.dispatcher, self.dependencies, self.expiry, self.resources)
        self.recovery = Recovery(self.runner, self.dependencies, self.expiry)
        self.retention = Retention(self.state, retention_s, cleanup_interval_s)
        #: Recurring schedules: each occurrence is added as an ordinary task.
        self.schedules = ScheduleManager(self)
        # Not thread-local: it is taken in a worker thread (so waiting never blocks the loop)
        # and released on the loop's thread.
        self._lock = FileLock(
            str(self.data_dir / LOCK_NAME), mode=PRIVATE_FILE_MODE, thread_local=False
        )

    # ------------------------------------------------------------------ settings

    @property
    def dispatching(self) -> bool:
        """Whether this queue runs tasks (False: it only opens the store)."""
        return self.state.dispatching

    @property
    def log_cap_bytes(self) -> int:
        """How much of each task's log is kept."""
        return self.state.log_cap_bytes

    @property
    def spawner(self) -> Any:
        """The parent of this engine's commands (see executors/spawner.py), while dispatching."""
        return self.state.spawner

    @property
    def max_concurrent(self) -> int:
        """How many tasks run at once at most."""
        return self.slots.max_concurrent

    @property
    def category_limits(self) -> dict[str, int]:
        """How many tasks of each limited category run at once at most."""
        return self.slots.category_limits

    @property
    def retention_s(self) -> float | None:
        """How long finished tasks are kept (None: for ever)."""
        return self.retention.retention_s

    @property
    def cleanup_interval_s(self) -> float:
        """How often the scheduled cleanup runs at most."""
        return self.retention.cleanup_interval_s

    def set_max_concurrent(self, n: int) -> None:
        """Change the global concurrency limit now."""
        self.dispatcher.set_max_concurrent(n)

    def set_category_limit(self, category: str, limit: int | None) -> None:
        """Limit how many tasks of one category run at once (None: no limit)."""
        self.dispatcher.set_category_limit(category, limit)

    def set_retention(self, retention_s: float | None) -> None:
        """Keep finished tasks this many seconds (None: for ever), from now on."""
        self.retention.set_retention(retention_s)

    # ------------------------------------------------------------------ start and close

    async def __aenter__(self) -> TaskQueue:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def started(self) -> bool:
        """Whether the queue is open."""
        return self.state.started

    async def start(self) -> None:
        """Take the data directory, open the store, recover from a crash, start dispatching."""
        state = self.state
        if state.started:
            return
        state.loop = asyncio.get_running_loop()
        timeout = self.lock_timeout_s if state.dispatching else 0
        try:
            # Private to its user (0700, files 0600): the store and logs hold commands,
            # parameters and output. Another user's data directory is refused here.
            make_data_dir_private(self.data_dir)
            await asyncio.to_thread(self._lock.acquire, timeout=timeout)
        except PermissionError as exc:
            raise permission_denied(self.data_dir, exc) from None
        except Timeout:
            raise QueueError(
                TaskErrorCode.QUEUE_ENGINE_LOCKED,
                f"another qtqueue engine is using {self.data_dir}",
                data_dir=str(self.data_dir),
            ) from None
        try:
            await self.store.open()
            state.writer = GroupCommitWriter(self.store, self.lifecycle.on_committed)
            state.seq = await self.store.max_seq()
            self.dispatcher.paused = (await self.store.get_meta(_META_QUEUE_PAUSED)) == "1"
            state.queues = named_queues.load(await self.store.get_meta(named_queues.META_KEY))
            await self._restore_history()
            leftovers = await self.recovery.connect_spawner()
            try:
                await self.recovery.load(leftovers)
            finally:
                leftovers.close()
        except BaseException:
            if state.spawner is not None:
                state.spawner.close()
                state.spawner = None
            await self.store.close()
            self._lock.release()
            raise
        state.started = True
        await self.schedules.start()
        if state.dispatching:
            self.retention.schedule(initial=True)
            self.dispatcher.request()
        logger.info(
            "queue open at %s (%d unfinished tasks, dispatch=%s)",
            self.data_dir,
            len(state.live),
            state.dispatching,
        )

    async def close(self, policy: ShutdownPolicy | str | None = None) -> None:
        """Stop cleanly: running tasks follow `policy` (default: the queue's shutdown_policy),
        every change is flushed, the store closed and the data directory released."""
        state = self.state
        if not state.started or state.closing:
            return
        state.closing = True
        policy = ShutdownPolicy(policy) if policy is not None else self.shutdown_policy
        try:
            await self.schedules.close()
            handles = list(state.active.values())
            if policy != ShutdownPolicy.WAIT:
                reason = (
                    StopReason.CANCEL if policy == ShutdownPolicy.CANCEL else StopReason.SHUTDOWN
                )
                for h in handles:
                    self.runner.stop(h, reason)
            await asyncio.gather(*(asyncio.shield(h.done) for h in handles))
            for part in (self.dispatcher, self.expiry, self.retention, self.resource_gate):
                part.close()
            for bg in list(state.background):
                bg.cancel()
            await asyncio.gather(*state.background, return_exceptions=True)
            await state.the_writer().close()
            await self.store.set_meta(_META_HISTORY_COMPLETE, "1")
            if state.spawner is not None:
                state.spawner.close()
                state.spawner = None
            for futures in state.waiters.values():
                for f in futures:
                    if not f.done():
                        f.set_exception(
                            QueueError(
                                TaskErrorCode.QUEUE_ENGINE_UNAVAILABLE, "the queue was closed"
                            )
                        )
                        f.exception()
        finally:
            await self.store.close()
            self._lock.release()
            state.started = False
            state.closing = False
            logger.info("queue at %s closed", self.data_dir)

    async def _restore_history(self) -> None:
        """After a crash, add the transitions that were still held back for writing (see
        GroupCommitWriter), before recovery records its own: statistics, which count tasks by
        their latest transition, then agree with the tasks' stored states again. Whatever
        opens the store does it, so `qtqueue stats` right after a crash is right too."""
        if (await self.store.get_meta(_META_HISTORY_COMPLETE)) == "0":
            restored = await self.store.restore_transitions()
            if restored:
                logger.warning("restored %d status transitions lost in a crash", restored)
        await self.store.set_meta(_META_HISTORY_COMPLETE, "0")

    async def settled(self) -> None:
        """Return once the engine has nothing more to do right now: no dispatch pass pending,
        every change durable and announced, every started attempt past its start. What a test
        sees after it ("nothing started") stays so until time passes or something is asked."""
        self.state.require_open()
        while True:
            await self.state.the_writer().flush()
            starting = [h.entered for h in self.state.active.values() if not h.entered.done()]
            if starting:
                await asyncio.wait(starting)
                continue
            pending = self.dispatcher.pass_pending
            if pending is not None:
                await pending
                continue
            return

    # ------------------------------------------------------------------ adding

    def register_handler(self, name: str, fn: Handler) -> None:
        """Make `fn(task_id, params) -> dict` (plain or async) runnable as task type `name`."""
        self.registry.register_handler(name, fn)
        self.dispatcher.unblock_type(name)

    def register_executor(self, executor: Executor) -> None:
        """Add an executor for a task type at run time."""
        self.registry.register(executor)
        self.dispatcher.unblock_type(executor.name)

    def validate_task(self, task: Task) -> Task:
        """The engine-owned copy `add_task` would queue (params completed with defaults,
        name filled in), or the QueueError it would raise; nothing is queued or stored.
        Dependencies are checked against the store only when the task is added."""
        self.state.require_open()
        return self.adder.prepare(task, self.clock())

    async def add_task(self, task: Task) -> str:
        """Validate and queue one task; returns its id once it is durable."""
        return (await self.adder.add([task]))[0]

    async def add_tasks(self, tasks: Iterable[Task]) -> list[str]:
        """Validate all, then queue all in one transaction (all or none)."""
        return await self.adder.add(tasks)

    # ------------------------------------------------------------------ reading

    async def get_task(self, task_id: str) -> Task:
        """A copy of the task's current state; QueueError QUEUE_TASK_NOT_FOUND if unknown."""
        self.state.require_open()
        live = self.state.live.get(task_id)
        if live is not None:
            return live.copy()
        task = await self.store.get_task(task_id)
        if task is None:
            raise not_found(task_id)
        return task

    def attempt_state(self, task_id: str) -> AttemptState | None:
        """The attempt of the task under way now (its running time, whether it holds a
        slot), or None."""
        handle = self.state.active.get(task_id)
        return handle.seen() if handle is not None else None

    async def _flushed(self) -> None:
        self.state.require_open()
        await self.state.the_writer().flush()

    async def list_tasks(
        self,
        status: TaskStatus | str | Iterable[TaskStatus | str] | None = None,
        *,
        category: str | None = None,
        tag: str | None = None,
        task_type: TaskType | str | None = None,
        dead_letter: bool | None = None,
        limit: int | None = None,
        offset: int = 0,
        newest_first: bool = False,
    ) -> list[Task]:
        """Tasks from the store (every pending change flushed first), oldest first."""
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
        await self._flushed()
        return await self.store.list_tasks(
            TaskFilter(
                statuses=statuses,
                category=category,
                tag=tag,
                task_type=tt,
                dead_letter=dead_letter,
                limit=limit,
                offset=offset,
                newest_first=newest_first,
            )
        )

    async def ids_with_prefix(self, prefix: str, limit: int) -> list[str]:
        """Up to `limit` task ids that start with `prefix`, in id order (an index search)."""
        await self._flushed()
        return await self.store.ids_with_prefix(prefix, limit)

    async def get_tasks_by_category(self, category: str) -> list[Task]:
        """Tasks of one category."""
        return await self.list_tasks(category=category)

    async def get_tasks_by_tag(self, tag: str) -> list[Task]:
        """Tasks with one tag."""
        return await self.list_tasks(tag=tag)

    async def get_tasks_by_type(self, task_type: TaskType | str) -> list[Task]:
        """Tasks of one type."""
        return await self.list_tasks(task_type=task_type)

    async def list_dead_letters(self) -> list[Task]:
        """Tasks that failed for good after using up their retries."""
        return await self.list_tasks(dead_letter=True)

    def log_path(self, task_id: str) -> Path:
        """Where a task's log file is (it may not exist yet)."""
        return self.state.log_path(task_id)

    async def read_log(self, task_id: str, tail_bytes: int | None = None) -> str:
        """The retained log of a task as text."""
        await self.get_task(task_id)
        return read_log(self.log_path(task_id), tail_bytes).decode("utf-8", "replace")

    async def follow_log(self, task_id: str) -> AsyncIterator[str]:
        """Yield the log as it grows (text chunks, each byte once), until the task is finished.

        Reads only what was written since the last chunk, in a worker thread, and wakes when
        the running task writes (or every half second for output written elsewhere).
        """
        await self.get_task(task_id)
        tail = LogTail(self.log_path(task_id))
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
        await self._flushed()
        return await self.store.transitions(task_id)

    async def get_queue_stats(self) -> dict[str, Any]:
        """Summary, distributions, performance, retries and recent activity (computed in SQL)."""
        await self._flushed()
        stats = await self.store.stats(self.clock())
        dist = stats["status_distribution"]
        summary = {
            "total_tasks": sum(dist.values()),
            "max_concurrent_tasks": self.max_concurrent,
            "running_tasks": self.slots.used,
            "queue_size": dist.get(TaskStatus.PENDING.value, 0),
            "queue_paused": self.queue_paused,
            "dead_letters": await self.store.count_tasks(TaskFilter(dead_letter=True)),
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
        await self._flushed()
        now = self.clock()
        since = (now - since_s) // bucket_s * bucket_s
        return await self.store.history(since, bucket_s, until=now)

    # ------------------------------------------------------------------ waiting

    async def wait_for(self, task_id: str, timeout_s: float | None = None) -> Task:
        """Return the task once it is finished for good (terminal, no retry pending)."""
        self.state.require_open()
        task = self.state.live.get(task_id)
        if task is None:
            stored = await self.store.get_task(task_id)
            if stored is None:
                raise not_found(task_id)
            if stored.status in TERMINAL:
                return stored
        if task is not None and task.status in TERMINAL:
            await self._flushed()  # its final state is durable once this returns
            return await self.get_task(task_id)
        fut: asyncio.Future[Task] = self.state.the_loop().create_future()
        self.state.waiters[task_id].append(fut)
        try:
            await asyncio.wait_for(asyncio.shield(fut), timeout_s)
        finally:
            self._drop_waiter(task_id, fut)
        await self._flushed()  # its history too (transitions are written in batches)
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
        await self._flushed()

    def subscribe(self, fn: Subscriber) -> Callable[[], None]:
        """Receive every durable change as a list of `TaskEvent`s; returns an unsubscribe."""
        return self.events.subscribe(fn)

    # ------------------------------------------------------------------ control

    async def _live_task(self, task_id: str, action: str) -> Task:
        self.state.require_open()
        task = self.state.live.get(task_id)
        if task is not None and task.status not in TERMINAL:
            return task
        stored = task or await self.store.get_task(task_id)
        if stored is None:
            raise not_found(task_id)
        raise invalid_state(stored, action)

    async def pause_task(self, task_id: str) -> Task:
        """Hold a pending task, or suspend a running one (its whole process tree)."""
        task = await self._live_task(task_id, "pause")
        await self.runner.pause(task)
        return await self.lifecycle.persisted(task)

    async def resume_task(self, task_id: str) -> Task:
        """Release a held task or continue a suspended one."""
        task = await self._live_task(task_id, "resume")
        await self.runner.resume(task)
        return await self.lifecycle.persisted(task)

    async def cancel_task(self, task_id: str) -> Task:
        """Cancel a waiting task, or terminate a running one (TERM, then KILL after grace)."""
        task = await self._live_task(task_id, "cancel")
        running = task_id in self.state.active
        await self.runner.cancel(task)
        if running:
            await self._flushed()
            return await self.get_task(task_id)
        return await self.lifecycle.persisted(task)

    async def send_input(self, task_id: str, text: str | bytes, *, eof: bool = False) -> None:
        """Write to a running command's stdin (started with params `interactive: true`), as
        is (add the newline yourself); `eof` closes its stdin afterwards. Returns once
        written (a full pipe waits until the command reads)."""
        task = await self._live_task(task_id, "send input to")
        await self.runner.send_input(task, text, eof)

    async def approve_task(self, task_id: str) -> Task:
        """Let a HUMAN_REQUIRED task run (it still waits for anything else it needs).
        Survives restarts."""
        task = await self._live_task(task_id, "approve")
        self.approval.approve(task)
        return await self.lifecycle.persisted(task)

    async def reject_task(self, task_id: str, reason: str = "") -> Task:
        """Refuse a HUMAN_REQUIRED task: it ends CANCELLED with QUEUE_REJECTED and the reason."""
        task = await self._live_task(task_id, "reject")
        self.approval.reject(task, reason)
        return await self.lifecycle.persisted(task)

    async def retry_task(self, task_id: str) -> Task:
        """Run a FAILED, CANCELLED or TIMEOUT task again (also takes it out of dead letters)."""
        state = self.state
        state.require_open()
        if task_id in state.live and state.live[task_id].status not in TERMINAL:
            raise invalid_state(state.live[task_id], "retry")
        await self._flushed()
        task = await self.store.get_task(task_id)
        if task is None:
            raise not_found(task_id)
        if task.status not in RETRYABLE_TERMINAL:
            raise invalid_state(task, "retry")
        state.live[task.id] = task
        await self.dependencies.track([task])
        self.dependencies.runs_again(task)
        task.retry_count += 1
        self.lifecycle.renew(task, task.status)
        self._queue_again(task)
        snapshot = task.copy()
        # Flushes: the retry is durable after it.
        for revived in await self.dependencies.revive_dependents(task.id):
            self._queue_again(revived)
        return snapshot

    def _queue_again(self, task: Task) -> None:
        self.expiry.watch(task)
        self.dispatcher.enqueue(task)

    async def requeue_dead_letters(self, ids: Iterable[str] | None = None) -> list[str]:
        """Retry the given dead-lettered tasks (default: every one); returns their ids.
        QUEUE_INVALID_STATE, before anything is done, if one of `ids` is not a dead letter."""
        chosen = await self._dead_letters(ids, "requeue")
        for i in chosen:
            await self.retry_task(i)
        return chosen

    async def purge_dead_letters(self, ids: Iterable[str] | None = None) -> list[str]:
        """Delete the given dead-lettered tasks and their logs (default: every one); returns
        their ids. QUEUE_INVALID_STATE, before anything is deleted, if one is not a dead
        letter."""
        chosen = await self._dead_letters(ids, "purge")
        for i in chosen:
            await self.remove_task(i)
        return chosen

    async def _dead_letters(self, ids: Iterable[str] | None, action: str) -> list[str]:
        if ids is None:
            return [t.id for t in await self.list_dead_letters()]
        chosen = list(dict.fromkeys(ids))
        for i in chosen:
            task = await self.get_task(i)
            if not task.dead_letter:
                raise QueueError(
                    TaskErrorCode.QUEUE_INVALID_STATE,
                    f"cannot {action} task {i} as a dead letter: it is {task.status.value} and "
                    "not dead-lettered",
                    task_id=i,
                    action=action,
                )
        return chosen

    async def remove_task(self, task_id: str) -> None:
        """Delete a finished task and its log for good."""
        task = await self.get_task(task_id)
        if task.status not in TERMINAL:
            raise invalid_state(task, "remove")
        self.state.live.pop(task_id, None)
        await asyncio.shield(
            self.state.the_writer().delete(task_id, TaskEvent(EventKind.REMOVED, task_id))
        )
        remove_log(self.log_path(task_id))

    async def update_progress(self, task_id: str, percent: float, step: str | None = None) -> None:
        """Report progress of a running task (handlers call this); waits while it is paused."""
        handle = self.state.active.get(task_id)
        if handle is None:
            task = await self.get_task(task_id)
            raise invalid_state(task, "update progress of")
        self.runner.report_progress(handle.task, percent, step)
        await handle.resumed.wait()

    async def cleanup(self, older_than_s: float | None = None) -> int:
        """Delete finished tasks (and logs) completed more than `older_than_s` ago (default:
        the retention period, and each named queue's result TTL for its tasks). Dead letters
        are kept: only `purge_dead_letters` (or `remove_task`) deletes them. Returns how many
        were removed."""
        return await self.retention.cleanup(older_than_s)

    # ------------------------------------------------------------------ the queue as a whole

    async def pause_queue(self) -> None:
        """Start nothing new until `resume_queue` (running tasks go on). Survives restarts."""
        self.state.require_open()
        self.dispatcher.paused = True
        await self.store.set_meta(_META_QUEUE_PAUSED, "1")
        self.events.publish([TaskEvent(EventKind.QUEUE, "", detail="paused")])

    async def resume_queue(self) -> None:
        """Start dispatching again."""
        self.state.require_open()
        self.dispatcher.paused = False
        await self.store.set_meta(_META_QUEUE_PAUSED, "0")
        self.events.publish([TaskEvent(EventKind.QUEUE, "", detail="resumed")])
        self.dispatcher.request()

    @property
    def queue_paused(self) -> bool:
        """Whether the queue starts nothing new."""
        return self.dispatcher.paused

    def list_queues(self) -> list[dict[str, Any]]:
        """Every named queue in drain order: its settings, and how many of its tasks run and
        wait now."""
        waiting: Counter[str] = Counter(
            t.queue for t in self.state.live.values() if t.status == TaskStatus.PENDING
        )
        running = self.slots.queue_running
        return [
            {**q.to_dict(), "running": running[q.name], "waiting": waiting[q.name]}
            for q in sorted(self.state.queues.values(), key=lambda q: (q.rank, q.name))
        ]

    async def set_queue(self, name: str, **settings: Any) -> dict[str, Any]:
        """Create a named queue, or change its settings (`concurrency`, `timeout_s`,
        `max_retries`, `result_ttl_s`; None clears one). Persisted; limits apply at once,
        defaults to tasks added from now on. Returns the queue as `list_queues` shows it."""
        self.state.require_open()
        named_queues.check_name(name)
        current = self.state.queues.get(name) or named_queues.QueueSettings(name)
        new = named_queues.updated(current, settings)
        queues = {**self.state.queues, name: new}
        await self.store.set_meta(named_queues.META_KEY, named_queues.dump(queues))
        self.state.queues = queues
        self.dispatcher.queue_changed(name)
        self.retention.restart()
        return next(q for q in self.list_queues() if q["name"] == name)
