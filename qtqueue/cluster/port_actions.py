"""The actions a window on a cluster asks for beyond the command line's (`backend.py` answers
them with these): the overview, the queues, history, and the empty or refused parts.

- `engine_status`: no engine runs on a cluster; the overview says which Redis, whether the
  cluster is paused (`paused`: `cluster_pause.py`'s pause, or RQ's global suspend set by
  hand), and counts from the queues and registries.
- `list_queues`: the three queues (`queues.py`) with the local engine's settings of the same
  name (the design document's numbers) and how many of each run and wait now.
- `history`: what RQ's registries still hold (finished jobs 24 h / 12 h, failed 7 days), in
  the local `history` shape: each bucket counts the tasks that ended in it by how they ended;
  the queue depth at a bucket's end counts the tasks added by then and not started by then.
- `schedule_list` (none: a cluster has no schedules), `config_get`
  (the settings this machine would give a task; read-only on a cluster).
- Refused with CLUSTER_NOT_SUPPORTED and the way to do it instead: adding or changing
  schedules, changing settings, sending input. Moving and editing a waiting task:
  `ordering.py`; pausing the whole cluster: `cluster_pause.py`.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

from redis import Redis
from rq.registry import StartedJobRegistry

from qtqueue.cluster.connection import NOT_SUPPORTED, where
from qtqueue.cluster.jobs import SERIALIZER, rq_queue
from qtqueue.cluster.pause_state import is_paused
from qtqueue.cluster.queues import DRAIN_ORDER
from qtqueue.cluster.reads import ClusterReader
from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.core.task import TERMINAL, TaskStatus
from qtqueue.engine.named_queues import defaults

logger = logging.getLogger(__name__)

#: The most buckets one `history` read gives (as locally).
MAX_BUCKETS = 10_000

#: What a cluster cannot do, by action, and what to do instead (the message's fix).
REFUSED: dict[str, str] = {
    "schedule_add": "a cluster has no schedules yet: add the schedule on a local engine "
    "(open the window without --redis) or enqueue the task from cron with "
    "'qtqueue --redis URL add'",
    "schedule_update": "a cluster has no schedules yet",
    "schedule_manage": "a cluster has no schedules yet",
    "config_set": "a cluster's settings are its workers': change them on each worker's "
    "machine ('qtqueue --data-dir DIR config set …' for the data directory its worker uses) "
    "and restart the worker; a window on a cluster only reads them",
    "send_input": "a task on a cluster runs on a worker's machine, whose stdin this window "
    "cannot reach: give the command its input in a file, or run it on a local engine",
}


def refused(url: str, action: str) -> QueueError:
    """CLUSTER_NOT_SUPPORTED for `action` on the cluster at `url`, with what to do instead."""
    fix = REFUSED.get(action, "use the command line ('qtqueue --redis URL --help')")
    return QueueError(
        NOT_SUPPORTED, f"'{action}' on a cluster ({where(url)}): {fix}", action=action
    )


def _counts(conn: Redis) -> dict[str, tuple[int, int]]:
    """(running, waiting) per queue."""
    out = {}
    for name in DRAIN_ORDER:
        started = StartedJobRegistry(name, connection=conn, serializer=SERIALIZER)
        out[name] = (started.count, rq_queue(conn, name).count)
    return out


def list_queues(conn: Redis) -> dict[str, Any]:
    """`list_queues`: the three queues, their settings and counts, in drain order."""
    counts = _counts(conn)
    queues = [
        {**defaults(name).to_dict(), "running": counts[name][0], "waiting": counts[name][1]}
        for name in DRAIN_ORDER
    ]
    return {"queues": queues}


def engine_status(conn: Redis, url: str) -> dict[str, Any]:
    """`engine_status`: the cluster's overview (see the module's notes)."""
    paused = is_paused(conn)
    reader = ClusterReader(conn)
    workers = reader.workers()
    queues = list_queues(conn)["queues"]
    return {
        "engine": {
            "state": "paused" if paused else "dispatching",
            "dispatching": not paused,
            "paused": paused,
            "pid": 0,
            "data_dir": "",
            "cluster": where(url),
        },
        "queues": queues,
        "running": sum(q["running"] for q in queues),
        "suspended": workers["suspended"],
        "pending": sum(q["waiting"] for q in queues),
        "waiting": sum(q["waiting"] for q in queues),
        "workers": {k: workers[k] for k in ("total", "idle", "busy", "suspended")},
        # each worker's room is its own (`qtqueue --redis URL workers`): none for the cluster
        "free": dict.fromkeys(("cpu_cores", "memory_gb", "disk_gb", "gpu_memory_gb")),
        "reserved": {},
    }


def _percentile(ordered: list[float], q: float) -> float:
    if not ordered:
        return 0.0
    k = (len(ordered) - 1) * q / 100
    lo, hi = math.floor(k), math.ceil(k)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def _first_end_at(at: float, since: float, bucket_s: float) -> int:
    """The index of the first bucket whose end is at or after `at`."""
    return max(0, math.ceil((at - since) / bucket_s) - 1)


def history(
    reader: ClusterReader, params: dict[str, Any], now: float | None = None
) -> dict[str, Any]:
    """`history` {since_s, bucket_s?} from the tasks RQ still keeps (see the module's notes)."""
    now = time.time() if now is None else now
    since_s = float(params.get("since_s") or 86400.0)
    bucket_s = float(params.get("bucket_s") or since_s / 60)
    if since_s <= 0 or bucket_s <= 0:
        raise QueueError(
            TaskErrorCode.VALIDATION_INVALID_PARAMS,
            "history: since_s and bucket_s must be positive",
            field="since_s",
        )
    since = (now - since_s) // bucket_s * bucket_s
    bucket_s = max(bucket_s, (now - since) / (MAX_BUCKETS - 1))
    count = math.floor((now - since) / bucket_s) + 1
    buckets: list[dict[str, Any]] = [
        {"start": since + i * bucket_s, "completed": 0, "failed": 0, "timeout": 0,
         "cancelled": 0, "finished": 0, "success_rate": None, "queue_depth": 0}
        for i in range(count)
    ]  # fmt: skip
    samples: dict[str, list[float]] = {}
    tasks = reader.tasks()
    for t in tasks:
        if t.status in TERMINAL and t.completed_at is not None and t.completed_at >= since:
            b = int((t.completed_at - since) // bucket_s)
            if 0 <= b < count:
                buckets[b][t.status.value] += 1
                buckets[b]["finished"] += 1
            if t.status == TaskStatus.COMPLETED and t.duration_s is not None:
                samples.setdefault(t.type_name, []).append(t.duration_s)
    # Waiting at a bucket's end: added by then, not started (nor ended) by then.
    moves = [0] * (count + 1)
    for t in tasks:
        left = t.started_at or t.completed_at or math.inf
        first, past = _first_end_at(t.created_at, since, bucket_s), count
        if left != math.inf:
            past = _first_end_at(left, since, bucket_s)
        first, past = min(first, count), min(past, count)
        if first < past:
            moves[first] += 1
            moves[past] -= 1
    depth = 0
    for i, bucket in enumerate(buckets):
        depth += moves[i]
        bucket["queue_depth"] = depth
        decided = bucket["completed"] + bucket["failed"] + bucket["timeout"]
        if decided:
            bucket["success_rate"] = 100.0 * bucket["completed"] / decided
    durations = {
        name: {"count": len(v), "median_s": _percentile(sorted(v), 50),
               "p95_s": _percentile(sorted(v), 95)}
        for name, v in sorted(samples.items())
    }  # fmt: skip
    return {
        "since": since,
        "until": since + count * bucket_s,
        "bucket_s": bucket_s,
        "buckets": buckets,
        "durations": durations,
    }


def config_get() -> dict[str, Any]:
    """`config_get`: a cluster's settings are its workers' own; the window shows the
    defaults, read-only (`config_set` is refused, saying where to change them)."""
    return {"engine": {}, "families": {}, "read_only": True}
