"""The only code that changes a task's status: set, record, conclude (or retry), requeue, evict.

Every change is registered with the group-commit writer; its event is published once the
change is durable (`on_committed`). What else must happen when a task ends (a gate forgets
it, its dependents wake) is hooked in by the parts that care (`on_conclude`, `on_evict`).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from typing import Any

from qtqueue.core.errors import TaskErrorCode
from qtqueue.core.task import TERMINAL, Task, TaskStatus, can_transition
from qtqueue.engine.events import EventKind, TaskEvent
from qtqueue.engine.retry import backoff_delay_s, wants_retry
from qtqueue.engine.state import EngineState, invalid_state
from qtqueue.storage.base import Transition

logger = logging.getLogger(__name__)

#: Called with a task that has just concluded (for good: no retry is pending) and its status.
ConcludeHook = Callable[[Task, TaskStatus], None]


def as_it_ran(task: Task) -> None:
    """A task found running (or paused while running) after a crash, set back to the status it
    ran in, so that recording its outcome is an allowed transition."""
    was = task.paused_from if task.status == TaskStatus.PAUSED else task.status
    task.status = was or TaskStatus.RUNNING
    task.paused_from = None


def reset_for_run(task: Task) -> None:
    """Clear what an earlier attempt left, making the task PENDING (not recorded here)."""
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


def _no_enqueue(task: Task) -> None:
    raise RuntimeError("the lifecycle was not given a dispatcher")


class Lifecycle:
    """Status changes of the tasks in `state.live`, each registered with the writer."""

    def __init__(self, state: EngineState) -> None:
        self.state = state
        #: Queues a PENDING task (the dispatcher's `enqueue`, given by the facade).
        self.enqueue: Callable[[Task], None] = _no_enqueue
        #: Called when a task concludes for good (gates forget it, dependents wake).
        self.on_conclude: list[ConcludeHook] = []
        #: Called when a finished task leaves the live index (its final state is durable).
        self.on_evict: list[Callable[[Task], None]] = []

    def record(
        self,
        task: Task,
        prev: TaskStatus | None,
        new: TaskStatus,
        extra: tuple[Transition, ...] = (),
    ) -> asyncio.Future[None]:
        """Register a change of `task` (its transition prev -> new) with the writer."""
        now = self.state.clock()
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
        return self.state.the_writer().update(
            task, self.state.event(EventKind.CHANGED, task), transitions
        )

    def touch(self, task: Task) -> asyncio.Future[None]:
        """Register a change of `task` that leaves its status as it is."""
        return self.record(task, task.status, task.status)

    def set_status(self, task: Task, new: TaskStatus) -> asyncio.Future[None]:
        """Move `task` to `new` (the transition rule is checked here) and register it."""
        prev = task.status
        if not can_transition(prev, new):
            raise invalid_state(task, f"move to {new.value}")
        task.status = new
        return self.record(task, prev, new)

    def resume_implied(self, task: Task) -> None:
        """A PAUSED task whose attempt ended (a plain function cannot be suspended): record the
        resume its end implies, so the history only holds allowed transitions."""
        resumed = task.paused_from or TaskStatus.RUNNING
        task.paused_from = None
        task.status = resumed
        self.record(task, TaskStatus.PAUSED, resumed)

    def set_wait_reason(self, task: Task, reason: str) -> None:
        """Say (durably) what a waiting task waits for."""
        if task.wait_reason != reason:
            task.wait_reason = reason
            self.touch(task)

    def release(self, parked: list[tuple[str, int]], clear_reason: bool = True) -> None:
        """Queue again the parked entries that are still current (what they waited for came)."""
        for tid, seq in parked:
            if (t := self.state.take_entry(tid, seq)) is not None:
                if clear_reason:
                    t.wait_reason = ""
                self.enqueue(t)

    async def persisted(self, task: Task) -> Task:
        """The task as the request left it, returned once that state is durable (a fast task
        may already have moved on by then)."""
        snapshot = task.copy()
        await self.state.the_writer().flush()
        return snapshot

    def renew(self, task: Task, prev: TaskStatus) -> asyncio.Future[None]:
        """Run a finished task again: reset it, give it a new place in the queue, record
        prev -> PENDING (the caller queues it)."""
        reset_for_run(task)
        task.seq = self.state.next_seq()
        return self.record(task, prev, TaskStatus.PENDING)

    def requeue(self, task: Task, reason: str) -> asyncio.Future[None]:
        """Put an interrupted attempt back in the queue (no retry is spent)."""
        prev = task.status
        task.status = TaskStatus.PENDING
        task.wait_reason = reason
        task.pid = None
        task.progress = 0.0
        fut = self.record(task, prev, TaskStatus.PENDING)
        self.enqueue(task)
        return fut

    def conclude(
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
        now = self.state.clock()
        task.pid = None
        task.paused_from = None
        if status != TaskStatus.COMPLETED:
            task.error = message
            task.error_code = str(code) if code else None
            task.error_details = details or {}
        if (
            allow_retry
            and status in (TaskStatus.FAILED, TaskStatus.TIMEOUT)
            and task.retry_count < (task.max_retries or 0)
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
            task.seq = self.state.next_seq()
            fut = self.record(task, status, TaskStatus.PENDING, (failed,))
            self.enqueue(task)
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
            and (task.max_retries or 0) > 0
            and task.error_code != TaskErrorCode.QUEUE_DEPENDENCY_FAILED
        )
        fut = self.record(task, prev, status)
        fut.add_done_callback(functools.partial(self.evict, task))
        for hook in self.on_conclude:
            hook(task, status)
        return fut

    def evict(self, task: Task, _committed: object = None) -> None:
        """Drop a finished task from the live index once its final state is durable."""
        if self.state.live.get(task.id) is task and task.status in TERMINAL:
            del self.state.live[task.id]
            for hook in self.on_evict:
                hook(task)

    def on_committed(self, events: list[TaskEvent]) -> None:
        """Publish a committed batch's events and wake whoever waits for finished tasks."""
        waiters = self.state.waiters
        if waiters:
            for e in events:
                if e.status in TERMINAL or e.kind == EventKind.REMOVED:
                    for fut in waiters.pop(e.task_id, ()):
                        if not fut.done():
                            fut.set_result(e.task)  # type: ignore[arg-type]
        self.state.events.publish(events)
