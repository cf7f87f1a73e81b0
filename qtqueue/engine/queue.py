"""TaskQueue: the engine's facade. It opens and closes the engine and composes its parts.

State lives in the store; the engine keeps unfinished tasks in a live index for speed, changes
them in memory, registers each change with the group-commit writer, and publishes events only
once the change is durable. The parts, each handed the shared `EngineState` (none imports
this module): `lifecycle` (every status change), `dispatch` (queues, slots, the dispatch pass),
`gates` (approval, dependencies, expiry, resources), `runner` (run supervision), `adding`,
`reading` (reads and waits), `control` (what a person asks of a task), `recovery` (the start
after a crash) and `retention`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from qtqueue.config import resolve_data_dir
from qtqueue.core.task import Task, TaskStatus, TaskType
from qtqueue.engine.adding import Adder
from qtqueue.engine.alerts import Alerts
from qtqueue.engine.auto_open import FirstUse, auto_open, call_on_engine_loop, on_engine_loop
from qtqueue.engine.context import AttemptState
from qtqueue.engine.control import Control
from qtqueue.engine.credentials import CredentialStore, KeyringCredentials
from qtqueue.engine.dispatch import Dispatcher, Slots
from qtqueue.engine.editing import Editor, QueueOrder
from qtqueue.engine.events import EventBus, Subscriber
from qtqueue.engine.gates.approval import ApprovalGate
from qtqueue.engine.gates.dependencies import DependencyGate
from qtqueue.engine.gates.expiry import ExpiryGate
from qtqueue.engine.gates.resources import RESOURCE_AGING_S, RESOURCE_AGING_STARTS, ResourceGate
from qtqueue.engine.identity import InProcess
from qtqueue.engine.lifecycle import Lifecycle
from qtqueue.engine.lock import DB_NAME, LOCK_NAME, DataDirLock
from qtqueue.engine.logs import DEFAULT_LOG_CAP_BYTES
from qtqueue.engine.metrics import EngineMetrics
from qtqueue.engine.notify import Notifier
from qtqueue.engine.ordering import Ordering
from qtqueue.engine.overview import Overview
from qtqueue.engine.questions import QuestionDesk
from qtqueue.engine.queue_settings import QueueSettings
from qtqueue.engine.reading import Reader, Statuses
from qtqueue.engine.recovery import Recovery
from qtqueue.engine.resources import ResourceAccountant, ResourceProbe
from qtqueue.engine.retention import DEFAULT_RETENTION_S, Retention
from qtqueue.engine.runner import Runner, ShutdownPolicy
from qtqueue.engine.schedules import ScheduleManager
from qtqueue.engine.state import EngineState
from qtqueue.engine.summary import task_summary
from qtqueue.engine.timer import LoopTimer, Timer
from qtqueue.engine.worker_thread import EngineThread, WorkerControls
from qtqueue.engine.writer import GroupCommitWriter
from qtqueue.executors import ExecutorRegistry, default_registry
from qtqueue.executors.base import Executor, Handler
from qtqueue.storage.base import TaskFilter, TaskStore, Transition
from qtqueue.storage.sqlite import SqliteTaskStore

__all__ = ["DB_NAME", "DEFAULT_RETENTION_S", "LOCK_NAME", "ShutdownPolicy", "TaskQueue"]

logger = logging.getLogger(__name__)


@auto_open
class TaskQueue(QueueSettings, QueueOrder, WorkerControls, InProcess):
    """The embedded, persistent task queue.

    ```
    async with TaskQueue(data_dir, max_concurrent=4) as queue:
        task_id = await queue.add_task(Task(TaskType.CUSTOM_COMMAND, {"command": "true"}))
        await queue.wait_for(task_id)
    ```

    `TaskQueue()` takes the user data directory; a queue never opened opens itself on the
    first call of a coroutine method (`engine.auto_open`): close it (`await queue.close()`)
    when done, else it closes when the loop it opened on ends (`asyncio.run` returning).
    Plain programs run the engine on a thread: `start_worker()`, `stop_worker()`.

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
        timer: Timer | None = None,
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
        #: UNIX time now (timestamps, run_at, expiry); `timer`: timers and running time.
        self.clock = clock
        self._timer = timer
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
        self.reader = Reader(self.state)
        self.overview = Overview(self.dispatcher, self.resources)  # waiting tasks, workers, status
        self.control = Control(
            self.reader, self.runner, self.approval, self.dependencies, self.expiry
        )
        self.ordering = Ordering(self.dispatcher)  # a person's waiting order
        self.editor = Editor(self.ordering, self.resources)  # a waiting task edited
        #: Recurring schedules: each occurrence is added as an ordinary task.
        self.schedules = ScheduleManager(self, store=self.store)
        self.questions = QuestionDesk(self.state, self.runner)  # what running tasks ask
        self.notifier = Notifier(self.state, self.lifecycle.on_evict, self.credentials)  # webhooks
        self.alerts = Alerts(self.state, self.lifecycle.on_evict, self.notifier)  # backlogs
        self.metrics = EngineMetrics(self.state, self.lifecycle.on_conclude)  # for /metrics
        self._lock = DataDirLock(self.data_dir)
        self._start_lock = asyncio.Lock()  # one opening, however many first calls
        #: The engine on a thread of its own, for plain programs (`start_worker`).
        self.worker = EngineThread(self.start, self.close)
        self.first_use = FirstUse(self.start, self.close, lambda: self.worker.loop)

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
        async with self._start_lock:
            if not self.state.started:
                await self._open()

    async def _open(self) -> None:
        state = self.state
        state.loop = asyncio.get_running_loop()
        state.timer = self._timer or LoopTimer(state.loop)
        await self._lock.take(self.lock_timeout_s if state.dispatching else 0)
        try:
            await self.store.open()
            state.writer = GroupCommitWriter(self.store, self.lifecycle.on_committed)
            state.seq = await self.store.max_seq()
            await self.dispatcher.load_settings()
            await self.recovery.restore_history()
            leftovers = await self.recovery.connect_spawner()
            try:
                await self.recovery.load(leftovers)
            finally:
                leftovers.close()
            self.alerts.start()
        except BaseException:
            state.close_spawner()
            await self.store.close()
            self._lock.release()
            raise
        state.started = True
        await self.questions.start()
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
            await self.runner.shutdown(policy)
            await self.notifier.drain()
            for part in (self.dispatcher, self.expiry, self.retention, self.resource_gate):
                part.close()
            for bg in list(state.background):
                bg.cancel()
            await asyncio.gather(*state.background, return_exceptions=True)
            await state.the_writer().close()
            await self.recovery.history_complete()
            state.close_spawner()
            self.reader.close_waiters()
        finally:
            await self.store.close()
            self._lock.release()
            state.started = False
            state.closing = self.notifier.closed = False
            logger.info("queue at %s closed", self.data_dir)

    async def settled(self) -> None:
        """Return once the engine has nothing more to do right now: no dispatch pass pending,
        every change durable and announced, every attempt started has begun its executor (up
        to its first wait). What a test sees then ("nothing started") stays so until time
        passes (see `timer`), a task's own work goes on, or something is asked."""
        self.state.require_open()
        while True:
            await self.state.the_writer().flush()
            starting = [h.entered for h in self.state.active.values() if not h.entered.done()]
            if starting:
                await asyncio.wait(starting)
            elif (pending := self.dispatcher.pass_pending) is not None:
                await pending
            else:
                return

    # ------------------------------------------------------------------ adding

    def register_handler(self, name: str, fn: Handler) -> None:
        """Make `fn(task_id, params) -> dict` (plain or async) runnable as task type `name`."""
        self.registry.register_handler(name, fn)
        call_on_engine_loop(self.state.loop, lambda: self.dispatcher.unblock_type(name))

    def register_executor(self, executor: Executor) -> None:
        """Add an executor for a task type at run time."""
        self.registry.register(executor)
        self.dispatcher.unblock_type(executor.name)

    def default_name(self, task_type: str, params: Mapping[str, Any]) -> str:
        """The name a task given none gets (its family's name keys in this registry)."""
        return self.registry.default_name(task_type, params)

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

    # ------------------------------------------------------------------ reading (reading.py)

    async def get_task(self, task_id: str) -> Task:
        """A copy of the task's current state; QueueError QUEUE_TASK_NOT_FOUND if unknown."""
        return await self.reader.get_task(task_id)

    def attempt_state(self, task_id: str) -> AttemptState | None:
        """The attempt of the task under way now (its running time, whether it holds a
        slot, whether it takes input), or None."""
        handle = self.state.active.get(task_id)
        return handle.seen() if handle is not None else None

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
        queue: str | None = None,
        order: str | None = None,
    ) -> list[Task]:
        """Tasks from the store (every pending change flushed first), oldest first."""
        listing = TaskFilter(
            category=category, tag=tag, dead_letter=dead_letter, limit=limit, offset=offset,
            newest_first=newest_first, queue=queue, order=order,
        )  # fmt: skip
        return await self.reader.list_tasks(status, task_type, listing)

    async def count_tasks(self, status: Statuses = None, **filters: Any) -> int:
        """How many tasks `list_tasks` would list with these filters, without a limit."""
        return await self.reader.count_tasks(status, **filters)

    async def ids_with_prefix(self, prefix: str, limit: int) -> list[str]:
        """Up to `limit` task ids that start with `prefix`, in id order (an index search)."""
        return await self.reader.ids_with_prefix(prefix, limit)

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
        return await self.reader.read_log(task_id, tail_bytes)

    def follow_log(self, task_id: str) -> AsyncIterator[str]:
        """Yield the log as it grows, until the task is finished (see `Reader.follow_log`)."""
        return self.reader.follow_log(task_id)

    async def transitions(self, task_id: str) -> list[Transition]:
        """The status history of a task, oldest first (pending changes written first)."""
        return await self.reader.transitions(task_id)

    async def get_task_summary(self, task_id: str) -> dict[str, Any]:
        """State, progress, timing, error with its fix, retries (`can_retry`), what it waits
        for: what a person asks about one task (see `engine.summary`)."""
        return await task_summary(self, task_id)

    async def get_queue_stats(self) -> dict[str, Any]:
        """Summary, distributions, performance, retries and recent activity (computed in SQL)."""
        return await self.reader.stats(
            max_concurrent_tasks=self.max_concurrent,
            running_tasks=self.slots.used,
            queue_paused=self.queue_paused,
        )

    async def get_history(
        self, since_s: float = 86400, bucket_s: float | None = None
    ) -> dict[str, Any]:
        """Activity over the last `since_s` seconds in buckets (see `Reader.get_history`)."""
        return await self.reader.get_history(since_s, bucket_s)

    async def wait_for(self, task_id: str, timeout_s: float | None = None) -> Task:
        """Return the task once it is finished for good (terminal, no retry pending)."""
        return await self.reader.wait_for(task_id, timeout_s)

    async def join(self, timeout_s: float | None = None) -> None:
        """Return once every task unfinished at the time of the call is finished."""
        await self.reader.join(timeout_s)

    def subscribe(self, fn: Subscriber) -> Callable[[], None]:
        """Receive every durable change as a list of `TaskEvent`s; returns an unsubscribe."""
        return self.events.subscribe(fn)

    # ------------------------------------------------------------------ requests (control.py)

    async def pause_task(self, task_id: str) -> Task:
        """Hold a pending task, or suspend a running one (its whole process tree)."""
        return await self.control.pause_task(task_id)

    async def resume_task(self, task_id: str) -> Task:
        """Release a held task or continue a suspended one."""
        return await self.control.resume_task(task_id)

    async def cancel_task(self, task_id: str) -> Task:
        """Cancel a waiting task, or terminate a running one (TERM, then KILL after grace)."""
        return await self.control.cancel_task(task_id)

    async def send_input(self, task_id: str, text: str | bytes, *, eof: bool = False) -> None:
        """Write to a running command's stdin (started with params `interactive: true`), as
        is (add the newline yourself); `eof` closes its stdin afterwards. Returns once
        written (a full pipe waits until the command reads)."""
        await self.control.send_input(task_id, text, eof=eof)

    async def approve_task(self, task_id: str) -> Task:
        """Let a HUMAN_REQUIRED task run (it still waits for anything else it needs)."""
        return await self.control.approve_task(task_id)

    async def reject_task(self, task_id: str, reason: str = "") -> Task:
        """Refuse a HUMAN_REQUIRED task: it ends CANCELLED with QUEUE_REJECTED and the reason."""
        return await self.control.reject_task(task_id, reason)

    async def retry_task(self, task_id: str) -> Task:
        """Run a FAILED, CANCELLED or TIMEOUT task again (also takes it out of dead letters)."""
        return await self.control.retry_task(task_id)

    async def requeue_dead_letters(self, ids: Iterable[str] | None = None) -> list[str]:
        """Retry the given dead-lettered tasks (default: every one); returns their ids."""
        return await self.control.requeue_dead_letters(ids)

    async def purge_dead_letters(self, ids: Iterable[str] | None = None) -> list[str]:
        """Delete the given dead-lettered tasks and their logs (default: every one)."""
        return await self.control.purge_dead_letters(ids)

    async def remove_task(self, task_id: str) -> None:
        """Delete a finished task and its log for good."""
        await self.control.remove_task(task_id)

    def update_progress(
        self, task_id: str, percent: float, step: str | None = None
    ) -> Awaitable[None]:
        """Report progress of a running task; waits while it is paused. Await it on the
        engine's loop; a plain handler in its thread may just call it (applied at once)."""
        return on_engine_loop(
            self.state.loop, lambda: self.control.update_progress(task_id, percent, step)
        )

    async def cleanup(self, older_than_s: float | None = None) -> int:
        """Delete finished tasks (and logs) completed more than `older_than_s` ago (default:
        the retention period, and each named queue's result and failure TTLs). Dead letters
        are kept: only `purge_dead_letters` (or `remove_task`) deletes them. Returns how many
        were removed."""
        return await self.retention.cleanup(older_than_s)

    # ------------------------------------------------------------------ the queue as a whole

    async def pause_queue(self) -> None:
        """Start nothing new until `resume_queue` (running tasks go on). Survives restarts."""
        await self.dispatcher.pause_queue()

    async def resume_queue(self) -> None:
        """Start dispatching again."""
        await self.dispatcher.resume_queue()

    @property
    def queue_paused(self) -> bool:
        """Whether the queue starts nothing new."""
        return self.dispatcher.paused

    def list_queues(self) -> list[dict[str, Any]]:
        """Every named queue in drain order: its settings, and how many of its tasks run and
        wait now."""
        return self.dispatcher.list_queues()
