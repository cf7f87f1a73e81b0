"""A waiting task edited: the same task (same id, same history) with the fields a person
changed, checked exactly as a new task is (`adding.prepare`), refused once it started.

What an edit keeps: the id, when and by whom it was added, its retries so far, its
dependencies and its approval (`depends_on` and `permission` cannot change: cancel the task
and add a new one). A queue its old priority picked (it named none) follows the new priority,
as when adding. It keeps its place in the queue unless a field the dispatcher's gates look
at changed (queue, priority, start time, expiry, category, type, resources); then it queues
again as if added now, and every gate asks again (a new expiry is watched, a new category's limit
applies). A start time or expiry left out (None) keeps the task's own: an edit never runs a
scheduled task early; to start it now, give a start time of now.

An edit that started from an older version of the task (its `updated_at` is older than a
person's last change of it in this run: a move, a new priority or another edit came in
between) is refused with QUEUE_TASK_CHANGED rather than undoing that change; the engine's
own changes (a new wait reason) do not count, and a task built afresh (its `updated_at` is
when it was built) is not checked.
"""

from __future__ import annotations

import copy
import logging

from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.core.queue_moves import MovePlace
from qtqueue.core.task import Priority, Task, TaskStatus
from qtqueue.engine import named_queues
from qtqueue.engine.adding import check_room, prepare
from qtqueue.engine.gates.expiry import ExpiryGate
from qtqueue.engine.ordering import Ordering
from qtqueue.engine.resources import ResourceAccountant

logger = logging.getLogger(__name__)

#: The fields an edit takes from the person's task (all others stay as they were).
EDITABLE = (
    "task_type", "params", "name", "category", "tags", "priority", "queue", "timeout_s",
    "max_retries", "retry_backoff", "retry_on", "no_retry_on", "notify_webhook", "run_at",
    "expires_at", "ttl_s", "resources", "on_interrupt",
)  # fmt: skip

#: The fields the dispatcher's queues and gates look at: a change queues the task again.
_REQUEUE = (
    "queue", "priority", "run_at", "expires_at", "category", "task_type", "resources",
)  # fmt: skip


class Editor:
    """Applies a person's edit to a waiting task."""

    def __init__(self, ordering: Ordering, resources: ResourceAccountant) -> None:
        self.ordering = ordering
        self.state = ordering.state
        self.resources = resources

    async def update_task(self, task_id: str, edited: Task) -> Task:
        """Replace the editable fields of waiting task `task_id` with those of `edited`
        (its id is ignored), validated as `add_task` validates a new task. Returns the task
        once durable. QUEUE_TASK_NOT_WAITING once it started or ended; the error `add_task`
        would give for invalid fields; VALIDATION_INVALID_PARAMS for a change of
        dependencies or approval."""
        task = await self.ordering.waiting(task_id, "edit")
        if not isinstance(edited, Task):
            raise QueueError(TaskErrorCode.VALIDATION_INVALID_PARAMS, "update_task takes a Task")
        check_links_kept(edited, task)
        if edited.updated_at < self.ordering.changed_at.get(task.id, edited.updated_at):
            raise QueueError(
                TaskErrorCode.QUEUE_TASK_CHANGED,
                f"task {task.id} changed after this edit started from it (moved, given "
                "another priority or edited elsewhere): reopen the task and edit again",
                task_id=task.id,
                field="updated_at",
            )
        candidate = copy.copy(edited)  # as given: `prepare` checks list fields are lists
        candidate.id = task.id
        if candidate.run_at is None:
            candidate.run_at = task.run_at  # left out: its schedule (or retry delay) stays
        if candidate.expires_at is None and candidate.ttl_s == task.ttl_s:
            candidate.expires_at = task.expires_at
        candidate.depends_on = list(task.depends_on)
        candidate.permission = task.permission
        candidate.created_by = task.created_by
        if candidate.queue == task.queue == named_queues.queue_for_priority(task.priority):
            candidate.queue = None  # the old priority picked it: the new one picks again
        state = self.state
        checked = prepare(candidate, state.clock(), state.registry, state.queues, self.resources)
        if checked.queue != task.queue:
            others = [t for t in state.live.values() if t.id != task.id]
            check_room([checked], others, state.queues)  # QUEUE_FULL
        moves = any(getattr(checked, f) != getattr(task, f) for f in _REQUEUE)
        new_expiry = checked.expires_at is not None and checked.expires_at != task.expires_at
        for name in EDITABLE:
            setattr(task, name, getattr(checked, name))
        await state.store.update_definition(task)  # durable before it is announced
        if moves and task.status == TaskStatus.PENDING:
            self.ordering.restamp(task, state.next_seq())
        else:
            self.ordering.changed(task)
        if new_expiry:
            for gate in self.ordering.dispatcher.before_start:
                if isinstance(gate, ExpiryGate):
                    gate.watch(task)  # parked (approval, dependencies) or not, it expires
        logger.info("task %s edited", task.id)
        return await self.ordering.lifecycle.persisted(task)


def check_links_kept(edited: Task, task: Task) -> None:
    """VALIDATION_INVALID_PARAMS when `edited` changes what an edit keeps: `task`'s
    dependencies or its approval (the local engine's rule, and a cluster's)."""
    for name in ("depends_on", "permission"):
        if _changed(getattr(edited, name), getattr(task, name)):
            raise QueueError(
                TaskErrorCode.VALIDATION_INVALID_PARAMS,
                f"{name} of an added task cannot change: cancel it and add a new task "
                f"with the {name.replace('_', ' ')} you want",
                field=name,
            )


def _changed(new: object, old: object) -> bool:
    """Whether a list-or-value field really differs (order of dependencies aside)."""
    if isinstance(new, (list, tuple)) and isinstance(old, (list, tuple)):
        return sorted(map(str, new)) != sorted(map(str, old))
    return new != old


class QueueOrder:
    """A mixin of `TaskQueue`: a person's changes to waiting tasks (see `Ordering`)."""

    ordering: Ordering
    editor: Editor

    async def move_task(
        self, task_id: str, place: MovePlace | str, before: str | None = None
    ) -> Task:
        """Move a waiting task to the top/up/down/bottom of its named queue, or `before`
        another waiting task of it; QUEUE_TASK_NOT_WAITING once it started."""
        return await self.ordering.move_task(task_id, place, before)

    async def set_priority(self, task_id: str, priority: Priority | int | str) -> Task:
        """Give a waiting task another priority (it queues last among that priority)."""
        return await self.ordering.set_priority(task_id, priority)

    async def update_task(self, task_id: str, edited: Task) -> Task:
        """Edit a waiting task: the same task with `edited`'s fields, validated as a new task
        is; QUEUE_TASK_NOT_WAITING once it started (see `Editor.update_task`)."""
        return await self.editor.update_task(task_id, edited)
