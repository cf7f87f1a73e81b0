"""HUMAN_REQUIRED tasks wait for a person's approval (it survives restarts)."""

from __future__ import annotations

import logging

from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.core.overview import HeldBy
from qtqueue.core.task import Permission, Task, TaskStatus
from qtqueue.engine.gates import ADMIT, Park, Verdict
from qtqueue.engine.lifecycle import Lifecycle

logger = logging.getLogger(__name__)

AWAITING_APPROVAL = "awaiting approval"


class ApprovalGate:
    """Parks a HUMAN_REQUIRED task until `approve`; `reject` ends it."""

    def __init__(self, lifecycle: Lifecycle) -> None:
        self.lifecycle = lifecycle
        #: id -> seq of the parked entry of each task awaiting approval.
        self.awaiting: dict[str, int] = {}
        lifecycle.on_conclude.append(self._concluded)

    def begin_pass(self) -> None:
        """Nothing to look at: approval comes from a person."""

    def check(self, task: Task) -> Verdict:
        """Park a task that needs approval and has none."""
        if task.permission == Permission.HUMAN_REQUIRED and task.approved_at is None:
            self.awaiting[task.id] = task.seq
            return Park(AWAITING_APPROVAL, HeldBy.APPROVAL)
        return ADMIT

    def _concluded(self, task: Task, _status: TaskStatus) -> None:
        self.awaiting.pop(task.id, None)

    @staticmethod
    def check_awaiting(task: Task, action: str) -> None:
        """QUEUE_INVALID_STATE unless `task` awaits approval."""
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

    def approve(self, task: Task) -> None:
        """Let `task` (which awaits approval) go on to its other gates."""
        self.check_awaiting(task, "approve")
        task.approved_at = self.lifecycle.state.clock()
        seq = self.awaiting.pop(task.id, None)
        if task.wait_reason == AWAITING_APPROVAL:
            task.wait_reason = ""
        self.lifecycle.touch(task)
        if seq is not None:
            self.lifecycle.release([(task.id, seq)], clear_reason=False)

    def reject(self, task: Task, reason: str) -> None:
        """End `task` (which awaits approval) CANCELLED with QUEUE_REJECTED and the reason."""
        self.check_awaiting(task, "reject")
        reason = reason.strip()
        self.lifecycle.conclude(
            task,
            TaskStatus.CANCELLED,
            code=TaskErrorCode.QUEUE_REJECTED,
            message=f"rejected: {reason}" if reason else "rejected when asked for approval",
            details={"reason": reason},
            allow_retry=False,
        )
