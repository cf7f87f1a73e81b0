"""The waiting order of a named queue, changed by a person: move a waiting task to the top,
up, down, to the bottom or before another one, or give it another priority.

The dispatcher starts waiting tasks by `state.queue_order` (queue rank, -priority, seq). A
move therefore works on `priority` and `seq` only, with no stored column of its own:

- the moved task takes the priority of the task it now stands before (or after, at the
  bottom), so that it really runs in the place it was put (moving an URGENT task to the
  bottom of NORMAL ones makes it NORMAL; moving it to the top of URGENT ones, URGENT);
- as few tasks as possible get new queue numbers: one place up or down, the task and the
  one it passes trade numbers (2 tasks); to the top, one number below every live one, to the
  bottom, one above every one so far (`next_seq`) (1 task); only "before OTHER" (or a
  trade that would not keep the order) renumbers the tasks between, from the new place to
  the end of its priority band or from the band's start to it, whichever are fewer. `seq`
  is also a waiting task's version stamp: a new one makes the old queue entries stale and
  the task is queued again under the new one (asking the gates again).

Every changed task is persisted and announced (CHANGED events), so every window sees it.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from itertools import pairwise

from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.core.queue_moves import MovePlace
from qtqueue.core.task import Priority, Task, TaskStatus
from qtqueue.engine import named_queues
from qtqueue.engine.adding import check_room
from qtqueue.engine.dispatch import Dispatcher
from qtqueue.engine.state import not_found, queue_order

logger = logging.getLogger(__name__)


def not_waiting(task: Task, action: str) -> QueueError:
    """QUEUE_TASK_NOT_WAITING: `action` needs a task that has not started."""
    return QueueError(
        TaskErrorCode.QUEUE_TASK_NOT_WAITING,
        f"cannot {action} task {task.id}: it is {task.status.value}, not waiting",
        task_id=task.id,
        status=task.status.value,
        action=action,
    )


def queue_name(task: Task) -> str:
    """The named queue a task waits in."""
    return task.queue or named_queues.DEFAULT_QUEUE


class Ordering:
    """Moves waiting tasks in their queue's order and changes their priority."""

    def __init__(self, dispatcher: Dispatcher) -> None:
        self.dispatcher = dispatcher
        self.lifecycle = dispatcher.lifecycle
        self.state = dispatcher.state
        #: The lowest queue number handed out for a move to the front in this run.
        self._low = 0
        #: When a person last changed each task (moved, reprioritised, edited) in this run:
        #: an edit that started from a version older than that is stale (the engine's own
        #: changes, such as a new wait reason, do not count).
        self.changed_at: dict[str, float] = {}

    async def waiting(self, task_id: str, action: str) -> Task:
        """The live waiting (PENDING) task `task_id`: QUEUE_TASK_NOT_FOUND, or
        QUEUE_TASK_NOT_WAITING for one that is held, has started or has ended."""
        self.state.require_open()
        task = self.state.live.get(task_id)
        if task is None:
            stored = await self.state.store.get_task(task_id)
            if stored is None:
                raise not_found(task_id)
            raise not_waiting(stored, action)
        if task.status != TaskStatus.PENDING:
            raise not_waiting(task, action)
        return task

    def waiting_order(self, queue: str) -> list[Task]:
        """The waiting tasks of named queue `queue`, first to start first."""
        tasks = [
            t
            for t in self.state.live.values()
            if t.status == TaskStatus.PENDING and queue_name(t) == queue
        ]
        return sorted(tasks, key=queue_order)

    async def move_task(
        self, task_id: str, place: MovePlace | str, before: str | None = None
    ) -> Task:
        """Move waiting task `task_id` in its named queue's waiting order (`before`: the id
        of the waiting task of the same queue it goes before, with MovePlace.BEFORE). Returns
        the task as moved, once durable. QUEUE_TASK_NOT_WAITING for a task that started or
        ended (or a `before` task that did, or waits in another queue)."""
        place = parse_place(place)
        task = await self.waiting(task_id, "move")
        order = self.waiting_order(queue_name(task))
        i = order.index(task)
        others = order[:i] + order[i + 1 :]
        j = self._target(task, place, i, others, before)
        if j == i:
            return await self.lifecycle.persisted(task)
        new_order = [*others[:j], task, *others[j:]]
        neighbour = new_order[j + 1] if j + 1 < len(new_order) else new_order[j - 1]
        task.priority = neighbour.priority
        band = [t for t in new_order if t.priority == task.priority]
        k = band.index(task)
        passed = order[i - 1] if place == MovePlace.UP else order[min(i + 1, len(order) - 1)]
        if place in (MovePlace.UP, MovePlace.DOWN) and _swap_fits(band, task, passed):
            task_seq, passed_seq = passed.seq, task.seq  # one place: the two trade seqs
            self.restamp(passed, passed_seq)
            self.restamp(task, task_seq)
        elif k == len(band) - 1:  # last of its band (the bottom): one new number after all
            self.restamp(task, self.state.next_seq())
        elif k == 0:  # first of its band (the top): one number below every live one
            self._low = min([self._low, *(t.seq for t in self.state.live.values())]) - 1
            self.restamp(task, self._low)
        elif len(band) - k <= k + 1:  # before another: the tasks from here to the band's end
            for t in band[k:]:
                self.restamp(t, self.state.next_seq())
        else:  # or those from the band's start to here, whichever are fewer
            low = min([self._low, *(t.seq for t in self.state.live.values())])
            for t in reversed(band[: k + 1]):
                low -= 1
                self.restamp(t, low)
            self._low = low
        logger.info("task %s moved %s in queue %r", task.id, place.value, queue_name(task))
        return await self.lifecycle.persisted(task)

    def _target(
        self, task: Task, place: MovePlace, i: int, others: list[Task], before: str | None
    ) -> int:
        if place == MovePlace.TOP:
            return 0
        if place == MovePlace.BOTTOM:
            return len(others)
        if place == MovePlace.UP:
            return max(i - 1, 0)
        if place == MovePlace.DOWN:
            return min(i + 1, len(others))
        if before is None:
            raise QueueError(
                TaskErrorCode.VALIDATION_MISSING_REQUIRED,
                "moving a task before another needs the other task's id",
                field="before",
            )
        for j, other in enumerate(others):
            if other.id == before:
                return j
        other_task = self.state.live.get(before)
        if other_task is None:
            raise QueueError(
                TaskErrorCode.QUEUE_TASK_NOT_FOUND,
                f"no waiting task with id {before}",
                task_id=before,
            )
        if other_task.id == task.id:
            return i
        if other_task.status != TaskStatus.PENDING:
            raise not_waiting(other_task, "move a task before")
        raise QueueError(
            TaskErrorCode.QUEUE_TASK_NOT_WAITING,
            f"task {before} waits in queue {queue_name(other_task)!r}, "
            f"not in {queue_name(task)!r}: a task moves within its own queue",
            task_id=before,
            action="move a task before",
        )

    def restamp(self, task: Task, seq: int) -> None:
        """Give `task` a new place (`seq`), persist it and queue it again under it."""
        task.seq = seq
        self.changed(task)
        self.dispatcher.enqueue(task)

    def changed(self, task: Task) -> None:
        """Persist and announce a person's change of `task`, and note when it was made."""
        self.lifecycle.touch(task)
        self.changed_at[task.id] = task.updated_at

    async def set_priority(self, task_id: str, priority: Priority | int | str) -> Task:
        """Give waiting task `task_id` another priority: it goes to the end of the tasks of
        that priority in its queue (as if added now). A task in the queue its old priority
        picked (it named none) moves to the one the new priority picks, as when adding.
        Returns the task once durable."""
        value = parse_priority(priority)
        task = await self.waiting(task_id, "change the priority of")
        if task.priority != value:
            new_queue = task.queue
            if task.queue == named_queues.queue_for_priority(task.priority):
                new_queue = named_queues.queue_for_priority(value)
            if new_queue != task.queue:
                others = [t for t in self.state.live.values() if t.id != task.id]
                check_room([replace(task, queue=new_queue)], others, self.state.queues)
            task.priority = value
            if new_queue != task.queue:
                task.queue = new_queue
                await self.state.store.update_definition(task)  # durable before announced
            if task.status == TaskStatus.PENDING:
                self.restamp(task, self.state.next_seq())
            else:  # it started meanwhile
                self.changed(task)
        return await self.lifecycle.persisted(task)


def _swap_fits(band: list[Task], task: Task, passed: Task) -> bool:
    """Whether `task` and `passed` (the neighbour it moves past by one place) trading seqs puts
    `band` (the tasks of one priority in their new order) in seq order."""
    if passed is task or passed.priority != task.priority:
        return False
    swapped = {task.id: passed.seq, passed.id: task.seq}
    seqs = [swapped.get(t.id, t.seq) for t in band]
    return all(a < b for a, b in pairwise(seqs))


def parse_place(value: MovePlace | str) -> MovePlace:
    """A place from its word: VALIDATION_INVALID_FORMAT otherwise."""
    try:
        return MovePlace(value)
    except ValueError:
        places = ", ".join(p.value for p in MovePlace)
        raise QueueError(
            TaskErrorCode.VALIDATION_INVALID_FORMAT,
            f"place: {value!r} is not one of {places}",
            field="place",
        ) from None


def parse_priority(value: Priority | int | str) -> Priority:
    """A priority from its number or name: VALIDATION_INVALID_FORMAT otherwise (true and
    false are not numbers here)."""
    try:
        if isinstance(value, bool):
            raise TypeError(value)
        return Priority.parse(value)
    except (KeyError, ValueError, TypeError, AttributeError):
        names = ", ".join(p.name.lower() for p in Priority)
        raise QueueError(
            TaskErrorCode.VALIDATION_INVALID_FORMAT,
            f"unknown priority {value!r}: use one of {names} (or 0-3)",
            field="priority",
        ) from None
