"""The ready and delayed queues, the slots (global, category, named queue), the dispatch pass.

Dispatch is event-driven: anything that may free a slot or make a task ready schedules one
pass on the loop (`request`); a timer exists only for the next delayed task. A PENDING task
is queued through the admission gates (approval, dependencies); a pass then takes ready tasks
by queue rank, priority and age, and asks the start gates (expiry, slots, resources) in
order before it hands the task to the runner.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
from collections import Counter, defaultdict
from collections.abc import Callable
from typing import Any

from qtqueue.core.overview import HeldBy
from qtqueue.core.task import Task, TaskStatus
from qtqueue.engine import named_queues
from qtqueue.engine.context import RunHandle
from qtqueue.engine.events import EventKind, TaskEvent
from qtqueue.engine.gates import ADMIT, Fail, Gate, Park, Verdict
from qtqueue.engine.lifecycle import Lifecycle
from qtqueue.engine.state import Alarm, EngineState, queue_order
from qtqueue.executors.base import Executor

logger = logging.getLogger(__name__)

_META_QUEUE_PAUSED = "queue_paused"

#: Starts an admitted task with its executor (the runner's `start`).
Starter = Callable[[Task, Executor], None]


def _queue_name(task: Task) -> str:
    """The named queue of an added task (always set once added; typed optional for callers)."""
    return task.queue or named_queues.DEFAULT_QUEUE


class Slots:
    """The limits on how many tasks run at once: globally, per category, per named queue; and
    a gate that parks a task whose executor is missing or whose limit is reached."""

    def __init__(
        self, state: EngineState, max_concurrent: int, category_limits: dict[str, int]
    ) -> None:
        self.state = state
        self.max_concurrent = max_concurrent
        self.category_limits = category_limits
        #: Tasks with an attempt under way, suspended ones included.
        self.used = 0
        self.category_running: Counter[str] = Counter()
        self.queue_running: Counter[str] = Counter()
        self.blocked_category: dict[str, list[tuple[str, int]]] = defaultdict(list)
        self.blocked_type: dict[str, list[tuple[str, int]]] = defaultdict(list)
        self.blocked_queue: dict[str, list[tuple[str, int]]] = defaultdict(list)

    @property
    def free(self) -> bool:
        """Whether the global limit lets one more task start."""
        return self.used < self.max_concurrent

    def begin_pass(self) -> None:
        """Nothing to prepare: counts are kept as tasks start and end."""

    def check(self, task: Task) -> Verdict:
        """Park a task without an executor, or whose category or named queue is full."""
        executor = self.state.registry.get(task.type_name)
        if executor is None:
            self.blocked_type[task.type_name].append((task.id, task.seq))
            return Park(f"waiting for an executor for {task.type_name!r}", HeldBy.EXECUTOR)
        limit = self.category_limits.get(task.category)
        if limit is not None and self.category_running[task.category] >= limit:
            self.blocked_category[task.category].append((task.id, task.seq))
            return Park(
                f"waiting: category {task.category!r} is at its limit of {limit}",
                HeldBy.CONCURRENCY,
            )
        name = _queue_name(task)
        queue = self.state.queues.get(name)
        if (
            queue is not None
            and queue.concurrency is not None
            and self.queue_running[name] >= queue.concurrency
        ):
            self.blocked_queue[name].append((task.id, task.seq))
            return Park(
                f"waiting: queue {name!r} is at its limit of {queue.concurrency}",
                HeldBy.QUEUE_LIMIT,
            )
        return ADMIT

    def take(self, handle: RunHandle) -> None:
        """Count the task's attempt against the limits."""
        if not handle.holds_slot:
            handle.holds_slot = True
            self.used += 1
            self.category_running[handle.task.category] += 1
            self.queue_running[_queue_name(handle.task)] += 1

    def give_back(self, handle: RunHandle) -> list[tuple[str, int]]:
        """The task's attempt ended: free its slot; returns the entries parked for it."""
        if not handle.holds_slot:
            return []
        handle.holds_slot = False
        self.used -= 1
        category = handle.task.category
        self.category_running[category] -= 1
        name = _queue_name(handle.task)
        self.queue_running[name] -= 1
        return [*self.blocked_category.pop(category, []), *self.blocked_queue.pop(name, [])]


class Dispatcher:
    """Queues PENDING tasks and starts them as slots and gates allow."""

    def __init__(
        self,
        lifecycle: Lifecycle,
        slots: Slots,
        admission: tuple[Gate, ...],
        before_start: tuple[Gate, ...],
    ) -> None:
        self.lifecycle = lifecycle
        self.state = lifecycle.state
        self.slots = slots
        #: Asked in order when a task is queued (approval, dependencies).
        self.admission = admission
        #: Asked in order when a ready task may start (expiry, slots, resources).
        self.before_start = before_start
        #: Starts an admitted task: the runner's `start`, which sets it (the runner is built
        #: on the dispatcher, so the dispatcher never imports it).
        self.start: Starter | None = None
        #: Start nothing new (running tasks go on); persisted by `pause_queue`.
        self.paused = False
        self._ready: list[tuple[int, int, int, str]] = []  # (queue rank, -priority, seq, id)
        self._delayed: list[tuple[float, int, str]] = []
        self._delay_alarm = Alarm(self.request)
        self._pass: asyncio.Future[None] | None = None
        lifecycle.enqueue = self.enqueue

    def enqueue(self, task: Task) -> None:
        """Queue a PENDING task by priority, or by time if it has a future run_at. A task
        already queued under its current seq is left where it is."""
        state = self.state
        if state.queued.get(task.id) == task.seq or self._held(task):
            return
        state.queued[task.id] = task.seq
        if task.run_at is not None and task.run_at > state.clock():
            heapq.heappush(self._delayed, (task.run_at, task.seq, task.id))
            self._arm_delay_timer()
        else:
            heapq.heappush(self._ready, queue_order(task))
        self.request()

    def _held(self, task: Task) -> bool:
        """Ask the admission gates; whether the task was held back (parked or failed)."""
        for gate in self.admission:
            verdict = gate.check(task)
            if isinstance(verdict, Park):
                self._park(task, verdict)
                return True
            if isinstance(verdict, Fail):
                if self.state.dispatching:
                    verdict.end(self.lifecycle, task)
                return True
        return False

    def _park(self, task: Task, park: Park) -> None:
        self.state.queued[task.id] = task.seq
        self.lifecycle.set_wait_reason(task, park.reason)
        self.state.check_failed(task, park.reason, park.held_by)

    def request(self) -> None:
        """Schedule one dispatch pass (at most one is pending)."""
        state = self.state
        if self._pass is not None or not state.dispatching or state.loop is None:
            return
        self._pass = state.loop.create_future()
        state.loop.call_soon(self._dispatch)

    @property
    def pass_pending(self) -> asyncio.Future[None] | None:
        """The dispatch pass scheduled and not run yet (it is done once it has run)."""
        return self._pass

    def _arm_delay_timer(self) -> None:
        state = self.state
        if self._delayed and state.timer is not None and state.dispatching:
            self._delay_alarm.set(self._delayed[0][0], state.timer, state.clock())

    def close(self) -> None:
        """Stop the delay timer."""
        self._delay_alarm.cancel()

    def _dispatch(self) -> None:
        done, self._pass = self._pass, None
        try:
            self._dispatch_pass()
        finally:
            if done is not None and not done.done():
                done.set_result(None)

    def _dispatch_pass(self) -> None:
        """Start ready tasks while slots are free: highest priority first, FIFO within one."""
        state = self.state
        if not state.started or state.closing or not state.dispatching:
            return
        now = state.clock()
        for gate in self.before_start:
            gate.begin_pass()
        while self._delayed and self._delayed[0][0] <= now:
            _, seq, tid = heapq.heappop(self._delayed)
            if (t := state.take_entry(tid, seq)) is not None:
                state.queued[tid] = seq
                heapq.heappush(self._ready, queue_order(t))
        self._arm_delay_timer()
        if self.paused:
            return
        assert self.start is not None
        while self._ready and self.slots.free:
            _, _, seq, tid = heapq.heappop(self._ready)
            task = state.take_entry(tid, seq)
            if task is None:
                continue
            if task.run_at is not None and task.run_at > now:
                self.enqueue(task)
                continue
            for gate in self.before_start:
                verdict = gate.check(task)
                if isinstance(verdict, Park):
                    self._park(task, verdict)
                    break
                if isinstance(verdict, Fail):
                    verdict.end(self.lifecycle, task)
                    break
            else:
                executor = state.registry.get(task.type_name)
                assert executor is not None  # the slots gate parks a task without one
                state.start_checks_passed(task)
                self.start(task, executor)

    def unblock_type(self, name: str) -> None:
        """An executor for task type `name` was registered: its waiting tasks go on."""
        self.lifecycle.release(self.slots.blocked_type.pop(name, []))

    def set_max_concurrent(self, n: int) -> None:
        """Change the global concurrency limit now."""
        if n < 1:
            raise ValueError("max_concurrent must be at least 1")
        self.slots.max_concurrent = n
        self.request()

    def set_category_limit(self, category: str, limit: int | None) -> None:
        """Limit how many tasks of one category run at once (None: no limit)."""
        if limit is None:
            self.slots.category_limits.pop(category, None)
        else:
            if limit < 1:
                raise ValueError("a category limit must be at least 1")
            self.slots.category_limits[category] = limit
        self.lifecycle.release(self.slots.blocked_category.pop(category, []))
        self.request()

    # ------------------------------------------------------------------ the queue as a whole

    async def load_settings(self) -> None:
        """Read whether the queue is paused, and the named queues, from the store."""
        store = self.state.store
        self.paused = (await store.get_meta(_META_QUEUE_PAUSED)) == "1"
        text = await store.get_meta(named_queues.META_KEY)
        self.state.queues = named_queues.load(text)
        if await store.get_meta(named_queues.PREDATING_KEY) == "1":
            self.state.queues = named_queues.predating(self.state.queues, text)
            await store.set_meta(named_queues.META_KEY, named_queues.dump(self.state.queues))
            await store.set_meta(named_queues.PREDATING_KEY, "0")
            logger.warning(
                "this store predates the named queues' result and failure TTLs: its finished "
                "tasks are kept as before; to delete them as the built-in queues now do, run "
                "'qtqueue queues set default --result-ttl 24h --failure-ttl 7d' (and so on)"
            )

    async def pause_queue(self) -> None:
        """Start nothing new until `resume_queue` (running tasks go on). Survives restarts."""
        self.state.require_open()
        self.paused = True
        await self.state.store.set_meta(_META_QUEUE_PAUSED, "1")
        self.state.events.publish([TaskEvent(EventKind.QUEUE, "", detail="paused")])

    async def resume_queue(self) -> None:
        """Start dispatching again."""
        self.state.require_open()
        self.paused = False
        await self.state.store.set_meta(_META_QUEUE_PAUSED, "0")
        self.state.events.publish([TaskEvent(EventKind.QUEUE, "", detail="resumed")])
        self.request()

    def list_queues(self) -> list[dict[str, Any]]:
        """Every named queue in drain order: its settings, and how many of its tasks run and
        wait now."""
        waiting: Counter[str] = Counter(
            _queue_name(t) for t in self.state.live.values() if t.status == TaskStatus.PENDING
        )
        running = self.slots.queue_running
        return [
            {**q.to_dict(), "running": running[q.name], "waiting": waiting[q.name]}
            for q in sorted(self.state.queues.values(), key=lambda q: (q.rank, q.name))
        ]

    async def set_queue(self, name: str, settings: dict[str, Any]) -> dict[str, Any]:
        """Create a named queue, or change its settings (see `TaskQueue.set_queue`); tasks
        parked at its limit look again. Returns the queue as `list_queues` shows it."""
        self.state.require_open()
        named_queues.check_name(name)
        current = self.state.queues.get(name) or named_queues.defaults(name)
        new = named_queues.updated(current, settings)
        queues = {**self.state.queues, name: new}
        await self.state.store.set_meta(named_queues.META_KEY, named_queues.dump(queues))
        self.state.queues = queues
        self.lifecycle.release(self.slots.blocked_queue.pop(name, []))
        self.request()
        return next(q for q in self.list_queues() if q["name"] == name)
