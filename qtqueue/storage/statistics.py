"""Statistics and history (a task's transitions too), read in SQL from `tasks` and `task_events`.

Pure reads through the store's `fetchall` (one statement, all rows, on the store's
connection); `SqliteTaskStore.stats` and `.history` hand theirs in.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable
from typing import Any

from qtqueue.storage.base import Transition
from qtqueue.storage.rows import STATUSES, TERMINAL_VALUES

logger = logging.getLogger(__name__)

#: One statement with its arguments -> all its rows.
Fetch = Callable[[str, Any], Awaitable[list[Any]]]
#: `history()` returns at most this many buckets.
MAX_HISTORY_BUCKETS = 2000
#: `history()` takes each task type's duration percentiles over its latest completions, at most
#: this many, so a busy store costs a bounded read.
DURATION_SAMPLE = 10_000


async def read_stats(fetchall: Fetch, now: float) -> dict[str, Any]:
    """Figures computed in SQL: distributions and outcomes over tasks, durations and recent
    activity over transitions.

    The outcomes (completed, failed, cancelled, the success rate) are the status
    distribution's, from the same statement: a task's transition is written a little after
    its state (`engine.writer.HISTORY_DELAY_S`), so outcomes counted from the transitions
    could lag the totals beside them. A task that failed and then completed on a retry is
    one success (its failed attempt stays in the history)."""

    async def pairs(sql: str, *args: Any) -> dict[str, int]:
        return {str(k): int(v) for k, v in await fetchall(sql, args)}

    async def one(sql: str, *args: Any) -> tuple[Any, ...]:
        row = await _fetchone(fetchall, sql, args)
        return tuple(row) if row else ()

    status_distribution = await pairs("SELECT status, count(*) FROM tasks GROUP BY status")
    type_distribution = await pairs("SELECT task_type, count(*) FROM tasks GROUP BY task_type")
    error_distribution = await pairs(
        "SELECT error_code, count(*) FROM tasks WHERE error_code IS NOT NULL "
        "AND status IN ('failed', 'timeout', 'cancelled') GROUP BY error_code"
    )
    completed, failed, timed_out, cancelled = (
        status_distribution.get(status, 0)
        for status in ("completed", "failed", "timeout", "cancelled")
    )
    # The completed runs' mean duration, each task's latest completion once.
    (avg_duration,) = await one(
        "SELECT avg(CASE WHEN to_status = 'completed' THEN duration_s END) FROM task_events "
        "WHERE id IN (SELECT max(id) FROM task_events GROUP BY task_rid)"
    )
    finished = completed + failed + timed_out
    total_retries, with_retries, at_max = await one(
        "SELECT coalesce(sum(retry_count), 0), coalesce(sum(retry_count > 0), 0), "
        "coalesce(sum(max_retries > 0 AND retry_count >= max_retries), 0) FROM tasks"
    )

    async def activity(since: float) -> dict[str, int]:
        counts = await pairs(
            "SELECT to_status, count(*) FROM task_events WHERE at >= ? AND (from_status "
            "IS NULL OR to_status IN ('completed', 'failed', 'timeout', 'cancelled')) "
            "GROUP BY to_status",
            since,
        )
        created = counts.pop("pending", 0)
        for s in ("completed", "failed", "timeout", "cancelled"):
            counts.setdefault(s, 0)
        return {"created": created, **counts}

    return {
        "status_distribution": status_distribution,
        "type_distribution": type_distribution,
        "error_distribution": error_distribution,
        "performance": {
            "average_duration_seconds": float(avg_duration or 0.0),
            "success_rate": (100.0 * completed / finished) if finished else 0.0,
            "completed_tasks": completed,
            "failed_tasks": failed + timed_out,
            "cancelled_tasks": cancelled,
        },
        "retry_statistics": {
            "total_retries": int(total_retries),
            "tasks_with_retries": int(with_retries),
            "tasks_at_max_retries": int(at_max),
        },
        "recent_activity": {
            "last_24_hours": await activity(now - 86400),
            "last_hour": await activity(now - 3600),
        },
    }


async def read_history(
    fetchall: Fetch, since: float, bucket_s: float, *, until: float | None = None
) -> dict[str, Any]:
    """Activity over time from `task_events`, in buckets of `bucket_s` from `since`.

    Each bucket (oldest first) counts the tasks that finished in it by outcome, under
    the latest-outcome rule of `stats()`: a task counts once, in the bucket of its latest
    transition if that one is terminal (a failure later retried counts where the retry
    ended). `success_rate` is completed / (completed + failed + timeout) in percent, None
    where nothing finished; `finished` (throughput) also counts cancelled tasks.
    `queue_depth` is the number of tasks waiting to start (PENDING; held tasks are PAUSED
    and not counted) at the bucket's end: the PENDING tasks now, minus the entries into
    PENDING and plus the departures from it that came after that bucket.
    Buckets run up to `until` (default: the last event); at most `MAX_HISTORY_BUCKETS`,
    widening `bucket_s` where needed. `durations` gives, per task type, the median and
    p95 of `duration_s` over its latest `DURATION_SAMPLE` completions since `since`.
    """
    if bucket_s <= 0:
        raise ValueError(f"bucket_s must be positive, not {bucket_s!r}")
    if until is None:
        last = await _fetchone(fetchall, "SELECT max(at) FROM task_events")
        until = last[0] if last and last[0] is not None else since
    span = max(until - since, 0.0)
    bucket_s = max(bucket_s, span / (MAX_HISTORY_BUCKETS - 1))
    count = math.floor(span / bucket_s) + 1  # the bucket holding `until` included
    # The latest transition of each task, where it is terminal and inside the window.
    outcomes = await fetchall(
        "SELECT CAST((e.at - ?) / ? AS INTEGER) AS b, e.to_status, count(*) "
        "FROM task_events AS e WHERE e.at >= ? AND e.to_status IN "
        "('completed', 'failed', 'timeout', 'cancelled') AND NOT EXISTS "
        "(SELECT 1 FROM task_events AS later WHERE later.task_rid = e.task_rid "
        "AND later.id > e.id) GROUP BY b, e.to_status",
        (since, bucket_s, since),
    )
    moves = await fetchall(
        "SELECT CAST((at - ?) / ? AS INTEGER) AS b, "
        "sum(to_status = 'pending') - sum(from_status IS 'pending') "
        "FROM task_events WHERE at >= ? GROUP BY b",
        (since, bucket_s, since),
    )
    # `completed_at IS NULL` is the partial index tasks_open's WHERE, so SQLite uses it.
    waiting = await _fetchone(
        fetchall, "SELECT count(*) FROM tasks WHERE completed_at IS NULL AND status = 'pending'"
    )
    buckets: list[dict[str, Any]] = [
        {
            "start": since + i * bucket_s,
            "completed": 0,
            "failed": 0,
            "timeout": 0,
            "cancelled": 0,
            "finished": 0,
            "success_rate": None,
            "queue_depth": 0,
        }
        for i in range(count)
    ]
    for b, status, n in outcomes:
        if 0 <= b < count:
            buckets[b][status] += int(n)
            buckets[b]["finished"] += int(n)
    # Walk back from the tasks waiting now, undoing each bucket's moves: this reads only
    # the window's events and ends on the same figure as the `tasks` table.
    net = {int(b): int(n or 0) for b, n in moves}
    depth = int(waiting[0]) if waiting else 0
    depth -= sum(n for b, n in net.items() if b >= count)
    for i in reversed(range(count)):
        buckets[i]["queue_depth"] = max(depth, 0)
        depth -= net.get(i, 0)
    for bucket in buckets:
        decided = bucket["completed"] + bucket["failed"] + bucket["timeout"]
        if decided:
            bucket["success_rate"] = 100.0 * bucket["completed"] / decided
    samples: dict[str, list[float]] = {}
    for task_type, duration in await fetchall(
        "SELECT task_type, duration_s FROM (SELECT task_type, duration_s, row_number() "
        "OVER (PARTITION BY task_type ORDER BY at DESC) AS n FROM task_events "
        "WHERE to_status = 'completed' AND duration_s IS NOT NULL AND at >= ?) "
        "WHERE n <= ?",
        (since, DURATION_SAMPLE),
    ):
        samples.setdefault(str(task_type), []).append(float(duration))
    durations = {
        task_type: {
            "count": len(values),
            "median_s": _percentile(sorted(values), 50),
            "p95_s": _percentile(sorted(values), 95),
        }
        for task_type, values in sorted(samples.items())
    }
    return {
        "since": since,
        "until": since + count * bucket_s,
        "bucket_s": bucket_s,
        "buckets": buckets,
        "durations": durations,
    }


def _percentile(ordered: list[float], q: float) -> float:
    """The `q`th percentile (0-100) of sorted values, interpolated between the closest ranks."""
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


async def read_transitions(fetchall: Fetch, task_id: str) -> list[Transition]:
    """The status history of one task, oldest first; a row that cannot be read is skipped."""
    q = (
        "SELECT ?, at, from_status, to_status, task_type, error_code, duration_s "
        "FROM task_events WHERE task_rid = (SELECT rowid FROM tasks WHERE id = ?) ORDER BY id"
    )
    found: list[Transition] = []
    for r in await fetchall(q, (task_id, task_id)):
        from_status = STATUSES.get(r[2]) if r[2] else None
        to_status = STATUSES.get(r[3])
        if to_status is None or (r[2] and from_status is None):
            # A garbled history row hides one step, never the task.
            logger.warning("task %s: skipped a transition that cannot be read: %r", task_id, r)
            continue
        found.append(
            Transition(
                task_id=r[0],
                at=r[1],
                from_status=from_status,
                to_status=to_status,
                task_type=r[4],
                error_code=r[5],
                duration_s=r[6],
            )
        )
    return found


async def restore_transitions(fetchall: Fetch) -> int:
    """Add, for every task whose latest transition does not end in its stored status, the
    transition to that status (at its updated_at); how many were added. Transitions are
    written a little after the state they describe, so a crash can lose the last ones."""
    # One index seek per task (task_events_task holds each task's transition ids).
    rows = await fetchall(
        "INSERT INTO task_events (task_rid, at, from_status, to_status, task_type, "
        "error_code, duration_s) "
        "SELECT t.rowid, t.updated_at, e.to_status, t.status, t.task_type, t.error_code, "
        f"CASE WHEN t.status IN ({', '.join('?' * len(TERMINAL_VALUES))}) "
        "THEN t.duration_s END "
        "FROM tasks AS t LEFT JOIN task_events AS e ON e.id = "
        "(SELECT max(id) FROM task_events WHERE task_rid = t.rowid) "
        "WHERE e.to_status IS NOT t.status ORDER BY t.updated_at RETURNING id",
        TERMINAL_VALUES,
    )
    return len(rows)


async def _fetchone(fetchall: Fetch, sql: str, args: Any = ()) -> Any:
    rows = await fetchall(sql, args)
    return rows[0] if rows else None
