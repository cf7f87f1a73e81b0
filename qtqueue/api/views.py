"""What the faces (API, CLI) show about a task, built from the engine's public reads.

The engine keeps tasks; how one is put in front of a person (its error with the fix, what it
waits for, whether it holds a slot) is decided here, once, for every face.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from qtqueue.api.messages import (
    SummaryError,
    SummaryProgress,
    SummaryRetry,
    SummaryTiming,
    TaskStatusReply,
)
from qtqueue.core.actions import TaskAction, applies
from qtqueue.core.errors import error_info
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


async def summary_message(source: TaskSource, task_id: str) -> TaskStatusReply:
    """What a person asks about one task: state, progress, timing, error with its fix,
    whether it can be retried, what it waits for (queue, dependencies, approval,
    resources, expiry), and whether it holds a slot of the limits (`holds_slot`: an
    attempt is under way, `suspended` or not). A `TaskStatusReply` with only the summary
    set: `queue_task_status` adds what the request asks for; `task_summary` dumps it."""
    t = await source.get_task(task_id)
    now = source.clock()
    attempt = source.attempt_state(task_id)
    running_s = attempt.running_s if attempt is not None else t.duration_s
    error = None
    if t.error_code:
        info = error_info(t.error_code)
        error = SummaryError(
            code=t.error_code,
            message=t.error,
            description=info.description,
            suggestion=info.suggestion,
            retryable=info.retryable,
            details=t.error_details,
        )
    return TaskStatusReply(
        id=t.id,
        name=t.name,
        type=t.type_name,
        category=t.category,
        tags=t.tags,
        priority=t.priority.name.lower(),
        status=t.status.value,
        progress=SummaryProgress(percent=t.progress, current_step=t.current_step),
        timing=SummaryTiming(
            created_at=t.created_at,
            started_at=t.started_at,
            completed_at=t.completed_at,
            duration_seconds=running_s,
            waiting_seconds=(t.started_at or now) - t.created_at,
        ),
        error=error,
        retry=SummaryRetry(
            count=t.retry_count,
            max_retries=t.max_retries or 0,
            can_retry=applies(TaskAction.RETRY, t),
            dead_letter=t.dead_letter,
            retry_on=t.retry_on,
            no_retry_on=t.no_retry_on,
            next_attempt_at=t.run_at if t.status == TaskStatus.PENDING else None,
        ),
        wait_reason=t.wait_reason,
        # A paused attempt is suspended, not given up: it still counts against the limits.
        suspended=attempt is not None and t.status == TaskStatus.PAUSED,
        holds_slot=attempt is not None and attempt.holds_slot,
        queue=t.queue or "",
        depends_on=t.depends_on,
        allow_dependency_failure=t.allow_dependency_failure,
        permission=t.permission.value,
        approved_at=t.approved_at,
        resources=t.resources,
        expires_at=t.expires_at,
        result=t.result,
    )


async def task_summary(source: TaskSource, task_id: str) -> dict[str, Any]:
    """`summary_message` as the JSON-ready dict the faces show."""
    return (await summary_message(source, task_id)).dump()
