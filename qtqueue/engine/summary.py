"""What a person asks about one task, as JSON-ready data: `TaskQueue.get_task_summary`.

The engine keeps tasks; how one is put in front of a person (its error with the fix, what it
waits for, whether it holds a slot) is decided here, once: the faces (`api.views`) give the
same dict its typed message.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from qtqueue.core.task import Task, TaskStatus
from qtqueue.engine.context import AttemptState

logger = logging.getLogger(__name__)


class TaskSource(Protocol):
    """What a task summary reads from the engine."""

    async def get_task(self, task_id: str) -> Task:
        """A copy of the task's current state (QUEUE_TASK_NOT_FOUND if unknown)."""
        ...

    def clock(self) -> float:
        """UNIX time now, as the engine counts it."""
        ...

    def attempt_state(self, task_id: str) -> AttemptState | None:
        """The attempt under way for the task, if any."""
        ...


def _error(t: Task) -> dict[str, Any] | None:
    info = t.error_info
    if info is None or t.error_code is None:
        return None
    return {
        "code": t.error_code,
        "message": t.error,
        "description": info.description,
        "suggestion": info.suggestion,
        "retryable": info.retryable,
        "details": t.error_details,
    }


async def task_summary(source: TaskSource, task_id: str) -> dict[str, Any]:
    """State, progress, timing, error with its fix, whether it can be retried, what it waits
    for (queue, dependencies, approval, resources, expiry), and whether it holds a slot of the
    limits (`holds_slot`: an attempt is under way, `suspended` or not). `duration_seconds` is
    the running time so far while an attempt runs."""
    t = await source.get_task(task_id)
    now = source.clock()
    attempt = source.attempt_state(task_id)
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
            "duration_seconds": attempt.running_s if attempt is not None else t.duration,
            "waiting_seconds": (t.started_at or now) - t.created_at,
        },
        "error": _error(t),
        "retry": {
            "count": t.retry_count,
            "max_retries": t.max_retries or 0,
            "can_retry": t.can_retry,
            "dead_letter": t.dead_letter,
            "retry_on": t.retry_on,
            "no_retry_on": t.no_retry_on,
            "next_attempt_at": t.run_at if t.status == TaskStatus.PENDING else None,
        },
        "wait_reason": t.wait_reason,
        # A paused attempt is suspended, not given up: it still counts against the limits.
        "suspended": attempt is not None and t.status == TaskStatus.PAUSED,
        "holds_slot": attempt is not None and attempt.holds_slot,
        "queue": t.queue or "",
        "depends_on": t.depends_on,
        "allow_dependency_failure": t.allow_dependency_failure,
        "permission": t.permission.value,
        "approved_at": t.approved_at,
        "resources": t.resources,
        "expires_at": t.expires_at,
        "result": t.result,
    }
