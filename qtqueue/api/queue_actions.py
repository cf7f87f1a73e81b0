"""The API's actions on the queue itself: pause and resume dispatching, named queues, cleanup.

Each parses its params with its model and replies with a typed message (`qtqueue.api.messages`).
"""

from __future__ import annotations

import logging
from typing import Any

from pydantic import Field

from qtqueue.api.messages import CleanupDone, QueueList, QueueMessage, QueuePaused
from qtqueue.api.params import NoParams, Params, parse_params
from qtqueue.engine.queue import TaskQueue

logger = logging.getLogger(__name__)


class CleanupParams(Params):
    """`cleanup`: finished tasks older than this (default: the queue's retention period)."""

    older_than_s: float | None = Field(None, ge=0)


class SetQueueParams(Params):
    """`set_queue`: create a named queue or change its settings; a setting given as null is
    cleared, one left out is kept."""

    name: str = Field(..., min_length=1)
    concurrency: int | None = Field(None, ge=1)
    timeout_s: float | None = Field(None, gt=0)
    max_retries: int | None = Field(None, ge=0)
    result_ttl_s: float | None = Field(None, ge=0)
    failure_ttl_s: float | None = Field(None, ge=0)
    max_length: int | None = Field(None, ge=1)
    alert_depth: int | None = Field(None, ge=1)
    notify_webhook: str | None = None


async def pause_queue(queue: TaskQueue, params: dict[str, Any]) -> dict[str, Any]:
    """Start nothing new until `resume_queue` (running tasks go on)."""
    parse_params(NoParams, "pause_queue", params)
    await queue.pause_queue()
    return QueuePaused(queue_paused=queue.queue_paused).dump()


async def resume_queue(queue: TaskQueue, params: dict[str, Any]) -> dict[str, Any]:
    """Start dispatching again."""
    parse_params(NoParams, "resume_queue", params)
    await queue.resume_queue()
    return QueuePaused(queue_paused=queue.queue_paused).dump()


async def list_queues(queue: TaskQueue, params: dict[str, Any]) -> dict[str, Any]:
    """The named queues in drain order, with their settings and running/waiting counts."""
    parse_params(NoParams, "list_queues", params)
    return QueueList(queues=queue.list_queues()).dump()


async def set_queue(queue: TaskQueue, params: dict[str, Any]) -> dict[str, Any]:
    """Create or change a named queue: `{"queue": ...}` as `list_queues` shows it."""
    p = parse_params(SetQueueParams, "set_queue", params)
    changes = p.model_dump(exclude_unset=True, exclude={"name"})
    return QueueMessage(queue=await queue.set_queue(p.name, **changes)).dump()


async def cleanup(queue: TaskQueue, params: dict[str, Any]) -> dict[str, Any]:
    """Delete finished tasks older than `older_than_s`: `{"removed": n}`."""
    p = parse_params(CleanupParams, "cleanup", params)
    return CleanupDone(removed=await queue.cleanup(p.older_than_s)).dump()


#: The actions on the queue by action name.
QUEUE_ACTIONS = {
    "pause_queue": pause_queue,
    "resume_queue": resume_queue,
    "list_queues": list_queues,
    "set_queue": set_queue,
    "cleanup": cleanup,
}
