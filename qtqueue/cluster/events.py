"""The cluster's live events: a small message on a Redis pub/sub channel at each change of a
task's state, so a window on the cluster follows it without polling every job.

Who publishes what (`publish(conn, kind, task_id)`, one call where the state changes):

| kind       | where                                                            |
|------------|------------------------------------------------------------------|
| added      | `jobs.enqueue` (a task enqueued), `manage.retry` (queued again)   |
| started    | `job._run` (the horse, once RQ has marked the job started)        |
| progress   | `context.MetaReporter.flush` (the meta saved; at most 4/s a task) |
| paused     | `control.HorsePause.pause`; `resumed`: `HorsePause.resume`        |
| ended      | `worker.QtqueueWorker.execute_job` (the main process, once RQ has |
|            | recorded the outcome: completed, failed, retried, cancelled,      |
|            | killed); `manage.cancel` of a waiting task                        |
| removed    | `manage.remove`                                                   |
| changed    | `ordering.ClusterOrder` (a waiting task moved, re-prioritised or  |
|            | edited)                                                          |
| queue-paused, queue-resumed | `cluster_pause` (the whole cluster; no task id)  |

A message is `{"kind", "task_id"}` and nothing else (no params, no secret, no name): a reader
reads the task itself (`reads.py`). Publishing never fails a task: a Redis that does not take
the message is logged and the change stays in the job, where the reader's slow resync (see
`backend.ClusterBackend.events`) finds it. A worker that dies (SIGKILL) publishes nothing; RQ's
cleanup later moves its job, which that resync finds too.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

#: The pub/sub channel of every task change of the cluster.
CHANNEL = "qtqueue:events"
KINDS = ("added", "started", "progress", "paused", "resumed", "ended", "removed", "changed",
         "queue-paused", "queue-resumed")  # fmt: skip
#: The kinds about the whole cluster, not one task (their task id is "").
QUEUE_KINDS = {"queue-paused": "paused", "queue-resumed": "resumed"}
#: The shortest time between two progress messages of one task (at most 4 a second).
PROGRESS_EVERY_S = 0.25

#: When each task's last progress message went out (this process's tasks).
_progress_at: dict[str, float] = {}


def publish(conn: Any, kind: str, task_id: str) -> None:
    """Say on `CHANNEL` that the task `task_id` changed (`kind`: one of `KINDS`). A progress
    message sooner than `PROGRESS_EVERY_S` after the task's last one is left out. `conn` None
    (a job without Redis: the worker's warm-up) publishes nothing."""
    if conn is None:
        return
    if kind == "progress":
        now = time.monotonic()
        if now - _progress_at.get(task_id, -PROGRESS_EVERY_S) < PROGRESS_EVERY_S:
            return
        _progress_at[task_id] = now
    else:
        _progress_at.pop(task_id, None)
    try:
        conn.publish(CHANNEL, json.dumps({"kind": kind, "task_id": task_id}))
    except (RedisError, OSError) as exc:  # the job holds the change; the resync finds it
        logger.info("the %s event of task %s was not published: %s", kind, task_id, exc)
