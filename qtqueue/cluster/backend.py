"""The command line's backend on a cluster (`qtqueue --redis URL add …`).

It answers the two actions `qtqueue add` needs — `types` (a type's params schema, from this
machine's executor registry) and `add_task` (the task prepared as locally, then enqueued as an
RQ job: `jobs.enqueue`) — and refuses every other with CLUSTER_NOT_SUPPORTED, saying so: the
cluster's `ls`, `show`, `log`, control and statistics come with the engine port over RQ.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

from redis import Redis

from qtqueue.cluster.connection import NOT_SUPPORTED, connect, where
from qtqueue.cluster.control import backend_action
from qtqueue.cluster.jobs import enqueue
from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.core.task import Task, parse_task_type
from qtqueue.executors import ExecutorRegistry, default_registry

logger = logging.getLogger(__name__)


class ClusterBackend:
    """`qtqueue.api.local_backend.Backend` for a cluster's Redis at `url` (connected on first
    use)."""

    remote = True

    def __init__(self, url: str, registry: ExecutorRegistry | None = None) -> None:
        self.url = url
        self._registry = registry
        self._redis: Redis | None = None

    @property
    def registry(self) -> ExecutorRegistry:
        """The executor registry tasks are validated with (this machine's families)."""
        if self._registry is None:
            self._registry = default_registry()
        return self._registry

    def _connection(self) -> Redis:
        if self._redis is None:
            self._redis = connect(self.url)
        return self._redis

    async def request(self, body: object) -> dict[str, Any]:
        """`{"action", "params"}` → `{"ok": True, "result"}` or `{"ok": False, "error"}`."""
        if not isinstance(body, dict):
            body = {}
        try:
            result = await self.call(str(body.get("action")), body.get("params") or {})
        except QueueError as exc:
            return {"ok": False, "error": exc.to_dict()}
        return {"ok": True, "result": result}

    async def call(self, action: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """Run `types` or `add_task` on the cluster; any other action: CLUSTER_NOT_SUPPORTED."""
        params = params or {}
        if action == "types":
            return self._types(params.get("name"))
        if action == "add_task" and "tasks" not in params:
            return await asyncio.to_thread(self._add, params)
        control = backend_action(action, params)  # pause/resume, workers suspend/resume
        if control is not None:
            return await asyncio.to_thread(control, self._connection())
        raise QueueError(
            NOT_SUPPORTED,
            f"'{action}' on a cluster ({where(self.url)}) is not there yet: the cluster takes "
            "new tasks (qtqueue --redis URL add) and runs them (qtqueue worker)",
            action=action,
        )

    def _types(self, name: object) -> dict[str, Any]:
        executors = list(self.registry)
        if name is not None:
            wanted = parse_task_type(str(name))
            executors = [e for e in executors if e.name == wanted]
            if not executors:
                raise QueueError(
                    TaskErrorCode.QUEUE_UNKNOWN_TASK_TYPE, f"no task type {name!r}", task_type=name
                )
        return {
            "types": [
                {"name": e.name, "summary": e.describe(), "params_schema": e.schema()}
                for e in executors
            ]
        }

    def _add(self, params: dict[str, Any]) -> dict[str, Any]:
        try:
            task = Task.from_dict(params)
        except (TypeError, ValueError) as exc:
            raise QueueError(TaskErrorCode.VALIDATION_INVALID_PARAMS, str(exc)) from None
        job = enqueue(self._connection(), task, self.registry)
        return {"id": job.id}

    async def follow_log(self, task_id: str) -> AsyncIterator[str]:
        """Not yet on a cluster: CLUSTER_NOT_SUPPORTED."""
        raise QueueError(NOT_SUPPORTED, "following a task's log on a cluster is not there yet")
        yield ""  # pragma: no cover - makes this an async generator


def cluster_backend(url: str) -> ClusterBackend:
    """The command line's backend for the cluster at `url`."""
    return ClusterBackend(url)
