"""The API's overview reads: the tasks that could not start (the resource document's `queue`
view), the worker slots (the RQ-style document's `get_worker_stats`) and the engine's status.

Each takes no params and replies with a typed message; none changes anything.
"""

from __future__ import annotations

import logging
from typing import Any

from pydantic import SkipValidation

from qtqueue.api.messages import Message
from qtqueue.api.params import NoParams, parse_params
from qtqueue.engine.queue import TaskQueue

logger = logging.getLogger(__name__)


class WaitingTasks(Message):
    """Every pending task that could not start, in queue order: `{id, name, task_type, needs,
    waiting_s, target, attempts, last_reason, first_failed_at, last_checked_at, held_by}`."""

    waiting: list[SkipValidation[dict[str, Any]]]


class WorkerStats(Message):
    """The engine's worker slots: counts as `get_worker_stats` gives them, and each slot."""

    total: int
    idle: int
    busy: int
    suspended: int
    slots: list[SkipValidation[dict[str, Any]]]


class EngineStatus(Message):
    """The overview: the engine, named queues, running and waiting tasks, workers, resources."""

    engine: SkipValidation[dict[str, Any]]
    queues: list[SkipValidation[dict[str, Any]]]
    running: int
    suspended: int
    pending: int
    waiting: int
    workers: SkipValidation[dict[str, int]]
    free: SkipValidation[dict[str, float | None]]
    reserved: SkipValidation[dict[str, float]]


async def waiting(queue: TaskQueue, params: dict[str, Any]) -> dict[str, Any]:
    """The pending tasks that could not start, why, and how often they were checked."""
    parse_params(NoParams, "waiting", params)
    return WaitingTasks(waiting=queue.overview.waiting()).dump()


async def workers(queue: TaskQueue, params: dict[str, Any]) -> dict[str, Any]:
    """The worker slots as idle, busy or suspended, with the task each runs."""
    parse_params(NoParams, "workers", params)
    return WorkerStats(**queue.overview.workers()).dump()


async def engine_status(queue: TaskQueue, params: dict[str, Any]) -> dict[str, Any]:
    """The overview of the engine (see `Overview.status`)."""
    parse_params(NoParams, "engine_status", params)
    return EngineStatus(**await queue.overview.status()).dump()


#: The overview reads by action name.
OVERVIEW_ACTIONS = {
    "waiting": waiting,
    "workers": workers,
    "engine_status": engine_status,
}
