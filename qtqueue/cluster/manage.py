"""A person's actions on one task of a cluster: cancel, retry, remove — RQ's own operations,
refused as locally where the task's status does not allow them (`core.actions.applies`:
QUEUE_INVALID_STATE, QUEUE_TASK_ALREADY_RUNNING).

- cancel (then its dependents settle: `dependents.after_cancel`), a waiting task (queued,
  scheduled, deferred): RQ's `Job.cancel` — it leaves its queue
  or registry for the canceled registry and never runs; a running one: RQ's stop-job command to
  the worker running it, whose `QtqueueWorker.kill_horse` takes the task's whole process tree
  (`worker.py`), then records "cancelled by the user". The reply is the task once the worker
  has done so, waited for up to `STOP_WAIT_S`: a task whose worker died without RQ noticing yet
  is still "running" then (the command line says "now running"), until a live worker finds it
  abandoned (`abandoned.sweep`) and RQ moves it to the failed registry. Known limit: a job a
  worker takes in the instant between the status check and `Job.cancel` runs on (RQ's cancel of
  a waiting job does not stop it).
- retry, a failed, timed-out or cancelled task: requeued from RQ's failed registry (the
  dead-letter queue; stopped jobs are there too) or its canceled registry, with its retries
  given back (RQ's `retries_left` as enqueued) and the count of a person's retries in
  `meta["user_retries"]`; the dependents that failed because of it wait for it again
  (`dependents.revive`).
- remove, a finished task: the job, its results and its log stream are deleted.
- the dead letters (`dead_letters`: those of RQ's failed registry whose task had retries, see
  `reads.py`) are requeued by `retry` and purged by `remove`.
"""

from __future__ import annotations

import contextlib
import logging
import time
from typing import Any

from rq.command import send_stop_job_command
from rq.exceptions import InvalidJobOperation
from rq.job import Job, JobStatus
from rq.registry import CanceledJobRegistry, FailedJobRegistry

from qtqueue.cluster import dependents
from qtqueue.cluster.context import LogStream, log_stream_key
from qtqueue.cluster.events import publish
from qtqueue.cluster.jobs import SERIALIZER
from qtqueue.cluster.reads import ClusterReader, snapshot, task_status
from qtqueue.core.actions import TaskAction, applies
from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.core.task import Task
from qtqueue.engine.named_queues import DEFAULT_FAILURE_TTL_S
from qtqueue.engine.state import invalid_state

logger = logging.getLogger(__name__)

#: How long `cancel` waits for a running task's worker to stop it.
STOP_WAIT_S = 10.0
_POLL_S = 0.05


def _check(job: Job, action: TaskAction) -> Task:
    task = snapshot(job)
    if not applies(action, task):
        raise invalid_state(task, action.value)
    return task


def _note(job: Job, line: str) -> None:
    log = LogStream(job.connection, job.id, round(DEFAULT_FAILURE_TTL_S))
    log.write(f"[qtqueue] {line}\n".encode())


def cancel(reader: ClusterReader, ref: str) -> Task:
    """Cancel a waiting or running task (see the module's notes); the task after."""
    job = reader.job(ref)
    _check(job, TaskAction.CANCEL)
    if job.get_status(refresh=False) != JobStatus.STARTED:
        with contextlib.suppress(InvalidJobOperation):  # canceled meanwhile
            job.cancel()
        job.meta.update(status="cancelled", message="cancelled by the user", ended_at=time.time())
        job.save_meta()  # type: ignore[no-untyped-call]
        _note(job, "cancelled: cancelled by the user (before it started)")
        dependents.after_cancel(reader.redis, job.id)
        publish(reader.redis, "ended", job.id)
        return snapshot(reader.job(job.id))
    with contextlib.suppress(InvalidJobOperation):  # it ended meanwhile: the reply shows how
        send_stop_job_command(reader.redis, job.id, serializer=SERIALIZER)
    deadline = time.monotonic() + STOP_WAIT_S
    while True:
        job = reader.job(job.id)
        if job.get_status(refresh=False) != JobStatus.STARTED or time.monotonic() > deadline:
            dependents.after_cancel(reader.redis, job.id)
            return snapshot(job)
        time.sleep(_POLL_S)  # the worker stops it in its own process: no event to wait on


def retry(reader: ClusterReader, ref: str) -> Task:
    """Queue a failed, timed-out or cancelled task again (see the module's notes)."""
    job = reader.job(ref)
    _check(job, TaskAction.RETRY)
    status = job.get_status(refresh=False)
    cls = CanceledJobRegistry if status == JobStatus.CANCELED else FailedJobRegistry
    budget = job.meta.get("max_retries")
    job.retries_left = budget if isinstance(budget, int) and budget > 0 else None
    job.meta.update(
        status="pending",
        phase="pending",
        error=None,
        progress=0.0,
        step="",
        user_retries=int(job.meta.get("user_retries") or 0) + 1,
    )
    job.meta.pop("attempt", None)
    job.meta.pop("started_at", None)
    job.meta.pop("ended_at", None)
    cls(job.origin, connection=reader.redis, serializer=SERIALIZER).requeue(job)
    _note(job, "queued again by the user")
    dependents.revive(reader.redis, job.id)
    publish(reader.redis, "added", job.id)
    task = snapshot(reader.job(job.id))
    logger.info("task %s queued again (%s)", job.id, task_status(job).value)
    return task


def remove(reader: ClusterReader, ref: str) -> dict[str, Any]:
    """Delete a finished task's job, results and log: `{"task_id", "removed": True}`."""
    job = reader.job(ref)
    _check(job, TaskAction.REMOVE)
    job.delete()
    reader.redis.delete(log_stream_key(job.id))
    publish(reader.redis, "removed", job.id)
    return {"task_id": job.id, "removed": True}


def dead_letters(reader: ClusterReader, ids: list[str] | None, action: str) -> list[Task]:
    """The dead letters `ids` name (every one: None) for `action` ("requeue", "purge");
    QUEUE_INVALID_STATE, before anything is done, for one that is not a dead letter (as
    locally)."""
    if not ids:
        return reader.tasks(dead_letter=True)
    chosen = [reader.task(ref, with_result=False) for ref in dict.fromkeys(ids)]
    for task in chosen:
        if not task.dead_letter:
            raise QueueError(
                TaskErrorCode.QUEUE_INVALID_STATE,
                f"cannot {action} task {task.id} as a dead letter: it is {task.status.value} "
                "and not dead-lettered",
                task_id=task.id,
                action=action,
            )
    return chosen
