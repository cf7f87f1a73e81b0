"""What the faces (API, CLI) show about a task: the engine's summary (`engine.summary`) as a
typed message."""

from __future__ import annotations

import logging
from typing import Any

from qtqueue.api.messages import TaskStatusReply
from qtqueue.engine.summary import TaskSource
from qtqueue.engine.summary import task_summary as engine_summary

logger = logging.getLogger(__name__)

__all__ = ["TaskSource", "summary_message", "task_summary"]


async def summary_message(source: TaskSource, task_id: str) -> TaskStatusReply:
    """What a person asks about one task (see `engine.summary.task_summary`): a
    `TaskStatusReply` with only the summary set; `queue_task_status` adds what the request
    asks for; `task_summary` dumps it."""
    return TaskStatusReply.model_validate(await engine_summary(source, task_id))


async def task_summary(source: TaskSource, task_id: str) -> dict[str, Any]:
    """`summary_message` as the JSON-ready dict the faces show."""
    return (await summary_message(source, task_id)).dump()
