"""Jobs whose worker died with them, handed to RQ's own handling within seconds.

A worker SIGKILLed with its machine says nothing; its job stays "started" until its heartbeat
(RQ: the job monitoring interval plus 60 s) has expired *and* a live worker's maintenance runs,
which RQ does every 10 minutes (`DEFAULT_MAINTENANCE_TASK_INTERVAL`), or when a worker starts.
Meanwhile the window showed the task running on a dead machine for up to 11 minutes.

`sweep` runs in the placer's deep pass (one worker at a time, every `placer.SAFETY_PASS_S`):
for each queue whose started registry holds an expired job, it runs RQ's own clean-up of that
registry, under RQ's own per-queue maintenance lock, so it never races a worker's maintenance.
What happens to the job is RQ's (and `job.on_failure`'s): retried if it has retries left, else
failed with QUEUE_TASK_INTERRUPTED. Jobs whose heartbeat has not expired are not touched: a
slow worker is never taken for a dead one before RQ itself would.
"""

from __future__ import annotations

import logging
import time

from redis import Redis
from rq import Queue
from rq.registry import StartedJobRegistry
from rq.timeouts import TimerDeathPenalty

from qtqueue.cluster.jobs import SERIALIZER

logger = logging.getLogger(__name__)


def sweep(conn: Redis, now: float | None = None) -> int:
    """Hand every expired started job to RQ's clean-up now; how many there were."""
    now = time.time() if now is None else now
    found = 0
    for queue in Queue.all(connection=conn, serializer=SERIALIZER):
        # The failure callback's time limit: a timer, as this runs in the placer's thread
        # (RQ's default, SIGALRM, works only in a main thread).
        started = StartedJobRegistry(queue=queue, death_penalty_class=TimerDeathPenalty)
        expired = started.get_expired_job_ids(now)
        if not expired or not queue.acquire_maintenance_lock():
            continue
        try:
            logger.warning(
                "queue %s: %d task(s) whose worker stopped answering: %s",
                queue.name, len(expired), ", ".join(expired),
            )  # fmt: skip
            started.cleanup(timestamp=now)
            found += len(expired)
        finally:
            queue.release_maintenance_lock()  # type: ignore[no-untyped-call]
    return found
