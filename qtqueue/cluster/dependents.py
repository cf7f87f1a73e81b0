"""The dependents of a task that ended without completing, on a cluster: as the local engine.

RQ leaves a job that depends on a failed, stopped or cancelled job in its deferred registry for
ever (its dependencies are never "met"), and enqueues one that allows a failure only when its
dependencies finished or *failed* (a stopped or cancelled one blocks it too). The local engine
instead (`engine.gates.dependencies`): a dependent that does not allow its dependency's failure
ends FAILED with QUEUE_DEPENDENCY_FAILED naming the dependency ("dependency ID failed", "… was
cancelled", "… timed out"), and in turn its own dependents; one that allows it
(`allow_dependency_failure`) runs once every dependency has ended, however.

`settle(conn, job, ended)` does that for the dependents of `job`, which ended `ended` (a task
status: failed, timeout, cancelled). It is called where a task ends for good without completing:
the job's failure callback (`job.on_failure`: a failure with no retry left, a dead letter, an
abandoned job), and `manage.cancel` (a waiting or a running task cancelled). Each dependent it
handles leaves the ended job's dependents set, so RQ's own `enqueue_dependents`, which runs after
the failure callback, never enqueues it a second time.

`hold(conn, id)` / `release(conn, id)`: pause and resume of a task that waits for its
dependencies (deferred) or its start time (scheduled), beside `holding.py`'s queued ones: it
leaves its dependencies' dependents sets, or the scheduled registry (its time kept), so nothing
of RQ's queues it while paused; resume registers it again — queued at once when its
dependencies have all ended as it needs, failed when one failed and it does not allow that,
scheduled again at its time (a time past: the scheduler queues it at once).

`revive(conn, job_id)`: the task `job_id` was queued again (`manage.retry`, a dead letter
requeued): the dependents that failed because of it (and theirs, in turn) wait for it again,
deferred, as locally (`DependencyGate.revive_dependents`).
"""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime
from typing import Any

from redis import Redis
from rq.job import Job, JobStatus
from rq.registry import DeferredJobRegistry, FailedJobRegistry, ScheduledJobRegistry

from qtqueue.cluster import holding
from qtqueue.cluster.context import LogStream
from qtqueue.cluster.jobs import SERIALIZER, rq_queue
from qtqueue.cluster.queues import DRAIN_ORDER
from qtqueue.cluster.reads import is_task_job, task_status
from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.core.task import TERMINAL, TaskStatus
from qtqueue.engine.gates.dependencies import dependency_failed
from qtqueue.engine.named_queues import DEFAULT_FAILURE_TTL_S

logger = logging.getLogger(__name__)

#: RQ statuses of a job that has ended for good.
_ENDED_RQ = {JobStatus.FINISHED, JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED}


def final_failure(job: Job) -> bool:
    """Whether a failed job is done with (RQ retries it no more)."""
    return not (job.retries_left is not None and job.retries_left > 0)


def ended_as(job: Job) -> TaskStatus:
    """How a job that failed ended, in task terms (timeout when its error is SYSTEM_TIMEOUT)."""
    error = job.meta.get("error")
    if isinstance(error, dict) and error.get("code") == TaskErrorCode.SYSTEM_TIMEOUT.value:
        return TaskStatus.TIMEOUT
    return TaskStatus.FAILED


def _all_ended(conn: Redis, dependent: Job, ended_id: str) -> bool:
    ids = [d for d in dependent._dependency_ids if d != ended_id]
    for dep in Job.fetch_many(ids, connection=conn, serializer=SERIALIZER):
        if dep is not None and dep.get_status(refresh=False) not in _ENDED_RQ:
            return False
    return True


def settle(conn: Redis, job: Job, ended: TaskStatus) -> list[str]:
    """Fail or enqueue the deferred dependents of `job`, which ended `ended` (see the module's
    notes), and, for each one failed, its own in turn. The ids of the dependents it ended or
    enqueued."""
    done: list[str] = []
    todo: list[tuple[str, TaskStatus]] = [(job.id, ended)]
    while todo:
        ended_id, how = todo.pop()
        key = Job.dependents_key_for(ended_id)
        ids = sorted(m.decode() for m in conn.smembers(key))  # type: ignore[union-attr]
        for dependent in Job.fetch_many(ids, connection=conn, serializer=SERIALIZER):
            if dependent is None or not is_task_job(dependent):
                continue
            if dependent.get_status(refresh=False) != JobStatus.DEFERRED:
                conn.srem(key, dependent.id)
                continue
            if dependent.allow_dependency_failures:
                if _all_ended(conn, dependent, ended_id):
                    _enqueue(conn, dependent)
                    conn.srem(key, dependent.id)
                    done.append(dependent.id)
                continue  # the last of its dependencies to end enqueues it
            _fail(conn, dependent, ended_id, how)
            conn.srem(key, dependent.id)
            done.append(dependent.id)
            todo.append((dependent.id, TaskStatus.FAILED))
    if done:
        logger.info("dependents of %s (%s): %s", job.id, ended.value, ", ".join(done))
    return done


def _enqueue(conn: Redis, dependent: Job) -> None:
    queue = rq_queue(conn, dependent.origin)
    with conn.pipeline() as pipe:
        DeferredJobRegistry(dependent.origin, connection=conn, serializer=SERIALIZER).remove(
            dependent, pipeline=pipe
        )
        queue._enqueue_job(dependent, pipeline=pipe)
        pipe.execute()
    _log(conn, dependent.id, "[qtqueue] its dependencies have ended: queued (it allows a failure)")


def _fail(conn: Redis, dependent: Job, dep_id: str, how: TaskStatus) -> None:
    verdict = dependency_failed(dep_id, how.value)
    error = QueueError(verdict.code, verdict.message, **verdict.details)
    now = time.time()
    dependent.meta.update(status="failed", phase="failed", ended_at=now, error=error.to_dict())
    ttl = dependent.failure_ttl if dependent.failure_ttl is not None else DEFAULT_FAILURE_TTL_S
    with conn.pipeline() as pipe:
        DeferredJobRegistry(dependent.origin, connection=conn, serializer=SERIALIZER).remove(
            dependent, pipeline=pipe
        )
        dependent.set_status(JobStatus.FAILED, pipeline=pipe)
        dependent.save_meta()  # type: ignore[no-untyped-call]
        FailedJobRegistry(dependent.origin, connection=conn, serializer=SERIALIZER).add(
            dependent, ttl=round(ttl), exc_string=error.message, pipeline=pipe
        )
        pipe.execute()
    _log(conn, dependent.id, f"[qtqueue] failed: {error.code.value}: {error.message}")


def _log(conn: Redis, task_id: str, line: str) -> None:
    log = LogStream(conn, task_id, round(DEFAULT_FAILURE_TTL_S))
    log.write((line + "\n").encode())


def _failed_by_culprit(conn: Redis) -> dict[str, list[Job]]:
    """The failed jobs whose error is QUEUE_DEPENDENCY_FAILED, by the dependency they name."""
    ids: list[str] = []
    for name in DRAIN_ORDER:
        registry = FailedJobRegistry(name, connection=conn, serializer=SERIALIZER)
        ids += registry.get_job_ids(cleanup=False)
    out: dict[str, list[Job]] = {}
    for job in Job.fetch_many(ids, connection=conn, serializer=SERIALIZER):
        error = job.meta.get("error") if job is not None else None
        if (
            job is not None
            and isinstance(error, dict)
            and error.get("code") == TaskErrorCode.QUEUE_DEPENDENCY_FAILED.value
        ):
            culprit = str((error.get("details") or {}).get("dependency_id"))
            out.setdefault(culprit, []).append(job)
    return out


def revive(conn: Redis, job_id: str) -> list[str]:
    """The task `job_id` was queued again: the tasks that failed because of it, and in turn
    those that failed because of them, wait for their dependencies again (deferred). Their
    ids."""
    by_culprit = _failed_by_culprit(conn)
    revived: list[str] = []
    todo = [job_id]
    while todo:
        for job in by_culprit.pop(todo.pop(), []):
            for name in ("error", "ended_at"):
                job.meta.pop(name, None)
            job.meta.update(status="pending", phase="pending")
            job.save_meta()  # type: ignore[no-untyped-call]
            with conn.pipeline() as pipe:
                FailedJobRegistry(job.origin, connection=conn, serializer=SERIALIZER).remove(
                    job, pipeline=pipe
                )
                job.set_status(JobStatus.DEFERRED, pipeline=pipe)
                job.register_dependency(pipeline=pipe)
                pipe.execute()
            _log(conn, job.id, "[qtqueue] its dependency was queued again: waits for it")
            revived.append(job.id)
            todo.append(job.id)
    if revived:
        logger.info("dependents of %s wait again: %s", job_id, ", ".join(revived))
    return revived


def after_failure(job: Job, connection: Any) -> None:
    """The failure callback's part (`job.on_failure`): a job RQ will not retry settles its
    dependents; one it retries keeps them waiting. Never raises (a failure callback that
    raised would replace the job's own error)."""
    try:
        if final_failure(job) and is_task_job(job):
            settle(connection, job, ended_as(job))
    except Exception:
        logger.exception("job %s: its dependents could not be settled", job.id)


def after_cancel(conn: Redis, job_id: str) -> None:
    """`manage.cancel`'s part: the cancelled task's dependents settle once it has ended."""
    job = Job.fetch(job_id, connection=conn, serializer=SERIALIZER)
    if task_status(job) in TERMINAL:
        settle(conn, job, TaskStatus.CANCELLED)


def hold(conn: Redis, task_id: str) -> Job | None:
    """Pause a task waiting for its dependencies or its start time (see the module's notes):
    its job after, or None when it waits for neither."""
    job = Job.fetch_many([task_id], connection=conn, serializer=SERIALIZER)[0]
    if job is None or not is_task_job(job) or job.meta.get("held"):
        return None
    status = job.get_status(refresh=False)
    place: dict[str, Any]
    if status == JobStatus.DEFERRED:
        for dep in job._dependency_ids:
            conn.srem(Job.dependents_key_for(dep), job.id)
        place = {"kind": "deferred"}
    elif status == JobStatus.SCHEDULED:
        scheduled = ScheduledJobRegistry(  # type: ignore[no-untyped-call]
            job.origin, connection=conn, serializer=SERIALIZER
        )
        place = {"kind": "scheduled", "at": scheduled.get_scheduled_time(job).timestamp()}
        with conn.pipeline() as pipe:
            scheduled.remove(job, pipeline=pipe)
            job.set_status(JobStatus.DEFERRED, pipeline=pipe)
            DeferredJobRegistry(job.origin, connection=conn, serializer=SERIALIZER).add(
                job, ttl=-1, pipeline=pipe
            )
            pipe.execute()
    else:
        return None
    conn.hset(holding.HELD_KEY, job.id, json.dumps({**place, "held_at": time.time()}))
    job.meta.update(held=holding.PAUSED, status="paused", phase="paused", paused_at=time.time())
    job.save_meta()  # type: ignore[no-untyped-call]
    logger.info("task %s held (paused) while %s", job.id, place["kind"])
    return job


def release(conn: Redis, task_id: str) -> Job | None:
    """Resume a task `hold` paused (see the module's notes): its job after, or None when it
    is not one."""
    place = holding.held(conn, task_id)
    job = Job.fetch_many([task_id], connection=conn, serializer=SERIALIZER)[0]
    if place is None or place.get("kind") not in ("deferred", "scheduled") or job is None:
        return None
    conn.hdel(holding.HELD_KEY, task_id)
    if (
        job.meta.get("held") != holding.PAUSED
        or job.get_status(refresh=False) != JobStatus.DEFERRED
    ):
        return None  # cancelled or removed while held
    for name in ("held", "paused_at"):
        job.meta.pop(name, None)
    job.meta.update(status="pending", phase="pending")
    job.save_meta()  # type: ignore[no-untyped-call]
    if place["kind"] == "scheduled":
        DeferredJobRegistry(job.origin, connection=conn, serializer=SERIALIZER).remove(job)
        when = datetime.fromtimestamp(float(place["at"]), UTC)
        rq_queue(conn, job.origin).schedule_job(job, when)
        return job
    job.register_dependency()
    _settle_one(conn, job)
    return job


def _settle_one(conn: Redis, job: Job) -> None:
    """A dependent registered again: queued if its dependencies have all ended as it needs,
    failed if one ended otherwise and it does not allow that; else it waits for them."""
    deps = Job.fetch_many(job._dependency_ids, connection=conn, serializer=SERIALIZER)
    statuses = [d.get_status(refresh=False) if d is not None else None for d in deps]
    if not job.allow_dependency_failures:
        for dep, status in zip(deps, statuses, strict=True):
            if dep is not None and status in _ENDED_RQ and status != JobStatus.FINISHED:
                how = TaskStatus.CANCELLED if status != JobStatus.FAILED else ended_as(dep)
                _fail(conn, job, dep.id, how)
                settle(conn, job, TaskStatus.FAILED)
                return
    if all(s in _ENDED_RQ or s is None for s in statuses):
        _enqueue(conn, job)
