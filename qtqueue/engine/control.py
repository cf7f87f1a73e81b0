"""What a person asks of one task: pause, resume, cancel, input, approve, reject, retry, remove.

Each request checks that it applies to the task with `core/actions.py` (the rule the command
line and the window follow too), asks the part that owns the change (the runner, a gate, the
lifecycle) and returns the task as the request left it, once that state is durable.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from qtqueue.core.actions import TaskAction, applies
from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.core.task import TERMINAL, Task
from qtqueue.engine.adding import check_room
from qtqueue.engine.events import EventKind, TaskEvent
from qtqueue.engine.gates.approval import ApprovalGate
from qtqueue.engine.gates.dependencies import DependencyGate
from qtqueue.engine.gates.expiry import ExpiryGate
from qtqueue.engine.logs import remove_log
from qtqueue.engine.reading import Reader
from qtqueue.engine.runner import Runner
from qtqueue.engine.state import invalid_state, not_found
from qtqueue.storage.base import TaskFilter

logger = logging.getLogger(__name__)


class Control:
    """The requests about one task, each applied by the part that owns the change."""

    def __init__(
        self,
        reader: Reader,
        runner: Runner,
        approval: ApprovalGate,
        dependencies: DependencyGate,
        expiry: ExpiryGate,
    ) -> None:
        self.reader = reader
        self.runner = runner
        self.lifecycle = runner.lifecycle
        self.dispatcher = runner.dispatcher
        self.state = runner.state
        self.approval = approval
        self.dependencies = dependencies
        self.expiry = expiry

    async def _applicable(self, task_id: str, action: TaskAction) -> Task:
        """The live task `action` applies to, by `core.actions.applies`: QUEUE_TASK_NOT_FOUND,
        or QUEUE_INVALID_STATE (for approval and rejection saying why: approved already, or
        no approval needed)."""
        task = await self.reader.live_task(task_id, action.value)
        if not applies(action, task):
            if action in (TaskAction.APPROVE, TaskAction.REJECT):
                self.approval.check_awaiting(task, action.value)
            raise invalid_state(task, action.value)
        return task

    async def pause_task(self, task_id: str) -> Task:
        """Hold a pending task, or suspend a running one (its whole process tree)."""
        task = await self._applicable(task_id, TaskAction.PAUSE)
        await self.runner.pause(task)
        return await self.lifecycle.persisted(task)

    async def resume_task(self, task_id: str) -> Task:
        """Release a held task or continue a suspended one."""
        task = await self._applicable(task_id, TaskAction.RESUME)
        await self.runner.resume(task)
        return await self.lifecycle.persisted(task)

    async def cancel_task(self, task_id: str) -> Task:
        """Cancel a waiting task, or terminate a running one (TERM, then KILL after grace)."""
        task = await self._applicable(task_id, TaskAction.CANCEL)
        running = task_id in self.state.active
        await self.runner.cancel(task)
        if running:
            await self.reader.flushed()
            return await self.reader.get_task(task_id)
        return await self.lifecycle.persisted(task)

    async def send_input(self, task_id: str, text: str | bytes, *, eof: bool = False) -> None:
        """Write to a running command's stdin (started with params `interactive: true`), as
        is (add the newline yourself); `eof` closes its stdin afterwards. Returns once
        written (a full pipe waits until the command reads)."""
        task = await self.reader.live_task(task_id, "send input to")
        await self.runner.send_input(task, text, eof)

    async def approve_task(self, task_id: str) -> Task:
        """Let a HUMAN_REQUIRED task run (it still waits for anything else it needs).
        Survives restarts."""
        task = await self._applicable(task_id, TaskAction.APPROVE)
        self.approval.approve(task)
        return await self.lifecycle.persisted(task)

    async def reject_task(self, task_id: str, reason: str = "") -> Task:
        """Refuse a HUMAN_REQUIRED task: it ends CANCELLED with QUEUE_REJECTED and the reason."""
        task = await self._applicable(task_id, TaskAction.REJECT)
        self.approval.reject(task, reason)
        return await self.lifecycle.persisted(task)

    async def retry_task(self, task_id: str) -> Task:
        """Run a FAILED, CANCELLED or TIMEOUT task again (also takes it out of dead letters)."""
        state = self.state
        state.require_open()
        if task_id in state.live and state.live[task_id].status not in TERMINAL:
            raise invalid_state(state.live[task_id], "retry")
        await self.reader.flushed()
        task = await self.state.store.get_task(task_id)
        if task is None or task_id in state.removing:  # deleted by a cleanup meanwhile
            raise not_found(task_id)
        if not applies(TaskAction.RETRY, task):
            raise invalid_state(task, TaskAction.RETRY.value)
        if task_id in state.live and state.live[task_id].status not in TERMINAL:
            raise invalid_state(state.live[task_id], "retry")  # retried meanwhile
        check_room([task], state.live.values(), state.queues)  # QUEUE_FULL
        state.retries_accepted += 1
        state.retried_at[task.id] = state.retries_accepted
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
            dead = await self.reader.list_tasks(None, None, TaskFilter(dead_letter=True))
            return [t.id for t in dead]
        chosen = list(dict.fromkeys(ids))
        for i in chosen:
            task = await self.reader.get_task(i)
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
        task = await self.reader.get_task(task_id)
        if not applies(TaskAction.REMOVE, task):
            raise invalid_state(task, TaskAction.REMOVE.value)
        self.state.live.pop(task_id, None)
        await asyncio.shield(
            self.state.the_writer().delete(task_id, TaskEvent(EventKind.REMOVED, task_id))
        )
        remove_log(self.state.log_path(task_id))

    async def update_progress(self, task_id: str, percent: float, step: str | None = None) -> None:
        """Report progress of a running task (handlers call this); waits while it is paused."""
        handle = self.state.active.get(task_id)
        if handle is None:
            task = await self.reader.get_task(task_id)
            raise invalid_state(task, "update progress of")
        self.runner.report_progress(handle.task, percent, step)
        await handle.resumed.wait()
