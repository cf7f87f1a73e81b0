"""The cluster backend: qtqueue tasks run as RQ jobs by `qtqueue worker` processes over Redis.

A task is prepared exactly as the local engine prepares it (`engine.adding.prepare`: the
executor's params model, the task's fields, its queue's defaults), then becomes one RQ job of
one module-level function, `qtqueue.cluster.job.run_task`, on the queue its priority names
(`queues.py`). RQ does the claiming, the registries, retries, dependencies and TTLs; its
failed registry is the dead-letter queue. A worker (`worker.py`) is RQ's own forking `Worker`;
the job function runs the task's family executor with a `WorkerRunContext` (`context.py`):
progress, step and phase go to `job.meta`, the log to a capped Redis stream per task, and a
failure carries the same error code, description and fix as locally.

- `connection.py`      the Redis URL (no password in it), connecting, coded errors
- `queues.py`          the three queues, their defaults, which queue a task goes to
- `jobs.py`            a task -> `Queue.enqueue(...)` (submitting side)
- `job.py`             the job function (worker side) and its outcome
- `context.py`         `WorkerRunContext`: the RunContext of a task on a worker
- `worker.py`          the RQ worker that runs qtqueue tasks
- `control.py`         the control channel: pause/resume a running task, suspend a worker
- `holding.py`         a waiting task held off its queue (paused, awaiting approval)
- `dependents.py`      the dependents of a task that failed or was cancelled, as locally
- `questions.py`       `ctx.ask` on a worker: questions kept in Redis, answers waited for
- `placement.py`       resource-aware placement: needs and targets, workers' room, held tasks
- `placer.py`          the placer (in every worker, under a lock): held tasks -> per-worker queues
- `reads.py`           listing and reading tasks, workers and the queue from RQ's registries
- `stats_read.py`      the statistics, from a listing
- `manage.py`          cancel, retry, remove, dead letters
- `ordering.py`        move, re-prioritise and edit a task waiting in its queue
- `events.py`          what changed, published on a Redis channel (`qtqueue:events`)
- `event_feed.py`      that channel followed as the local API's event stream
- `backend.py`         the actions of the command line, the window and the HTTP API on a cluster
- `port_actions.py`    the window's reads on a cluster, and what a cluster refuses
- `question_actions.py` questions, answers and approval as actions
- `workers_source.py`  the window's Workers view over the cluster (`ClusterWorkersSource`)
- `http_engine.py`     the HTTP API's engine over a cluster (`qtqueue run --redis URL --http`)

Importing this package registers the cluster's error codes (`errors.toml`) in the catalog.
"""

from __future__ import annotations

import logging
from importlib import resources

from qtqueue.core.errors import CATALOG

logger = logging.getLogger(__name__)

#: The catalog owner of the cluster's error codes.
ERRORS_OWNER = "cluster"

CATALOG.register_file(ERRORS_OWNER, resources.files(__name__) / "errors.toml")
