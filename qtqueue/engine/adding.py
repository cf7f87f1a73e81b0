"""Adding tasks: a caller's task checked and copied (`prepare`, no I/O), then a batch made
durable in one transaction, all or none (`Adder.add`)."""

from __future__ import annotations

import asyncio
import functools
import getpass
import logging
from collections import Counter
from collections.abc import Collection, Iterable

from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.core.task import UNFINISHED, Permission, Task, TaskStatus, parse_task_type
from qtqueue.engine import named_queues
from qtqueue.engine.dispatch import Dispatcher
from qtqueue.engine.events import EventKind, TaskEvent
from qtqueue.engine.gates.approval import AWAITING_APPROVAL
from qtqueue.engine.gates.dependencies import DependencyGate, waiting_reason
from qtqueue.engine.gates.expiry import ExpiryGate
from qtqueue.engine.resources import ResourceAccountant, parse_needs
from qtqueue.engine.retry import check_retry_codes
from qtqueue.engine.validation import check_fields, check_raw_params, check_task_id
from qtqueue.executors import ExecutorRegistry
from qtqueue.executors.webhooks import url_problem
from qtqueue.storage.base import Transition

logger = logging.getLogger(__name__)


@functools.cache
def login_name() -> str:
    """Who runs this process (a task's `created_by` when its adder names nobody)."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no LOGNAME/USER and no passwd entry
        return "unknown"


def prepare(
    task: Task,
    now: float,
    registry: ExecutorRegistry,
    queues: dict[str, named_queues.QueueSettings],
    resources: ResourceAccountant,
) -> Task:
    """A validated, engine-owned copy of a caller's task, ready to insert (QueueError if not
    valid)."""
    if not isinstance(task, Task):
        raise QueueError(TaskErrorCode.VALIDATION_INVALID_PARAMS, "add_task takes a Task")
    check_task_id(task.id)
    t = Task(
        task_type=(
            parse_task_type(task.task_type) if isinstance(task.task_type, str) else task.task_type
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
        notify_webhook=task.notify_webhook,
        timeout_s=task.timeout_s,
        run_at=task.run_at,
        expires_at=task.expires_at,
        depends_on=(
            list(task.depends_on) if isinstance(task.depends_on, (list, tuple)) else task.depends_on
        ),
        resources=dict(task.resources) if isinstance(task.resources, dict) else task.resources,
        allow_dependency_failure=task.allow_dependency_failure,
        ttl_s=task.ttl_s,
        permission=task.permission,
        on_interrupt=task.on_interrupt,
        queue=task.queue,
        created_by=task.created_by or login_name(),
        id=task.id,
        created_at=now,
        updated_at=now,
    )
    executor = registry.get(t.type_name)
    if executor is None:
        known = ", ".join(e.name for e in registry)
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
    if t.notify_webhook is not None and (bad := url_problem(t.notify_webhook, "notify_webhook")):
        problems.append(bad)
    if problems:
        raise QueueError(
            TaskErrorCode.VALIDATION_INVALID_PARAMS, "; ".join(problems), fields=problems
        )
    _fill_from_queue(t, queues)
    if t.resources:
        resources.check_possible(parse_needs(t.resources))
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
        t.name = registry.default_name(t.task_type, t.params)
    return t


def _fill_from_queue(t: Task, queues: dict[str, named_queues.QueueSettings]) -> None:
    """Pick the task's queue if it names none (by priority), then fill the fields it left
    unset from that queue's defaults: afterwards `queue` is a name, `max_retries` a number
    (0: run once) and `timeout_s` seconds or None (an explicit 0: no timeout)."""
    if t.queue is None:
        t.queue = named_queues.queue_for_priority(t.priority)
    queue = queues.get(t.queue)
    if queue is None:
        raise QueueError(
            TaskErrorCode.VALIDATION_INVALID_PARAMS,
            f"queue: no queue named {t.queue!r} (queues: {', '.join(sorted(queues))}); "
            f"create it first (qtqueue queues set {t.queue})",
            queue=t.queue,
        )
    if t.timeout_s is None:
        t.timeout_s = None if queue.timeout_s is None else float(queue.timeout_s)
    elif t.timeout_s == 0:
        t.timeout_s = None
    if t.max_retries is None:
        t.max_retries = queue.max_retries or 0


def check_room(
    batch: list[Task], live: Collection[Task], queues: dict[str, named_queues.QueueSettings]
) -> None:
    """QUEUE_FULL if adding `batch` would take a queue past its maximum length (its unfinished
    tasks, `live`, counted); the whole batch is refused."""
    adding = Counter(t.queue for t in batch)
    limited = {
        name: q.max_length
        for name in adding
        if (q := queues.get(str(name))) is not None and q.max_length is not None
    }
    # Counting means reading every live task: only when the limit could be reached at all.
    if not limited or len(live) + len(batch) <= min(limited.values()):
        return
    waiting = Counter(t.queue for t in live if t.queue in limited and t.status in UNFINISHED)
    for name, limit in limited.items():
        if waiting[name] + adding[name] > limit:
            raise QueueError(
                TaskErrorCode.QUEUE_FULL,
                f"queue {name!r} is full: it holds {waiting[name]} unfinished tasks of at most "
                f"{limit}, and {adding[name]} more would not fit; wait for some to finish, "
                f"cancel some, or raise its limit (qtqueue queues set {name} --max-length N)",
                queue=name,
                max_length=limit,
                unfinished=waiting[name],
                adding=adding[name],
            )


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


class Adder:
    """Makes a batch of new tasks durable and queues them."""

    def __init__(
        self,
        dispatcher: Dispatcher,
        dependencies: DependencyGate,
        expiry: ExpiryGate,
        resources: ResourceAccountant,
    ) -> None:
        self.dispatcher = dispatcher
        self.state = dispatcher.state
        self.dependencies = dependencies
        self.expiry = expiry
        self.resources = resources

    def prepare(self, task: Task, now: float) -> Task:
        """`prepare` against this engine's executors, queues and machine."""
        return prepare(task, now, self.state.registry, self.state.queues, self.resources)

    async def add(self, tasks: Iterable[Task]) -> list[str]:
        """Validate all, then queue all in one transaction (all or none)."""
        state = self.state
        state.require_open()
        now = state.clock()
        prepared = [self.prepare(t, now) for t in tasks]
        for t in prepared:  # queue order: the order add_tasks calls were made in
            t.seq = state.next_seq()
        ids = [t.id for t in prepared]
        dup = {i for i in ids if i in state.live}
        if len(set(ids)) != len(ids) or dup:
            raise QueueError(
                TaskErrorCode.VALIDATION_INVALID_PARAMS, "duplicate task id", ids=sorted(dup)
            )
        taken = await state.store.existing_ids(ids)
        if taken:
            raise QueueError(
                TaskErrorCode.VALIDATION_INVALID_PARAMS,
                f"task id already exists: {sorted(taken)[0]}",
                ids=sorted(taken),
            )
        await self.dependencies.check_new(prepared)
        # No await between this check and the tasks joining the live index: two adds at once
        # cannot both take a queue's last place.
        check_room(prepared, state.live.values(), state.queues)
        writer = state.the_writer()
        for t in prepared:
            state.live[t.id] = t
        # Registered before the commit is awaited: a dependency that finishes meanwhile
        # must find its dependents in the index.
        self.dependencies.register(prepared)
        fut: asyncio.Future[None] | None = None
        for t in prepared:
            if t.depends_on and not t.wait_reason:
                waiting, _ = self.dependencies.unmet(t)
                if waiting:
                    t.wait_reason = waiting_reason(waiting)
            fut = writer.insert(
                t,
                state.event(EventKind.ADDED, t),
                (Transition(t.id, now, None, TaskStatus.PENDING, t.type_name),),
            )
        if fut is None:
            return []
        try:
            await asyncio.shield(fut)
            refusals = [writer.take_refusal(t.id) for t in prepared]
            refused = next((r for r in refusals if r is not None), None)
            if refused is not None:
                # The store took the others (add_tasks is all or none): take them back.
                kept = [t.id for t, r in zip(prepared, refusals, strict=True) if r is None]
                for i in kept:
                    fut = writer.delete(i, TaskEvent(EventKind.REMOVED, i))
                if kept:
                    await asyncio.shield(fut)
                raise _store_refused(refused)
        except Exception:
            for t in prepared:
                state.live.pop(t.id, None)
                self.dependencies.forget(t)
            raise
        notices = []
        for t in prepared:
            if t.status == TaskStatus.PENDING:
                self.expiry.watch(t)
                self.dispatcher.enqueue(t)
            if t.permission == Permission.HUMAN_REQUIRED:
                notices.append(state.notice(t, f"awaiting approval: {t.name}"))
        state.events.publish(notices)
        return ids
