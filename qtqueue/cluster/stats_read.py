"""The cluster's statistics: the local `stats` action's figures, computed from a listing of
its tasks (`ClusterReader.stats`)."""

from __future__ import annotations

import logging
import time
from typing import Any

from redis import Redis
from rq.worker import Worker

from qtqueue.cluster.pause_state import is_paused
from qtqueue.core.task import ACTIVE, TERMINAL, Task, TaskStatus

logger = logging.getLogger(__name__)

__all__ = ["cluster_stats"]


def cluster_stats(tasks: list[Task], connection: Redis, now: float | None = None) -> dict[str, Any]:
    """The `stats` action's figures over `tasks` (`ClusterReader.stats` says what differs
    from the local engine's)."""
    now = time.time() if now is None else now
    dist: dict[str, int] = {}
    types: dict[str, int] = {}
    errors: dict[str, int] = {}
    for t in tasks:
        dist[t.status.value] = dist.get(t.status.value, 0) + 1
        types[t.type_name] = types.get(t.type_name, 0) + 1
        if t.error_code and t.status in TERMINAL and t.status != TaskStatus.COMPLETED:
            errors[t.error_code] = errors.get(t.error_code, 0) + 1
    completed = dist.get("completed", 0)
    failed = dist.get("failed", 0) + dist.get("timeout", 0)
    durations = [t.duration_s for t in tasks if t.duration_s is not None
                 and t.status == TaskStatus.COMPLETED]  # fmt: skip

    def activity(since: float) -> dict[str, int]:
        out = {"created": sum(1 for t in tasks if t.created_at >= since)}
        for s in ("completed", "failed", "timeout", "cancelled"):
            out[s] = sum(1 for t in tasks if t.status.value == s
                         and (t.completed_at or 0.0) >= since)  # fmt: skip
        return out

    return {
        "summary": {
            "total_tasks": len(tasks),
            "max_concurrent_tasks": Worker.count(connection=connection),
            "running_tasks": sum(1 for t in tasks if t.status in ACTIVE),
            "queue_size": dist.get("pending", 0),
            "queue_paused": is_paused(connection),
            "dead_letters": sum(1 for t in tasks if t.dead_letter),
        },
        "status_distribution": dist,
        "type_distribution": types,
        "error_distribution": errors,
        "performance": {
            "average_duration_seconds": sum(durations) / len(durations) if durations else 0.0,
            "success_rate": 100.0 * completed / (completed + failed) if completed + failed else 0.0,
            "completed_tasks": completed,
            "failed_tasks": failed,
            "cancelled_tasks": dist.get("cancelled", 0),
        },
        "retry_statistics": {
            "total_retries": sum(t.retry_count for t in tasks),
            "tasks_with_retries": sum(1 for t in tasks if t.retry_count > 0),
            "tasks_at_max_retries": sum(
                1
                for t in tasks
                if (t.max_retries or 0) > 0 and t.retry_count >= (t.max_retries or 0)
            ),
        },
        "recent_activity": {
            "last_24_hours": activity(now - 86400),
            "last_hour": activity(now - 3600),
        },
    }
