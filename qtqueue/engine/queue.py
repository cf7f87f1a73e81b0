"""TaskQueue: the engine. Validates, persists, dispatches, supervises and announces tasks.

State lives in the store; the engine keeps unfinished tasks in a live index for speed, changes
them in memory, registers each change with the group-commit writer, and publishes events only
once the change is durable. Dispatch is event-driven: anything that may free a slot or make a
task ready schedules one dispatch pass on the loop; timers exist only for the next delayed
task, the next expiry, and a short re-check while a task waits for machine resources.

A task waits, PENDING with a `wait_reason`, for: its `run_at`; a person's approval
(HUMAN_REQUIRED); its dependencies (woken through a reverse index when one of them finishes);
an executor; its category's limit; and the machine resources it declared.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import datetime
import functools
import heapq
import logging
import os
import time
from collections import Counter, defaultdict, deque
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterable
from enum import StrEnum
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from qtqueue.config import resolve_data_dir
from qtqueue.core.errors import (
    QueueError,
    TaskErrorCode,
    classify_exception,
    error_info,
)
from qtqueue.core.task import (
    ACTIVE,
    ENDED_IN_WORDS,
    RETRYABLE_TERMINAL,
    TERMINAL,
    OnInterrupt,
    Permission,
    Task,
    TaskStatus,
    TaskType,
    can_transition,
    parse_task_type,
    summarize_params,
)
from qtqueue.engine import named_queues, recovery
from qtqueue.engine.context import (
    EngineRunContext,
    RunHandle,
    StopReason,
    call_hook,
)
from qtqueue.engine.credentials import CredentialStore, KeyringCredentials
from qtqueue.engine.events import EventBus, EventKind, Subscriber, TaskEvent
from qtqueue.engine.logs import (
    DEFAULT_LOG_CAP_BYTES,
    BoundedLog,
    LogTail,
    read_log,
    redact,
    remove_log,
)
from qtqueue.engine.resources import ResourceAccountant, ResourceProbe, parse_needs
from qtqueue.engine.retry import backoff_delay_s, check_retry_codes, wants_retry
from qtqueue.engine.schedules import ScheduleManager
from qtqueue.engine.validation import (
    check_fields,
    check_raw_params,
    check_task_id,
    log_file_name,
)
from qtqueue.engine.writer import GroupCommitWriter
from qtqueue.executors import ExecutorRegistry, default_registry
from qtqueue.executors.base import Executor, Handler
from qtqueue.executors.process import ProcessTree, kill_orphan, spawned_waiter
from qtqueue.executors.spawn_client import Ended, Leftovers, Running, SpawnerClient
from qtqueue.storage.base import TaskFilter, TaskStore, Transition
from qtqueue.storage.private import PRIVATE_FILE_MODE, make_data_dir_private, permission_denied
from qtqueue.storage.sqlite import SqliteTaskStore

logger = logging.getLogger(__name__)

DB_NAME = "queue.db"
LOCK_NAME = "engine.lock"
DEFAULT_RETENTION_S = 30 * 86400.0
_META_QUEUE_PAUSED = "queue_paused"
#: "0" while an engine has the store open, "1" once one closed with its history written out.
_META_HISTORY_COMPLETE = "history_complete"
#: A command's pid is written once it has run this long (see TaskQueue._attach_pid).
PID_WRITE_DELAY_S = 0.05
AWAITING_APPROVAL = "awaiting approval"
#: While a task waits for resources, they are looked at again after this long (doubling, up to
#: RESOURCE_RECHECK_MAX_S, while nothing changes), besides at every task's end. Room made by
#: another program (no event tells us) is seen within half a second; a look costs ~50 us.
RESOURCE_RECHECK_S = 0.25
RESOURCE_RECHECK_MAX_S = 0.5
#: A task waiting for resources that others have passed for this long, or this many times,
#: gets the room: tasks that need resources are held back until it has started.
RESOURCE_AGING_S = 60.0
RESOURCE_AGING_STARTS = 20
_FAILED_OUTCOMES = frozenset({TaskStatus.FAILED, TaskStatus.CANCELLED, TaskStatus.TIMEOUT})


class ShutdownPolicy(StrEnum):
    """What happens to running tasks when the engine stops.

    REQUEUE: stop them and put them back in the queue for the next start. WAIT: let them
    finish (nothing new starts). CANCEL: cancel them.
    """

    REQUEUE = "requeue"
    WAIT = "wait"
    CANCEL = "cancel"


def _not_found(task_id: str) -> QueueError:
    return QueueError(
        TaskErrorCode.QUEUE_TASK_NOT_FOUND, f"no task with id {task_id}", task_id=task_id
    )


def _as_it_ran(task: Task) -> None:
    """A task found running (or paused while running) after a crash, set back to the status it
    ran in, so that recording its outcome is an allowed transition."""
    was = task.paused_from if task.status == TaskStatus.PAUSED else task.status
    task.status = was or TaskStatus.RUNNING
    task.paused_from = None


def _store_refused(exc: BaseException) -> QueueError:
    """A coded error for a new task the store could not hold (validation should have caught
    it: this is the last line, and only this request fails)."""
    if isinstance(exc, QueueError):
        return exc
    return QueueError(
        TaskErrorCode.VALIDATION_INVALID_PARAMS,
        f"the store cannot hold this task: {exc}",
        reason=type(exc).__name__,
    )


def _dependencies_reason(waiting: list[str]) -> str:
    shown = ", ".join(f"{d[:8]}…" for d in waiting[:5]) + (", …" if len(waiting) > 5 else "")
    noun = "dependency" if len(waiting) == 1 else "dependencies"
    return f"waiting for {len(waiting)} {noun}: {shown}"


_ENDED = {**{s.value: words for s, words in ENDED_IN_WORDS.items()}, "removed": "was removed"}


class _Alarm:
    """One loop timer for the earliest of some UNIX times: set(at) arms it unless it is already
    due no later than `at`."""

    def __init__(self, callback: Callable[[], None]) -> None:
        self._callback = callback
        self._handle: asyncio.TimerHandle | None = None
        self._at: float | None = None

    def set(self, at: float, loop: asyncio.AbstractEventLoop, now: float) -> None:
        if self._handle is not None:
            if self._at is not None and self._at <= at:
                return
            self._handle.cancel()
        self._at = at
        self._handle = loop.call_later(max(0.0, at - now), self._fire)

    def _fire(self) -> None:
        self._handle = None
        self._at = None
        self._callback()

    def cancel(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
            self._at = None


def _invalid_state(task: Task, action: str) -> QueueError:
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
        self.max_concurrent = max_concurrent
        self.category_limits: dict[str, int] = dict(category_limits or {})
        self.registry = registry if registry is not None else default_registry()
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
        #: Recurring schedules: each occurrence is added as an ordinary task.
        self.schedules = ScheduleManager(self, store=self.store)
        self.dispatching = dispatch
        self.log_cap_bytes = log_cap_bytes
        #: Settings executors read through `RunContext.settings` ("docker_host": the Docker
        #: daemon for tasks that name none); changes apply to tasks that start afterwards.
        self.executor_settings: dict[str, Any] = dict(executor_settings or {})
        self.retention_s = retention_s
        self.cleanup_interval_s = cleanup_interval_s
        self.shutdown_policy = ShutdownPolicy(shutdown_policy)
        self.lock_timeout_s = lock_timeout_s
        self.clock = clock
        self.resources = ResourceAccountant(resource_probe)
        self.resource_aging_s = resource_aging_s
        self.resource_aging_starts = resource_aging_starts
        self.events = EventBus()
        self.logs_dir = self.data_dir / "logs"
        self._logs_prefix = f"{self.logs_dir}{os.sep}"

        # Not thread-local: it is taken in a worker thread (so waiting never blocks the loop)
        # and released on the loop's thread.
        self._lock = FileLock(
            str(self.data_dir / LOCK_NAME), mode=PRIVATE_FILE_MODE, thread_local=False
        )
        self._started = False
        self._closing = False
        self._writer: GroupCommitWriter | None = None
        self._live: dict[str, Task] = {}
        self._ready: list[tuple[int, int, int, str]] = []  # (queue rank, -priority, seq, id)
        self._delayed: list[tuple[float, int, str]] = []
        # id -> seq of the task's one live queue entry (in _ready, _delayed or a parking
        # list). Entries whose seq no longer matches are stale and skipped when met.
        self._queued: dict[str, int] = {}
        self._blocked_category: dict[str, list[tuple[str, int]]] = defaultdict(list)
        self._blocked_type: dict[str, list[tuple[str, int]]] = defaultdict(list)
        self._blocked_queue: dict[str, list[tuple[str, int]]] = defaultdict(list)
        self._queues = named_queues.load(None)
        self._queue_running: Counter[str] = Counter()
        self._active: dict[str, RunHandle] = {}
        self._slots_used = 0  # tasks with an attempt under way, suspended ones included
        self._category_running: Counter[str] = Counter()
        self._waiters: dict[str, list[asyncio.Future[Task]]] = defaultdict(list)
        self._background: set[asyncio.Task[Any]] = set()
        self._dispatch_scheduled = False
        self._delay_alarm = _Alarm(self._request_dispatch)
        self._cleanup_timer: asyncio.TimerHandle | None = None
        self._queue_paused = False
        self._seq = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        #: The parent of this engine's commands (see executors/spawner.py), while dispatching.
        self.spawner: SpawnerClient | None = None
        # Dependencies. _dependents: id -> unfinished tasks that depend on it (the reverse
        # index that wakes them). _dep_outcome: how a dependency that is no longer live ended
        # (None: it is gone from the store). _dep_parked: dependents parked until one of
        # their dependencies finishes (id -> seq of the parked entry).
        self._dependents: dict[str, set[str]] = defaultdict(set)
        self._dep_outcome: dict[str, TaskStatus | None] = {}
        self._dep_parked: dict[str, int] = {}
        self._settling: deque[str] = deque()
        self._awaiting_approval: dict[str, int] = {}
        self._expiry: list[tuple[float, str]] = []
        self._expiry_alarm = _Alarm(self._on_expiry_alarm)
        # Tasks waiting for machine resources, their re-check timer, and since when (monotonic)
        # and how many times others have passed each of them.
        self._blocked_resources: list[tuple[str, int]] = []
        self._resource_timer: asyncio.TimerHandle | None = None
        self._resource_recheck_s = RESOURCE_RECHECK_S
        self._resource_waits: dict[str, list[float]] = {}

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> TaskQueue:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def started(self) -> bool:
        return self._started

    async def start(self) -> None:
        """Take the data directory, open the store, recover from a crash, start dispatching."""
        if self._started:
            return
        self._loop = asyncio.get_running_loop()
        timeout = self.lock_timeout_s if self.dispatching else 0
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
            self._writer = GroupCommitWriter(self.store, self._on_committed)
            self._seq = await self.store.max_seq()
            self._queue_paused = (await self.store.get_meta(_META_QUEUE_PAUSED)) == "1"
            self._queues = named_queues.load(await self.store.get_meta(named_queues.META_KEY))
            await self._restore_history()
            leftovers = await self._connect_spawner()
            try:
                await self._load(leftovers)
            finally:
                leftovers.close()
        except BaseException:
            if self.spawner is not None:
                self.spawner.close()
                self.spawner = None
            await self.store.close()
            self._lock.release()
            raise
        self._started = True
        await self.schedules.start()
        if self.dispatching:
            self._schedule_cleanup(initial=True)
            self._request_dispatch()
        logger.info(
            "queue open at %s (%d unfinished tasks, dispatch=%s)",
            self.data_dir,
            len(self._live),
            self.dispatching,
        )

    async def close(self, policy: ShutdownPolicy | str | None = None) -> None:
        """Stop cleanly: running tasks follow `policy` (default: the queue's shutdown_policy),
        every change is flushed, the store closed and the data directory released."""
        if not self._started or self._closing:
            return
        self._closing = True
        policy = ShutdownPolicy(policy) if policy is not None else self.shutdown_policy
        try:
            await self.schedules.close()
            handles = list(self._active.values())
            if policy == ShutdownPolicy.WAIT:
                await asyncio.gather(*(asyncio.shield(h.done) for h in handles))
            else:
                reason = (
                    StopReason.CANCEL if policy == ShutdownPolicy.CANCEL else StopReason.SHUTDOWN
                )
                for h in handles:
                    self._stop_runner(h, reason)
                await asyncio.gather(*(asyncio.shield(h.done) for h in handles))
            self._delay_alarm.cancel()
            self._expiry_alarm.cancel()
            for timer in (self._cleanup_timer, self._resource_timer):
                if timer is not None:
                    timer.cancel()
            for bg in list(self._background):
                bg.cancel()
            await asyncio.gather(*self._background, return_exceptions=True)
            assert self._writer is not None
            await self._writer.close()
            await self.store.set_meta(_META_HISTORY_COMPLETE, "1")
            if self.spawner is not None:
                self.spawner.close()
                self.spawner = None
            for futures in self._waiters.values():
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
            self._started = False
            self._closing = False
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

    async def _connect_spawner(self) -> Leftovers:
        """Reach (or start) the data directory's spawner; what a crashed engine left with it."""
        if not self.dispatching or os.name != "posix":
            return Leftovers()
        try:
            self.spawner, leftovers = await SpawnerClient.connect(self.data_dir)
        except (OSError, TimeoutError, ValueError) as exc:
            logger.warning(
                "commands start without a spawner (%s): an engine crash cuts them short", exc
            )
            return Leftovers()
        return leftovers

    async def _load(self, leftovers: Leftovers) -> None:
        """Build the live index; in dispatch mode, settle tasks a crashed engine left running."""
        interrupted: list[Task] = []
        unfinished = await self.store.load_unfinished()
        for task in unfinished:
            self._live[task.id] = task
        await self._track_dependencies(unfinished)
        for task in unfinished:
            self._watch_expiry(task)
            if task.status == TaskStatus.PENDING:
                self._enqueue(task)
            elif task.status == TaskStatus.PAUSED and task.paused_from in (
                None,
                TaskStatus.PENDING,
            ):
                pass  # held by the user; stays held
            elif self.dispatching:
                interrupted.append(task)
        for task in interrupted:
            self._recover_interrupted(task, leftovers)
        self._settle_strays(leftovers)

    def _recover_interrupted(self, task: Task, leftovers: Leftovers) -> None:
        """A task the store says was running when the engine stopped (see recovery.py)."""
        ended = leftovers.ended.pop(task.id, None)
        # Left in `leftovers` unless adopted: what nobody takes is closed and stopped there.
        running = leftovers.running.get(task.id)
        executor = self.registry.get(task.type_name)
        if ended is not None:
            self._record_ended(task, ended)
        elif running is not None and self._adopt(task, running):
            del leftovers.running[task.id]  # its output pipe is the follower's now
            logger.warning("task %s: adopted its command (pid %d)", task.id, running.pid)
        elif leftovers.known and executor is not None and executor.runs_commands:
            self._never_started(task)
        else:
            self._cut_short(task)

    def _never_started(self, task: Task) -> None:
        """The engine stopped between claiming the task and starting its command: nothing ran,
        so it simply runs now (no retry is spent; the history and log say why)."""
        self._note(
            task, b"[qtqueue] the engine stopped before this task's command started; queued again\n"
        )
        _as_it_ran(task)
        task.error_code = TaskErrorCode.QUEUE_TASK_INTERRUPTED.value
        self._requeue(task, "the engine stopped before its command started; queued again")
        task.error_code = None

    def _record_ended(self, task: Task, ended: Ended) -> None:
        """Its command ended while no engine listened: record its real outcome and output."""
        output = recovery.drain(ended.output_fd)
        self._note(
            task,
            output,
            f"[qtqueue] the engine stopped while this task ran; its command ended meanwhile "
            f"with exit status {ended.returncode}, recorded at the next start\n".encode(),
        )
        error = recovery.ended_outcome(task, ended, output)
        _as_it_ran(task)
        if error is None:
            fut = self._conclude(
                task, TaskStatus.COMPLETED, code=None, message=None, result={"exit_code": 0}
            )
        else:
            fut = self._conclude(
                task,
                TaskStatus.FAILED,
                code=error.code,
                message=str(error),
                details=error.details,
            )
        self._forget_run_when_durable(task.id, fut)
        logger.warning(
            "task %s: its command ended while the engine was stopped (exit status %d)",
            task.id,
            ended.returncode,
        )

    def _adopt(self, task: Task, running: Running) -> bool:
        """Follow a command that kept running through an engine crash to its real end."""
        executor = self.registry.get(task.type_name)
        if executor is None or self.spawner is None:
            return False
        adopted = recovery.AdoptedCommand(executor, running, self.spawner)
        log = BoundedLog(self._log_path_text(task.id), self.log_cap_bytes)
        assert self._loop is not None
        handle = RunHandle(task, log, self._loop)
        self._active[task.id] = handle
        # Paused when the engine stopped, it is still suspended: Resume must reach it before
        # the follower (which sets these too) starts.
        tree = ProcessTree(running.pid, spawned_waiter(self.spawner, task.id))
        handle.pause_hook, handle.resume_hook = tree.suspend, tree.resume
        self._take_slot(handle)  # paused or not: a suspended task keeps its slot
        claimed: asyncio.Future[None] = self._loop.create_future()
        claimed.set_result(None)
        handle.runner = self._spawn(self._run(handle, adopted, claimed), f"follow {task.id}")
        return True

    def _cut_short(self, task: Task) -> None:
        """Nothing kept the task's command: stop what is left of it, then follow its policy."""
        killed = bool(task.pid) and kill_orphan(task.pid or 0, task.started_at)
        note = "[qtqueue] cut short: the engine stopped while this task ran"
        if killed:
            note += f"; its leftover process {task.pid} was stopped"
        elif task.pid:
            note += f"; its process {task.pid} had already ended, how is not known"
        will_retry = task.on_interrupt == OnInterrupt.REQUEUE or (
            task.on_interrupt == OnInterrupt.RETRY and task.retry_count < task.max_retries
        )
        note += "; it runs again" if will_retry else "; it does not run again"
        self._note(task, (note + "\n").encode())
        _as_it_ran(task)
        task.pid = None
        details = {"killed_pid": killed}
        if task.on_interrupt == OnInterrupt.REQUEUE:
            # The history records why it runs again: this transition carries the code.
            task.error_code = TaskErrorCode.QUEUE_TASK_INTERRUPTED.value
            self._requeue(task, "cut short by an engine crash; runs again")
            task.error_code = None
        else:
            self._conclude(
                task,
                TaskStatus.FAILED,
                code=TaskErrorCode.QUEUE_TASK_INTERRUPTED,
                message="cut short: the engine stopped while the task ran",
                details=details,
                allow_retry=task.on_interrupt == OnInterrupt.RETRY,
            )
        logger.warning("task %s was cut short by an engine crash (%s)", task.id, task.on_interrupt)

    def _note(self, task: Task, *chunks: bytes) -> None:
        """Append to the log of a task that is not running (what recovery found out)."""
        log = BoundedLog(self._log_path(task.id), self.log_cap_bytes)
        for chunk in chunks:
            log.write(chunk)
        log.close()

    def _settle_strays(self, leftovers: Leftovers) -> None:
        """Commands the spawner kept that nobody took (their task was removed or concluded,
        or could not be followed): forget the ended ones, stop the running ones."""
        if self.spawner is None:
            return
        for ended in leftovers.ended.values():
            self.spawner.forget(ended.task_id)
        for running in leftovers.running.values():
            logger.warning(
                "stopping command %d: its task %s no longer runs", running.pid, running.task_id
            )
            kill_orphan(running.pid, None)

    def _forget_run_when_durable(self, task_id: str, fut: asyncio.Future[None]) -> None:
        """Once an attempt's outcome is durable, the spawner no longer needs to keep it."""
        spawner = self.spawner
        if spawner is None:
            return

        def forget(_: object) -> None:
            if not spawner.closed:
                spawner.forget(task_id)

        fut.add_done_callback(forget)

    # ------------------------------------------------------------------ adding

    def register_handler(self, name: str, fn: Handler) -> None:
        """Make `fn(task_id, params) -> dict` (plain or async) runnable as task type `name`."""
        self.registry.register_handler(name, fn)
        self._unblock_type(name)

    def register_executor(self, executor: Executor) -> None:
        """Add an executor for a task type at run time."""
        self.registry.register(executor)
        self._unblock_type(executor.name)

    def _prepare(self, task: Task, now: float) -> Task:
        """A validated, engine-owned copy of a caller's task, ready to insert."""
        if not isinstance(task, Task):
            raise QueueError(TaskErrorCode.VALIDATION_INVALID_PARAMS, "add_task takes a Task")
        check_task_id(task.id)
        t = Task(
            task_type=(
                parse_task_type(task.task_type)
                if isinstance(task.task_type, str)
                else task.task_type
            ),
            params=dict(task.params) if isinstance(task.params, dict) else task.params,
            name=task.name,
            category=task.category,
            tags=list(task.tags) if isinstance(task.tags, (list, tuple)) else task.tags,
            priority=task.priority,
            max_retries=task.max_retries,
            retry_backoff=(
                list(task.retry_backoff)
                if isinstance(task.retry_backoff, (list, tuple))
                else task.retry_backoff
            ),
            retry_on=task.retry_on,
            no_retry_on=task.no_retry_on,
            timeout_s=task.timeout_s,
            run_at=task.run_at,
            expires_at=task.expires_at,
            depends_on=(
                list(task.depends_on)
                if isinstance(task.depends_on, (list, tuple))
                else task.depends_on
            ),
            resources=dict(task.resources) if isinstance(task.resources, dict) else task.resources,
            allow_dependency_failure=task.allow_dependency_failure,
            ttl_s=task.ttl_s,
            permission=task.permission,
            on_interrupt=task.on_interrupt,
            queue=task.queue,
            id=task.id,
            created_at=now,
            updated_at=now,
        )
        executor = self.registry.get(t.type_name)
        if executor is None:
            known = ", ".join(e.name for e in self.registry)
            raise QueueError(
                TaskErrorCode.QUEUE_UNKNOWN_TASK_TYPE,
                f"no executor for task type {t.type_name!r} (available: {known})",
                task_type=t.type_name,
            )
        if not isinstance(t.params, dict):
            raise QueueError(TaskErrorCode.VALIDATION_INVALID_PARAMS, "params must be an object")
        check_raw_params(t.params)
        t.params = executor.validate(t.params)
        problems = check_fields(t)
        t.retry_on, t.no_retry_on, retry_problems = check_retry_codes(t.retry_on, t.no_retry_on)
        problems += retry_problems
        if problems:
            raise QueueError(
                TaskErrorCode.VALIDATION_INVALID_PARAMS, "; ".join(problems), fields=problems
            )
        queue = self._queues.get(t.queue)
        if queue is None:
            raise QueueError(
                TaskErrorCode.VALIDATION_INVALID_PARAMS,
                f"queue: no queue named {t.queue!r} (queues: {', '.join(sorted(self._queues))}); "
                f"create it first (qtqueue queues set {t.queue})",
                queue=t.queue,
            )
        if t.timeout_s is None:
            t.timeout_s = queue.timeout_s
        if t.max_retries == 0 and queue.max_retries:
            t.max_retries = queue.max_retries
        if t.resources:
            self.resources.check_possible(parse_needs(t.resources))
        t.depends_on = list(dict.fromkeys(t.depends_on))
        if t.id in t.depends_on:
            raise QueueError(
                TaskErrorCode.QUEUE_DEPENDENCY_CYCLE,
                f"task {t.id} depends on itself",
                task_id=t.id,
                cycle=[t.id, t.id],
            )
        if t.ttl_s is not None:
            until = now + t.ttl_s
            t.expires_at = until if t.expires_at is None else min(t.expires_at, until)
        if t.permission == Permission.HUMAN_REQUIRED:
            t.wait_reason = AWAITING_APPROVAL
        if not t.name:
            t.name = summarize_params(t.task_type, t.params)
        return t

    def validate_task(self, task: Task) -> Task:
        """The engine-owned copy `add_task` would queue (params completed with defaults,
        name filled in), or the QueueError it would raise; nothing is queued or stored.
        Dependencies are checked against the store only when the task is added."""
        self._require_open()
        return self._prepare(task, self.clock())

    async def add_task(self, task: Task) -> str:
        """Validate and queue one task; returns its id once it is durable."""
        return (await self.add_tasks([task]))[0]

    async def add_tasks(self, tasks: Iterable[Task]) -> list[str]:
        """Validate all, then queue all in one transaction (all or none)."""
        self._require_open()
        now = self.clock()
        prepared = [self._prepare(t, now) for t in tasks]
        for t in prepared:  # queue order: the order add_tasks calls were made in
            self._seq += 1
            t.seq = self._seq
        ids = [t.id for t in prepared]
        dup = {i for i in ids if i in self._live}
        if len(set(ids)) != len(ids) or dup:
            raise QueueError(
                TaskErrorCode.VALIDATION_INVALID_PARAMS, "duplicate task id", ids=sorted(dup)
            )
        taken = await self.store.existing_ids(ids)
        if taken:
            raise QueueError(
                TaskErrorCode.VALIDATION_INVALID_PARAMS,
                f"task id already exists: {sorted(taken)[0]}",
                ids=sorted(taken),
            )
        finished = await self._check_dependencies(prepared)
        assert self._writer is not None
        self._dep_outcome.update(finished)
        for t in prepared:
            self._live[t.id] = t
        # Registered before the commit is awaited: a dependency that finishes meanwhile
        # must find its dependents in the index.
        self._register_dependents(prepared)
        fut: asyncio.Future[None] | None = None
        for t in prepared:
            if t.depends_on and not t.wait_reason:
                waiting, _ = self._unmet_dependencies(t)
                if waiting:
                    t.wait_reason = _dependencies_reason(waiting)
            fut = self._writer.insert(
                t,
                self._event(EventKind.ADDED, t),
                (Transition(t.id, now, None, TaskStatus.PENDING, t.type_name),),
            )
        if fut is None:
            return []
        try:
            await asyncio.shield(fut)
            refusals = [self._writer.take_refusal(t.id) for t in prepared]
            refused = next((r for r in refusals if r is not None), None)
            if refused is not None:
                # The store took the others (add_tasks is all or none): take them back.
                kept = [t.id for t, r in zip(prepared, refusals, strict=True) if r is None]
                for i in kept:
                    fut = self._writer.delete(i, TaskEvent(EventKind.REMOVED, i))
                if kept:
                    await asyncio.shield(fut)
                raise _store_refused(refused)
        except Exception:
            for t in prepared:
                self._live.pop(t.id, None)
                self._forget_dependencies(t)
            raise
        notices = []
        for t in prepared:
            if t.status == TaskStatus.PENDING:
                self._watch_expiry(t)
                self._enqueue(t)
            if t.permission == Permission.HUMAN_REQUIRED:
                notices.append(self._notice(t, f"awaiting approval: {t.name}"))
        self.events.publish(notices)
        return ids

    async def _check_dependencies(self, batch: list[Task]) -> dict[str, TaskStatus | None]:
        """Refuse dependencies on unknown tasks (QUEUE_TASK_NOT_FOUND) and cycles within the
        batch (QUEUE_DEPENDENCY_CYCLE). Returns the stored status of dependencies that are
        neither live nor already known."""
        in_batch = {t.id: t for t in batch}
        outside = {
            d
            for t in batch
            for d in t.depends_on
            if d not in in_batch and d not in self._live and self._dep_outcome.get(d) is None
        }
        found: dict[str, TaskStatus | None] = dict(await self._stored_statuses(outside))
        for t in batch:
            for d in t.depends_on:
                if d in outside and d not in found:
                    raise QueueError(
                        TaskErrorCode.QUEUE_TASK_NOT_FOUND,
                        f"task {t.name!r} depends on {d}, and no task has that id",
                        task_id=t.id,
                        dependency_id=d,
                    )
        # Stored and live tasks only depend on tasks older than themselves, so a cycle can
        # only run through this batch.
        state: dict[str, int] = {}  # 1: being visited, 2: done
        for root in batch:
            if state.get(root.id):
                continue
            path = [root.id]
            stack = [iter(root.depends_on)]
            state[root.id] = 1
            while stack:
                dep = next(stack[-1], None)
                if dep is None:
                    stack.pop()
                    state[path.pop()] = 2
                elif dep in in_batch:
                    if state.get(dep) == 1:
                        cycle = [*path[path.index(dep) :], dep]
                        raise QueueError(
                            TaskErrorCode.QUEUE_DEPENDENCY_CYCLE,
                            "the dependencies form a cycle: " + " -> ".join(cycle),
                            cycle=cycle,
                        )
                    if not state.get(dep):
                        state[dep] = 1
                        path.append(dep)
                        stack.append(iter(in_batch[dep].depends_on))
        return found

    async def _stored_statuses(self, ids: Iterable[str]) -> dict[str, TaskStatus]:
        wanted = sorted(ids)
        out: dict[str, TaskStatus] = {}
        for i in range(0, len(wanted), 500):
            for task in await self.store.list_tasks(TaskFilter(ids=wanted[i : i + 500])):
                out[task.id] = task.status
        return out

    # ------------------------------------------------------------------ reading

    async def get_task(self, task_id: str) -> Task:
        """A copy of the task's current state; QueueError QUEUE_TASK_NOT_FOUND if unknown."""
        self._require_open()
        live = self._live.get(task_id)
        if live is not None:
            return live.copy()
        task = await self.store.get_task(task_id)
        if task is None:
            raise _not_found(task_id)
        return task

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
        self._require_open()
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
        assert self._writer is not None
        await self._writer.flush()
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
        self._require_open()
        assert self._writer is not None
        await self._writer.flush()
        return await self.store.ids_with_prefix(prefix, limit)

    async def get_tasks_by_category(self, category: str) -> list[Task]:
        return await self.list_tasks(category=category)

    async def get_tasks_by_tag(self, tag: str) -> list[Task]:
        return await self.list_tasks(tag=tag)

    async def get_tasks_by_type(self, task_type: TaskType | str) -> list[Task]:
        return await self.list_tasks(task_type=task_type)

    async def list_dead_letters(self) -> list[Task]:
        """Tasks that failed for good after using up their retries."""
        return await self.list_tasks(dead_letter=True)

    def log_path(self, task_id: str) -> Path:
        """Where a task's log file is (it may not exist yet)."""
        return self._log_path(task_id)

    def _log_path_text(self, task_id: str) -> str:
        # Never the id itself as a path: an id that is not a valid one (stored before ids were
        # checked) gets a digest name, so no log path can leave the logs directory.
        return f"{self._logs_prefix}{log_file_name(task_id)}"

    def _log_path(self, task_id: str) -> Path:
        return Path(self._log_path_text(task_id))

    async def read_log(self, task_id: str, tail_bytes: int | None = None) -> str:
        """The retained log of a task as text."""
        await self.get_task(task_id)
        return read_log(self._log_path(task_id), tail_bytes).decode("utf-8", "replace")

    async def follow_log(self, task_id: str) -> AsyncIterator[str]:
        """Yield the log as it grows (text chunks, each byte once), until the task is finished.

        Reads only what was written since the last chunk, in a worker thread, and wakes when
        the running task writes (or every half second for output written elsewhere).
        """
        await self.get_task(task_id)
        tail = LogTail(self._log_path(task_id))
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        while True:
            handle = self._active.get(task_id)
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
            if handle is not None and task_id in self._active:
                await handle.log_written.wait()
            else:
                # Not running here (held, queued, or written by another process): look
                # again when it finishes, or in half a second for output from elsewhere.
                assert self._loop is not None
                waiter: asyncio.Future[Task] = self._loop.create_future()
                self._waiters[task_id].append(waiter)
                try:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(asyncio.shield(waiter), 0.5)
                finally:
                    self._drop_waiter(task_id, waiter)

    async def transitions(self, task_id: str) -> list[Transition]:
        """The status history of a task, oldest first (pending changes written first)."""
        await self.get_task(task_id)
        assert self._writer is not None
        await self._writer.flush()
        return await self.store.transitions(task_id)

    async def get_task_summary(self, task_id: str) -> dict[str, Any]:
        """What a person asks about one task: state, progress, timing, error with its fix,
        whether it can be retried, what it waits for (queue, dependencies, approval,
        resources, expiry), and whether it holds a slot of the limits (`holds_slot`: an
        attempt is under way, `suspended` or not)."""
        t = await self.get_task(task_id)
        now = self.clock()
        handle = self._active.get(task_id)
        running_s = handle.running_s() if handle is not None else t.duration_s
        error = None
        if t.error_code:
            info = error_info(t.error_code)
            error = {
                "code": t.error_code,
                "message": t.error,
                "description": info.description,
                "suggestion": info.suggestion,
                "retryable": info.retryable,
                "details": t.error_details,
            }
        return {
            "id": t.id,
            "name": t.name,
            "type": t.type_name,
            "category": t.category,
            "tags": t.tags,
            "priority": t.priority.name.lower(),
            "status": t.status.value,
            "progress": {"percent": t.progress, "current_step": t.current_step},
            "timing": {
                "created_at": t.created_at,
                "started_at": t.started_at,
                "completed_at": t.completed_at,
                "duration_seconds": running_s,
                "waiting_seconds": (t.started_at or now) - t.created_at,
            },
            "error": error,
            "retry": {
                "count": t.retry_count,
                "max_retries": t.max_retries,
                "can_retry": t.status in RETRYABLE_TERMINAL,
                "dead_letter": t.dead_letter,
                "retry_on": t.retry_on,
                "no_retry_on": t.no_retry_on,
                "next_attempt_at": t.run_at if t.status == TaskStatus.PENDING else None,
            },
            "wait_reason": t.wait_reason,
            # A paused attempt is suspended, not given up: it still counts against the limits.
            "suspended": handle is not None and t.status == TaskStatus.PAUSED,
            "holds_slot": handle is not None and handle.holds_slot,
            "queue": t.queue,
            "depends_on": t.depends_on,
            "allow_dependency_failure": t.allow_dependency_failure,
            "permission": t.permission.value,
            "approved_at": t.approved_at,
            "resources": t.resources,
            "expires_at": t.expires_at,
            "result": t.result,
        }

    async def get_queue_stats(self) -> dict[str, Any]:
        """Summary, distributions, performance, retries and recent activity (computed in SQL)."""
        self._require_open()
        assert self._writer is not None
        await self._writer.flush()
        stats = await self.store.stats(self.clock())
        dist = stats["status_distribution"]
        summary = {
            "total_tasks": sum(dist.values()),
            "max_concurrent_tasks": self.max_concurrent,
            "running_tasks": self._slots_used,
            "queue_size": dist.get(TaskStatus.PENDING.value, 0),
            "queue_paused": self._queue_paused,
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
        self._require_open()
        if since_s <= 0 or (bucket_s is not None and bucket_s <= 0):
            raise ValueError("since_s and bucket_s must be positive")
        bucket_s = bucket_s or since_s / 60
        assert self._writer is not None
        await self._writer.flush()
        now = self.clock()
        since = (now - since_s) // bucket_s * bucket_s
        return await self.store.history(since, bucket_s, until=now)

    # ------------------------------------------------------------------ waiting

    async def wait_for(self, task_id: str, timeout_s: float | None = None) -> Task:
        """Return the task once it is finished for good (terminal, no retry pending)."""
        self._require_open()
        task = self._live.get(task_id)
        if task is None:
            stored = await self.store.get_task(task_id)
            if stored is None:
                raise _not_found(task_id)
            if stored.status in TERMINAL:
                return stored
        if task is not None and task.status in TERMINAL:
            assert self._writer is not None
            await self._writer.flush()  # its final state is durable once this returns
            return await self.get_task(task_id)
        assert self._loop is not None
        fut: asyncio.Future[Task] = self._loop.create_future()
        self._waiters[task_id].append(fut)
        try:
            await asyncio.wait_for(asyncio.shield(fut), timeout_s)
        finally:
            self._drop_waiter(task_id, fut)
        assert self._writer is not None
        await self._writer.flush()  # its history too (transitions are written in batches)
        return await self.get_task(task_id)

    def _drop_waiter(self, task_id: str, fut: asyncio.Future[Task]) -> None:
        waiting = self._waiters.get(task_id)
        if waiting is not None and fut in waiting:
            waiting.remove(fut)
            if not waiting:
                del self._waiters[task_id]

    async def join(self, timeout_s: float | None = None) -> None:
        """Return once every task unfinished at the time of the call is finished."""
        self._require_open()
        assert self._loop is not None
        futures = []
        for i, t in self._live.items():
            if t.status not in TERMINAL:
                fut: asyncio.Future[Task] = self._loop.create_future()
                self._waiters[i].append(fut)
                futures.append(fut)
        try:
            if futures:
                await asyncio.wait_for(asyncio.gather(*futures), timeout_s)
        finally:
            for f in futures:
                f.cancel()
        assert self._writer is not None
        await self._writer.flush()

    def subscribe(self, fn: Subscriber) -> Callable[[], None]:
        """Receive every durable change as a list of `TaskEvent`s; returns an unsubscribe."""
        return self.events.subscribe(fn)

    # ------------------------------------------------------------------ control

    async def pause_task(self, task_id: str) -> Task:
        """Hold a pending task, or suspend a running one (its whole process tree)."""
        task = await self._live_task(task_id, "pause")
        if task.status == TaskStatus.PENDING:
            task.paused_from = TaskStatus.PENDING
            self._set_status(task, TaskStatus.PAUSED)
        elif task.status in ACTIVE:
            handle = self._active.get(task_id)
            task.paused_from = task.status
            if handle is not None:
                self._suspend(handle)  # first: the PAUSED snapshot carries its running time
            self._set_status(task, TaskStatus.PAUSED)
            if handle is not None:
                await call_hook(handle.pause_hook)
        else:
            raise _invalid_state(task, "pause")
        return await self._persisted(task)

    async def resume_task(self, task_id: str) -> Task:
        """Release a held task or continue a suspended one."""
        task = await self._live_task(task_id, "resume")
        if task.status != TaskStatus.PAUSED:
            raise _invalid_state(task, "resume")
        handle = self._active.get(task_id)
        target = task.paused_from or TaskStatus.PENDING
        if handle is None and target in ACTIVE:
            target = TaskStatus.PENDING  # offline: nothing to continue, so it queues again
        task.paused_from = None
        self._set_status(task, target)
        if handle is not None:
            await call_hook(handle.resume_hook)
            self._unsuspend(handle)
        elif target == TaskStatus.PENDING:
            self._enqueue(task)
        return await self._persisted(task)

    async def cancel_task(self, task_id: str) -> Task:
        """Cancel a waiting task, or terminate a running one (TERM, then KILL after grace)."""
        task = await self._live_task(task_id, "cancel")
        handle = self._active.get(task_id)
        if handle is not None:
            self._stop_runner(handle, StopReason.CANCEL)
            await asyncio.shield(handle.done)
            assert self._writer is not None
            await self._writer.flush()
            return await self.get_task(task_id)
        if task.status in TERMINAL:
            raise _invalid_state(task, "cancel")
        if task.pid:  # left running by a crashed engine, seen from an offline queue
            kill_orphan(task.pid, task.started_at)
        self._conclude(
            task,
            TaskStatus.CANCELLED,
            code=None,
            message="cancelled by the user",
            allow_retry=False,
        )
        return await self._persisted(task)

    async def send_input(self, task_id: str, text: str | bytes, *, eof: bool = False) -> None:
        """Write to a running command's stdin (started with params `interactive: true`), as
        is (add the newline yourself); `eof` closes its stdin afterwards. Returns once
        written (a full pipe waits until the command reads)."""
        task = await self._live_task(task_id, "send input to")
        handle = self._active.get(task_id)
        sink = handle.input_sink if handle is not None else None
        if sink is None:
            raise QueueError(
                TaskErrorCode.QUEUE_INVALID_STATE,
                f"task {task_id} takes no input now: only a running command or script started "
                "with params interactive: true does",
                task_id=task_id,
                status=task.status.value,
            )
        data = text.encode() if isinstance(text, str) else text
        await sink(data, eof)
        if handle is not None:
            end = " and end of input" if eof else ""
            handle.log.write(f"[qtqueue] sent {len(data)} bytes of input{end}\n".encode())
            handle.log_written.set()

    async def approve_task(self, task_id: str) -> Task:
        """Let a HUMAN_REQUIRED task run (it still waits for anything else it needs).
        Survives restarts."""
        task = await self._awaiting_task(task_id, "approve")
        task.approved_at = self.clock()
        seq = self._awaiting_approval.pop(task.id, None)
        if task.wait_reason == AWAITING_APPROVAL:
            task.wait_reason = ""
        self._record(task, task.status, task.status)
        if seq is not None and (t := self._take_entry(task.id, seq)) is not None:
            self._enqueue(t)
        return await self._persisted(task)

    async def reject_task(self, task_id: str, reason: str = "") -> Task:
        """Refuse a HUMAN_REQUIRED task: it ends CANCELLED with QUEUE_REJECTED and the reason."""
        task = await self._awaiting_task(task_id, "reject")
        reason = reason.strip()
        self._conclude(
            task,
            TaskStatus.CANCELLED,
            code=TaskErrorCode.QUEUE_REJECTED,
            message=f"rejected: {reason}" if reason else "rejected when asked for approval",
            details={"reason": reason},
            allow_retry=False,
        )
        return await self._persisted(task)

    async def _awaiting_task(self, task_id: str, action: str) -> Task:
        task = await self._live_task(task_id, action)
        if task.permission != Permission.HUMAN_REQUIRED or task.approved_at is not None:
            why = (
                "it was approved already"
                if task.approved_at is not None
                else f"it needs no approval (permission {task.permission.value})"
            )
            raise QueueError(
                TaskErrorCode.QUEUE_INVALID_STATE,
                f"cannot {action} task {task.id}: {why}",
                task_id=task.id,
                action=action,
            )
        return task

    async def retry_task(self, task_id: str) -> Task:
        """Run a FAILED, CANCELLED or TIMEOUT task again (also takes it out of dead letters)."""
        self._require_open()
        if task_id in self._live and self._live[task_id].status not in TERMINAL:
            raise _invalid_state(self._live[task_id], "retry")
        assert self._writer is not None
        await self._writer.flush()
        task = await self.store.get_task(task_id)
        if task is None:
            raise _not_found(task_id)
        if task.status not in RETRYABLE_TERMINAL:
            raise _invalid_state(task, "retry")
        self._live[task.id] = task
        await self._track_dependencies([task])
        self._dep_outcome.pop(task.id, None)
        prev = task.status
        task.retry_count += 1
        self._reset_for_run(task)
        self._seq += 1
        task.seq = self._seq
        self._record(task, prev, TaskStatus.PENDING)
        self._watch_expiry(task)
        self._enqueue(task)
        snapshot = task.copy()
        await self._revive_dependents(task.id)  # flushes: the retry is durable after it
        return snapshot

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
            raise _invalid_state(task, "remove")
        assert self._writer is not None
        self._live.pop(task_id, None)
        await asyncio.shield(self._writer.delete(task_id, TaskEvent(EventKind.REMOVED, task_id)))
        remove_log(self._log_path(task_id))

    async def pause_queue(self) -> None:
        """Start nothing new until `resume_queue` (running tasks go on). Survives restarts."""
        self._require_open()
        self._queue_paused = True
        await self.store.set_meta(_META_QUEUE_PAUSED, "1")
        self.events.publish([TaskEvent(EventKind.QUEUE, "", detail="paused")])

    async def resume_queue(self) -> None:
        """Start dispatching again."""
        self._require_open()
        self._queue_paused = False
        await self.store.set_meta(_META_QUEUE_PAUSED, "0")
        self.events.publish([TaskEvent(EventKind.QUEUE, "", detail="resumed")])
        self._request_dispatch()

    @property
    def queue_paused(self) -> bool:
        return self._queue_paused

    def set_max_concurrent(self, n: int) -> None:
        """Change the global concurrency limit now."""
        if n < 1:
            raise ValueError("max_concurrent must be at least 1")
        self.max_concurrent = n
        self._request_dispatch()

    def set_category_limit(self, category: str, limit: int | None) -> None:
        """Limit how many tasks of one category run at once (None: no limit)."""
        if limit is None:
            self.category_limits.pop(category, None)
        else:
            if limit < 1:
                raise ValueError("a category limit must be at least 1")
            self.category_limits[category] = limit
        self._unpark(self._blocked_category.pop(category, []))
        self._request_dispatch()

    def list_queues(self) -> list[dict[str, Any]]:
        """Every named queue in drain order: its settings, and how many of its tasks run and
        wait now."""
        waiting: Counter[str] = Counter(
            t.queue for t in self._live.values() if t.status == TaskStatus.PENDING
        )
        return [
            {**q.to_dict(), "running": self._queue_running[q.name], "waiting": waiting[q.name]}
            for q in sorted(self._queues.values(), key=lambda q: (q.rank, q.name))
        ]

    async def set_queue(self, name: str, **settings: Any) -> dict[str, Any]:
        """Create a named queue, or change its settings (`concurrency`, `timeout_s`,
        `max_retries`, `result_ttl_s`; None clears one). Persisted; limits apply at once,
        defaults to tasks added from now on. Returns the queue as `list_queues` shows it."""
        self._require_open()
        named_queues.check_name(name)
        current = self._queues.get(name) or named_queues.QueueSettings(name)
        new = named_queues.updated(current, settings)
        queues = {**self._queues, name: new}
        await self.store.set_meta(named_queues.META_KEY, named_queues.dump(queues))
        self._queues = queues
        self._unpark(self._blocked_queue.pop(name, []))
        self._request_dispatch()
        if self._started and self.dispatching and not self._closing:
            if self._cleanup_timer is not None:
                self._cleanup_timer.cancel()
            self._schedule_cleanup(initial=True)
        return next(q for q in self.list_queues() if q["name"] == name)

    async def update_progress(self, task_id: str, percent: float, step: str | None = None) -> None:
        """Report progress of a running task (handlers call this); waits while it is paused."""
        handle = self._active.get(task_id)
        if handle is None:
            task = await self.get_task(task_id)
            raise _invalid_state(task, "update progress of")
        self._report_progress(handle.task, percent, step)
        await handle.resumed.wait()

    async def cleanup(self, older_than_s: float | None = None) -> int:
        """Delete finished tasks (and logs) completed more than `older_than_s` ago (default:
        the retention period, and each named queue's result TTL for its tasks). Dead letters
        are kept: only `purge_dead_letters` (or `remove_task`) deletes them. Returns how many
        were removed."""
        self._require_open()
        keep_s = older_than_s if older_than_s is not None else self.retention_s
        assert self._writer is not None
        await self._writer.flush()
        now = self.clock()
        ids = await self.store.finished_before(now - keep_s) if keep_s is not None else []
        if older_than_s is None:  # each queue's result TTL too
            for q in self._queues.values():
                if q.result_ttl_s is not None:
                    ids += await self.store.finished_before(now - q.result_ttl_s, q.name)
            ids = list(dict.fromkeys(ids))
        fut: asyncio.Future[None] | None = None
        for i in ids:
            self._live.pop(i, None)
            fut = self._writer.delete(i, TaskEvent(EventKind.REMOVED, i))
        if fut is not None:
            await asyncio.shield(fut)
        for i in ids:
            remove_log(self._log_path(i))
        if ids:
            logger.info("retention: removed %d finished tasks", len(ids))
        return len(ids)

    # ------------------------------------------------------------------ internals: state

    def _require_open(self) -> None:
        if not self._started:
            raise QueueError(TaskErrorCode.QUEUE_ENGINE_UNAVAILABLE, "the queue is not open")

    async def _live_task(self, task_id: str, action: str) -> Task:
        self._require_open()
        task = self._live.get(task_id)
        if task is not None and task.status not in TERMINAL:
            return task
        stored = task or await self.store.get_task(task_id)
        if stored is None:
            raise _not_found(task_id)
        raise _invalid_state(stored, action)

    def _event(self, kind: EventKind, task: Task) -> TaskEvent:
        snapshot = task.copy() if self.events.has_subscribers else None
        return TaskEvent(kind, task.id, task.status, snapshot)

    def _record(
        self,
        task: Task,
        prev: TaskStatus | None,
        new: TaskStatus,
        extra: tuple[Transition, ...] = (),
    ) -> asyncio.Future[None]:
        """Register a change of `task` (its transition prev -> new) with the writer."""
        now = self.clock()
        task.updated_at = now
        transitions = extra
        if prev != new:
            transitions = (
                *extra,
                Transition(
                    task.id,
                    now,
                    prev,
                    new,
                    task.type_name,
                    task.error_code,
                    task.duration_s if new in TERMINAL else None,
                ),
            )
        assert self._writer is not None
        return self._writer.update(task, self._event(EventKind.CHANGED, task), transitions)

    def _set_status(self, task: Task, new: TaskStatus) -> asyncio.Future[None]:
        """Move `task` to `new` (the transition rule is checked here) and register it."""
        prev = task.status
        if not can_transition(prev, new):
            raise _invalid_state(task, f"move to {new.value}")
        task.status = new
        return self._record(task, prev, new)

    async def _persisted(self, task: Task) -> Task:
        """The task as the request left it, returned once that state is durable (a fast task
        may already have moved on by then)."""
        snapshot = task.copy()
        assert self._writer is not None
        await self._writer.flush()
        return snapshot

    def _reset_for_run(self, task: Task) -> None:
        task.status = TaskStatus.PENDING
        task.progress = 0.0
        task.current_step = ""
        task.started_at = task.completed_at = task.duration_s = None
        task.error = task.error_code = None
        task.error_details = {}
        task.dead_letter = False
        task.result = None
        task.run_at = None
        task.paused_from = None
        task.pid = None
        task.wait_reason = ""

    def _requeue(self, task: Task, reason: str) -> asyncio.Future[None]:
        prev = task.status
        task.status = TaskStatus.PENDING
        task.wait_reason = reason
        task.pid = None
        task.progress = 0.0
        fut = self._record(task, prev, TaskStatus.PENDING)
        self._enqueue(task)
        return fut

    def _conclude(
        self,
        task: Task,
        status: TaskStatus,
        *,
        code: TaskErrorCode | str | None,
        message: str | None,
        details: dict[str, Any] | None = None,
        result: dict[str, Any] | None = None,
        allow_retry: bool = True,
    ) -> asyncio.Future[None]:
        """Finish an attempt: retry it after backoff if retries are left and its error is one
        a retry may fix (`wants_retry`), or end it. Returns the future of its record (see
        GroupCommitWriter)."""
        prev = task.status
        now = self.clock()
        task.pid = None
        task.paused_from = None
        if status != TaskStatus.COMPLETED:
            task.error = message
            task.error_code = str(code) if code else None
            task.error_details = details or {}
        if (
            allow_retry
            and status in (TaskStatus.FAILED, TaskStatus.TIMEOUT)
            and task.retry_count < task.max_retries
            and wants_retry(task.error_code, task.retry_on, task.no_retry_on)
        ):
            failed = Transition(
                task.id, now, prev, status, task.type_name, task.error_code, task.duration_s
            )
            task.retry_count += 1
            delay = backoff_delay_s(task.retry_backoff, task.retry_count)
            task.status = TaskStatus.PENDING
            task.run_at = now + delay
            task.progress = 0.0
            task.wait_reason = (
                f"retry {task.retry_count}/{task.max_retries} in {delay:.1f} s "
                f"after {task.error_code}"
            )
            self._seq += 1
            task.seq = self._seq
            fut = self._record(task, status, TaskStatus.PENDING, (failed,))
            self._enqueue(task)
            return fut
        task.status = status
        task.completed_at = now
        task.wait_reason = ""
        if status == TaskStatus.COMPLETED:
            task.progress = 100.0
            task.result = result
            # An earlier attempt's error is history (task_events), not this outcome.
            task.error = task.error_code = None
            task.error_details = {}
        task.dead_letter = (
            status in (TaskStatus.FAILED, TaskStatus.TIMEOUT)
            and task.max_retries > 0
            and task.error_code != TaskErrorCode.QUEUE_DEPENDENCY_FAILED
        )
        fut = self._record(task, prev, status)
        fut.add_done_callback(functools.partial(self._evict, task))
        self._awaiting_approval.pop(task.id, None)
        self._dep_parked.pop(task.id, None)
        self._resource_waits.pop(task.id, None)
        if task.depends_on:
            self._forget_dependencies(task)
        if task.id in self._dependents:
            self._dep_outcome[task.id] = status
            self._settle(task.id)
        return fut

    def _evict(self, task: Task, _committed: object = None) -> None:
        """Drop a finished task from the live index once its final state is durable."""
        if self._live.get(task.id) is task and task.status in TERMINAL:
            del self._live[task.id]
            if task.id in self._dependents:
                self._dep_outcome[task.id] = task.status

    def _on_committed(self, events: list[TaskEvent]) -> None:
        """Publish a committed batch's events and wake whoever waits for finished tasks."""
        if self._waiters:
            for e in events:
                if e.status in TERMINAL or e.kind == EventKind.REMOVED:
                    for fut in self._waiters.pop(e.task_id, ()):
                        if not fut.done():
                            fut.set_result(e.task)  # type: ignore[arg-type]
        self.events.publish(events)

    # ------------------------------------------------------------------ internals: dispatch

    def _enqueue(self, task: Task) -> None:
        """Queue a PENDING task by priority, or by time if it has a future run_at. A task
        already queued under its current seq is left where it is."""
        if self._queued.get(task.id) == task.seq or self._gated(task):
            return
        self._queued[task.id] = task.seq
        if task.run_at is not None and task.run_at > self.clock():
            heapq.heappush(self._delayed, (task.run_at, task.seq, task.id))
            self._arm_delay_timer()
        else:
            heapq.heappush(self._ready, self._ready_entry(task))
        self._request_dispatch()

    def _ready_entry(self, task: Task) -> tuple[int, int, int, str]:
        """Queue rank first (high_priority, default, low_priority), then priority, then FIFO."""
        return (named_queues.BUILTIN_RANKS.get(task.queue, 1), -int(task.priority), task.seq,
                task.id)  # fmt: skip

    def _take_entry(self, tid: str, seq: int) -> Task | None:
        """Consume a queue entry: its task if the entry is current and the task still waits."""
        if self._queued.get(tid) != seq:
            return None  # stale: the task was queued again since (a retry, a new seq)
        del self._queued[tid]
        task = self._live.get(tid)
        if task is None or task.status != TaskStatus.PENDING or task.seq != seq:
            return None
        return task

    def _unpark(self, parked: list[tuple[str, int]], clear_reason: bool = True) -> None:
        for tid, seq in parked:
            if (t := self._take_entry(tid, seq)) is not None:
                if clear_reason:
                    t.wait_reason = ""
                self._enqueue(t)

    def _unblock_type(self, name: str) -> None:
        self._unpark(self._blocked_type.pop(name, []))

    def _request_dispatch(self) -> None:
        if self._dispatch_scheduled or not self.dispatching or self._loop is None:
            return
        self._dispatch_scheduled = True
        self._loop.call_soon(self._dispatch)

    def _arm_delay_timer(self) -> None:
        if self._delayed and self._loop is not None and self.dispatching:
            self._delay_alarm.set(self._delayed[0][0], self._loop, self.clock())

    def _dispatch(self) -> None:
        """Start ready tasks while slots are free: highest priority first, FIFO within one."""
        self._dispatch_scheduled = False
        if not self._started or self._closing or not self.dispatching:
            return
        now = self.clock()
        aged = self._aged_resource_waiter() if self._resource_waits else None
        while self._delayed and self._delayed[0][0] <= now:
            _, seq, tid = heapq.heappop(self._delayed)
            if (t := self._take_entry(tid, seq)) is not None:
                self._queued[tid] = seq
                heapq.heappush(self._ready, self._ready_entry(t))
        self._arm_delay_timer()
        if self._queue_paused:
            return
        while self._ready and self._slots_used < self.max_concurrent:
            _, _, seq, tid = heapq.heappop(self._ready)
            task = self._take_entry(tid, seq)
            if task is None:
                continue
            if task.run_at is not None and task.run_at > now:
                self._enqueue(task)
                continue
            if task.expires_at is not None and task.expires_at <= now:
                self._expire(task)
                continue
            executor = self.registry.get(task.type_name)
            if executor is None:
                self._block(
                    task,
                    self._blocked_type[task.type_name],
                    f"waiting for an executor for {task.type_name!r}",
                )
                continue
            limit = self.category_limits.get(task.category)
            if limit is not None and self._category_running[task.category] >= limit:
                self._block(
                    task,
                    self._blocked_category[task.category],
                    f"waiting: category {task.category!r} is at its limit of {limit}",
                )
                continue
            queue = self._queues.get(task.queue)
            if (
                queue is not None
                and queue.concurrency is not None
                and self._queue_running[task.queue] >= queue.concurrency
            ):
                self._block(
                    task,
                    self._blocked_queue[task.queue],
                    f"waiting: queue {task.queue!r} is at its limit of {queue.concurrency}",
                )
                continue
            if task.resources and not self._admit_resources(task, aged):
                continue
            self._start(task, executor)

    def _block(self, task: Task, parking: list[tuple[str, int]], reason: str) -> None:
        parking.append((task.id, task.seq))
        self._queued[task.id] = task.seq
        self._set_wait_reason(task, reason)

    def _set_wait_reason(self, task: Task, reason: str) -> None:
        if task.wait_reason != reason:
            task.wait_reason = reason
            self._record(task, task.status, task.status)

    # ------------------------------------------------------------------ internals: gates

    def _gated(self, task: Task) -> bool:
        """Park a PENDING task that awaits approval or dependencies (or fail it, when a
        dependency failed); whether it was held back."""
        if task.permission == Permission.HUMAN_REQUIRED and task.approved_at is None:
            self._awaiting_approval[task.id] = task.seq
            self._queued[task.id] = task.seq
            self._set_wait_reason(task, AWAITING_APPROVAL)
            return True
        if not task.depends_on:
            return False
        waiting, failed = self._unmet_dependencies(task)
        if failed is not None and not task.allow_dependency_failure:
            if self.dispatching:
                self._fail_for_dependency(task, *failed)
            return True
        if waiting:
            self._dep_parked[task.id] = task.seq
            self._queued[task.id] = task.seq
            self._set_wait_reason(task, _dependencies_reason(waiting))
            return True
        return False

    def _dep_state(self, dep_id: str) -> TaskStatus | None:
        """A dependency's status; None if it is gone from the store."""
        live = self._live.get(dep_id)
        return live.status if live is not None else self._dep_outcome.get(dep_id)

    def _unmet_dependencies(self, task: Task) -> tuple[list[str], tuple[str, str] | None]:
        """(the dependencies not finished yet, (id, how it ended) of the first that did not
        complete, or None)."""
        waiting: list[str] = []
        failed: tuple[str, str] | None = None
        for d in task.depends_on:
            state = self._dep_state(d)
            if state is None:
                failed = failed or (d, "removed")
            elif state not in TERMINAL:
                waiting.append(d)
            elif state != TaskStatus.COMPLETED and failed is None:
                failed = (d, state.value)
        return waiting, failed

    def _fail_for_dependency(self, task: Task, dep_id: str, ended: str) -> None:
        self._conclude(
            task,
            TaskStatus.FAILED,
            code=TaskErrorCode.QUEUE_DEPENDENCY_FAILED,
            message=f"dependency {dep_id} {_ENDED.get(ended, ended)}",
            details={"dependency_id": dep_id, "dependency_status": ended},
            allow_retry=False,
        )

    def _register_dependents(self, tasks: Iterable[Task]) -> None:
        for t in tasks:
            for d in t.depends_on:
                self._dependents[d].add(t.id)

    def _forget_dependencies(self, task: Task) -> None:
        """Take a finished (or never added) task out of the reverse index."""
        for d in task.depends_on:
            dependents = self._dependents.get(d)
            if dependents is not None:
                dependents.discard(task.id)
                if not dependents:
                    del self._dependents[d]
                    self._dep_outcome.pop(d, None)

    async def _track_dependencies(self, tasks: Iterable[Task]) -> None:
        """Put loaded or retried tasks in the reverse index, learning from the store how their
        finished dependencies ended."""
        tasks = [t for t in tasks if t.depends_on]
        unknown = {
            d
            for t in tasks
            for d in t.depends_on
            if d not in self._live and d not in self._dep_outcome
        }
        if unknown:
            found = await self._stored_statuses(unknown)
            for d in unknown:
                self._dep_outcome[d] = found.get(d)
        self._register_dependents(tasks)

    def _settle(self, dep_id: str) -> None:
        """A task that others depend on has finished: wake its dependents. Iterative, so a
        long chain of failing dependents does not recurse."""
        self._settling.append(dep_id)
        if len(self._settling) > 1:
            return  # an outer call is draining the queue
        while self._settling:
            for tid in list(self._dependents.get(self._settling[0], ())):
                self._wake_dependent(tid)
            self._settling.popleft()

    def _wake_dependent(self, tid: str) -> None:
        seq = self._dep_parked.pop(tid, None)
        if seq is not None:
            if (t := self._take_entry(tid, seq)) is not None:
                t.wait_reason = ""
                self._enqueue(t)  # gated again: waits for the rest, fails, or is queued
            return
        t = self._live.get(tid)
        if t is not None and t.status == TaskStatus.PENDING and self.dispatching:
            _, failed = self._unmet_dependencies(t)
            if failed is not None and not t.allow_dependency_failure:
                self._fail_for_dependency(t, *failed)  # queued behind others: fail it now

    async def _revive_dependents(self, dep_id: str) -> None:
        """`dep_id` was retried: tasks that failed because of it (and, in turn, their own
        dependents that failed because of them) wait for it again."""
        assert self._writer is not None
        await self._writer.flush()
        by_culprit: dict[str, list[Task]] = defaultdict(list)
        for t in await self.store.list_tasks(
            TaskFilter(
                statuses=(TaskStatus.FAILED,),
                error_code=TaskErrorCode.QUEUE_DEPENDENCY_FAILED.value,
            )
        ):
            by_culprit[str(t.error_details.get("dependency_id"))].append(t)
        revived: list[Task] = []
        todo = [dep_id]
        while todo:
            for stored in by_culprit.pop(todo.pop(), []):
                task = self._live.get(stored.id, stored)
                if task.status != TaskStatus.FAILED:
                    continue
                self._live[task.id] = task
                self._reset_for_run(task)
                self._seq += 1
                task.seq = self._seq
                self._record(task, TaskStatus.FAILED, TaskStatus.PENDING)
                revived.append(task)
                todo.append(task.id)
        await self._track_dependencies(revived)
        for task in revived:
            self._dep_outcome.pop(task.id, None)
            self._watch_expiry(task)
            self._enqueue(task)
        if revived:
            logger.info("%d dependents of %s wait for it again", len(revived), dep_id)

    def _watch_expiry(self, task: Task) -> None:
        if task.expires_at is None or not self.dispatching or self._loop is None:
            return
        heapq.heappush(self._expiry, (task.expires_at, task.id))
        self._expiry_alarm.set(self._expiry[0][0], self._loop, self.clock())

    def _on_expiry_alarm(self) -> None:
        """Cancel every task whose expiry time has come before it started."""
        if not self._started or self._closing or self._loop is None:
            return
        now = self.clock()
        while self._expiry and self._expiry[0][0] <= now:
            _, tid = heapq.heappop(self._expiry)
            task = self._live.get(tid)
            if (
                task is not None
                and task.expires_at is not None
                and task.expires_at <= now
                and (
                    task.status == TaskStatus.PENDING
                    or (
                        task.status == TaskStatus.PAUSED
                        and task.paused_from in (None, TaskStatus.PENDING)
                    )
                )
            ):
                self._expire(task)
        if self._expiry:
            self._expiry_alarm.set(self._expiry[0][0], self._loop, now)

    def _expire(self, task: Task) -> None:
        try:
            stamp = datetime.datetime.fromtimestamp(task.expires_at or 0)
            when = stamp.isoformat(timespec="seconds")
        except (ValueError, OverflowError, OSError):  # a time stored before times were checked
            when = repr(task.expires_at)
        self._conclude(
            task,
            TaskStatus.CANCELLED,
            code=TaskErrorCode.QUEUE_TASK_EXPIRED,
            message=f"expired at {when} before it could start",
            details={"expires_at": task.expires_at},
            allow_retry=False,
        )

    def _admit_resources(self, task: Task, aged: str | None) -> bool:
        """Reserve what the task declared, or park it until there is room."""
        try:
            needs = parse_needs(task.resources)
        except QueueError as exc:  # stored by an older version with other rules
            self._conclude(task, TaskStatus.FAILED, code=exc.code, message=str(exc))
            return False
        if needs.empty:
            return True
        if aged is not None and aged != task.id:
            reason = f"waiting for resources: held back for {aged[:8]}…, which has waited longer"
        else:
            why = self.resources.try_reserve(task.id, needs)
            if why is None:
                return True
            reason = f"waiting for resources: {why}"
        self._block(task, self._blocked_resources, reason)
        self._resource_waits.setdefault(task.id, [time.monotonic(), 0])
        if self._resource_timer is None and self._loop is not None:
            self._resource_timer = self._loop.call_later(
                self._resource_recheck_s, self._on_resource_timer
            )
        return False

    def _on_resource_timer(self) -> None:
        self._resource_timer = None
        if self._blocked_resources and not self._closing:
            self._resource_recheck_s = min(2 * self._resource_recheck_s, RESOURCE_RECHECK_MAX_S)
            self._recheck_resources()

    def _recheck_resources(self) -> None:
        parked, self._blocked_resources = self._blocked_resources, []
        self._unpark(parked, clear_reason=False)

    def _aged_resource_waiter(self) -> str | None:
        """The task waiting for resources longest that has waited or been passed enough to be
        given the room, or None."""
        now = time.monotonic()
        best: tuple[float, str] | None = None
        for tid, (since, passes) in list(self._resource_waits.items()):
            t = self._live.get(tid)
            if t is None or t.status != TaskStatus.PENDING:
                del self._resource_waits[tid]
            elif (
                now - since >= self.resource_aging_s or passes >= self.resource_aging_starts
            ) and (best is None or since < best[0]):
                best = (since, tid)
        return best[1] if best is not None else None

    def _passed(self, started: Task) -> None:
        """`started` starts while others wait for resources: count it against each waiter
        that would have gone first."""
        key = self._ready_entry(started)
        for tid, wait in self._resource_waits.items():
            t = self._live.get(tid)
            if t is not None and self._ready_entry(t) < key:
                wait[1] += 1

    def _notice(self, task: Task, text: str) -> TaskEvent:
        """A notification event (the tray shows these) about one task."""
        return TaskEvent(EventKind.NOTICE, task.id, task.status, None, detail=text)

    def _start(self, task: Task, executor: Executor) -> None:
        log = BoundedLog(self._log_path_text(task.id), self.log_cap_bytes)
        assert self._loop is not None
        handle = RunHandle(task, log, self._loop)
        self._active[task.id] = handle
        self._take_slot(handle)
        task.started_at = self.clock()
        task.completed_at = None
        task.run_at = None
        task.wait_reason = ""
        task.current_step = ""
        if self._resource_waits:
            if self._resource_waits.pop(task.id, None) is not None:
                self._resource_recheck_s = RESOURCE_RECHECK_S
            self._passed(task)
        claimed = self._set_status(task, TaskStatus.RUNNING)
        handle.runner = self._spawn(self._run(handle, executor, claimed), f"run {task.id}")

    def _spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        """Start a background coroutine the queue owns; its failure is logged, never lost."""
        assert self._loop is not None
        bg = self._loop.create_task(coro, name=name)
        self._background.add(bg)
        bg.add_done_callback(self._background_done)
        return bg

    def _background_done(self, bg: asyncio.Task[Any]) -> None:
        self._background.discard(bg)
        if not bg.cancelled() and bg.exception() is not None:
            logger.error("background task %s failed", bg.get_name(), exc_info=bg.exception())

    async def _run(self, handle: RunHandle, executor: Executor, claimed: Awaitable[None]) -> None:
        """One attempt of one task, from the durable claim to its conclusion."""
        task = handle.task
        try:
            await claimed  # RUNNING is durable before anything is started
            if task.permission == Permission.SUPERVISED:
                self.events.publish([self._notice(task, f"supervised task started: {task.name}")])
            ctx = EngineRunContext(self, handle, executor)
            if task.status == TaskStatus.PAUSED:
                handle.resumed.clear()
            else:
                handle.start_clock()
                self._arm_timeout(handle)
            await handle.resumed.wait()
            if task.retry_count:
                handle.log.write(f"[qtqueue] attempt {task.retry_count + 1}\n".encode())
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
            was_paused = task.status == TaskStatus.PAUSED
            if was_paused:
                task.paused_from = TaskStatus.PENDING
                prev = task.status
                task.pid = None
                fut = self._record(task, prev, prev)
            else:
                fut = self._requeue(task, "stopped by a shutdown; runs again at the next start")
            self._forget_run_when_durable(task.id, fut)
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
            # It ended while paused (a plain function cannot be suspended): record the
            # implicit resume, so the history only holds allowed transitions.
            resumed = task.paused_from or TaskStatus.RUNNING
            task.paused_from = None
            task.status = resumed
            self._record(task, TaskStatus.PAUSED, resumed)
        fut = self._conclude(
            task,
            status,
            code=code,
            message=message,
            details=details,
            result=result,
            allow_retry=status != TaskStatus.CANCELLED,
        )
        self._forget_run_when_durable(task.id, fut)
        self._done(handle)

    def _release(self, handle: RunHandle) -> None:
        task = handle.task
        handle.stop_clock()
        if handle.timeout_handle is not None:
            handle.timeout_handle.cancel()
        task.duration_s = handle.running_s()
        self._active.pop(task.id, None)
        self._free_slot(handle)
        if self.resources.release(task.id):
            self._resource_recheck_s = RESOURCE_RECHECK_S
        if self._blocked_resources:  # any task's end may free memory or disk
            self._recheck_resources()
        self._request_dispatch()

    def _done(self, handle: RunHandle) -> None:
        handle.log.close()
        handle.log_written.set()
        if not handle.done.done():
            handle.done.set_result(None)

    def _stop_runner(self, handle: RunHandle, reason: StopReason) -> None:
        if handle.stop_reason is None:
            handle.stop_reason = reason
        handle.resumed.set()  # a paused runner must wake to be stopped
        if handle.runner is not None and not handle.runner.done():
            handle.runner.cancel()

    def _arm_timeout(self, handle: RunHandle) -> None:
        t = handle.task.timeout_s
        if t is None or self._loop is None:
            return
        if handle.timeout_handle is not None:
            handle.timeout_handle.cancel()
        remaining = max(0.0, t - handle.running_s())
        handle.timeout_handle = self._loop.call_later(
            remaining, self._stop_runner, handle, StopReason.TIMEOUT
        )

    def _take_slot(self, handle: RunHandle) -> None:
        if not handle.holds_slot:
            handle.holds_slot = True
            self._slots_used += 1
            self._category_running[handle.task.category] += 1
            self._queue_running[handle.task.queue] += 1

    def _free_slot(self, handle: RunHandle) -> None:
        """Give the task's slot to the queue (its attempt ended)."""
        if not handle.holds_slot:
            return
        handle.holds_slot = False
        self._slots_used -= 1
        category = handle.task.category
        self._category_running[category] -= 1
        self._unpark(self._blocked_category.pop(category, []))
        self._queue_running[handle.task.queue] -= 1
        self._unpark(self._blocked_queue.pop(handle.task.queue, []))
        self._request_dispatch()

    def _suspend(self, handle: RunHandle) -> None:
        """A paused task stops its clock but keeps its slot (as pueue does): the global,
        category and named-queue limits still count it, so resuming it never exceeds them."""
        handle.resumed.clear()
        handle.stop_clock()
        handle.task.duration_s = handle.run_s
        if handle.timeout_handle is not None:
            handle.timeout_handle.cancel()
            handle.timeout_handle = None

    def _unsuspend(self, handle: RunHandle) -> None:
        handle.resumed.set()
        handle.start_clock()
        self._arm_timeout(handle)

    # ------------------------------------------------------------------ internals: from runs

    def _report_progress(self, task: Task, percent: float, step: str | None) -> None:
        changed = False
        if percent >= 0:
            p = round(min(100.0, max(0.0, float(percent))), 1)
            if p != task.progress:
                task.progress = p
                changed = True
        if step is not None:
            handle = self._active.get(task.id)
            if handle is not None and handle.log.secrets:
                step = redact(step, handle.log.secrets)
        if step is not None and step != task.current_step:
            task.current_step = step
            changed = True
        if changed and task.status not in TERMINAL:
            self._record(task, task.status, task.status)

    def _enter_phase(self, handle: RunHandle, status: TaskStatus) -> None:
        task = handle.task
        if task.status == TaskStatus.PAUSED:
            task.paused_from = status
            self._record(task, task.status, task.status)
        elif task.status != status:
            self._set_status(task, status)

    def _attach_pid(self, task: Task, pid: int) -> None:
        """Remember the command's pid; persist it only if the command outlives PID_WRITE_DELAY_S.

        Most short commands finish first, and their completion write carries the row anyway:
        one transaction fewer per task. The cost: an engine killed within that moment leaves
        the command running unkilled (the task itself is still recovered as interrupted).
        """
        task.pid = pid
        if self._loop is not None:
            self._loop.call_later(PID_WRITE_DELAY_S, self._persist_pid, task, pid)

    def _persist_pid(self, task: Task, pid: int) -> None:
        if task.pid == pid and task.id in self._active and self._live.get(task.id) is task:
            self._record(task, task.status, task.status)

    def set_retention(self, retention_s: float | None) -> None:
        """Keep finished tasks this many seconds (None: for ever), from now on; turning
        retention on starts the scheduled cleanup if it was off."""
        if retention_s is not None and retention_s < 0:
            raise ValueError("retention_s must be >= 0 or None")
        self.retention_s = retention_s
        if (
            retention_s is not None
            and self._cleanup_timer is None
            and self._started
            and self.dispatching
            and not self._closing
        ):
            self._schedule_cleanup(initial=True)

    def _cleanup_period_s(self) -> float | None:
        """How often the scheduled cleanup runs: the cleanup interval, or more often where a
        queue's result TTL is shorter; None when nothing is ever deleted."""
        ttls = [q.result_ttl_s for q in self._queues.values() if q.result_ttl_s is not None]
        if self.retention_s is None and not ttls:
            return None
        return min([self.cleanup_interval_s, *(max(t / 2, 0.25) for t in ttls)])

    def _schedule_cleanup(self, initial: bool = False) -> None:
        period = self._cleanup_period_s()
        if period is None or self._loop is None:
            self._cleanup_timer = None
            return
        delay = min(5.0, period) if initial else period
        self._cleanup_timer = self._loop.call_later(delay, self._on_cleanup_timer)

    def _on_cleanup_timer(self) -> None:
        self._cleanup_timer = None
        self._spawn(self._scheduled_cleanup(), "retention cleanup")

    async def _scheduled_cleanup(self) -> None:
        try:
            await self.cleanup()
        finally:
            if not self._closing and self._cleanup_timer is None:
                self._schedule_cleanup()
