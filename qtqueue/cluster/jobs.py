"""Submitting: a qtqueue task becomes one RQ job on the queue its priority names.

The task is prepared as the local engine prepares it (`engine.adding.prepare`: its executor's
params model, its fields, its queue's defaults filled in), so a task the window or the command
line would accept locally means the same here, and one it would refuse is refused with the
same code. The job is `JOB_FUNCTION` called with the prepared task's JSON (`Task.to_dict`):
no secrets travel, since a task names its credentials (`keyring:NAME`) and the worker reads
them from its own machine's keyring. What RQ does with it, from the task's fields:

- `args`: `(payload,)`, the prepared task's fields that differ from a `Task`'s defaults
  (`task_payload`; `job_task` or `Task.from_dict` rebuilds the whole task): about a third of
  `Task.to_dict`'s JSON, so each job costs Redis less memory and each work horse less parsing.
- `job_id`: the task's id; `description`: its name; `meta`: its type and name.
- `job_timeout`: the task's timeout (or its queue's) plus `TIMEOUT_MARGIN_S`: the job function
  enforces the task's own limit (SYSTEM_TIMEOUT, as locally); RQ's kill is the backstop.
  No timeout: -1 (none).
- `retry`: `Retry(max_retries, intervals)` from the task's retry count and backoff (an
  explicit list as given, a base as base·2^n seconds, at most an hour; RQ adds no jitter).
  An executor that is not retry-safe gets none, as locally.
- `on_failure`: `job.on_failure`, which records QUEUE_TASK_INTERRUPTED for a job RQ found
  abandoned (its worker died with it), retried or not.
- `result_ttl`, `failure_ttl`: its queue's (failed jobs stay in the failed registry, the
  dead-letter queue, 7 days).
- `depends_on`: `Dependency(jobs, allow_failure)` from `depends_on` and
  `allow_dependency_failure`; `ttl` from `expires_at`/`ttl_s` (RQ drops a job not started by
  then); `run_at` through `enqueue_at` (a worker's scheduler moves it to its queue on time).

A task with needs or a target worker/label (`resources`) is not enqueued: its job is created
in no queue and held for the placer (`placement.py`, `placer.py`); one with dependencies or a
start time goes to the placement intake queue, where RQ delivers it when it is due and a
worker hands it to the placer.

A task file (`import_tasks`) is checked whole, as locally (all or none), and its tasks that go
straight to their queue are enqueued in one Redis transaction.

Jobs are stored with RQ's JSON serializer, not pickle: whoever can write a job into Redis must
not be able to run code on every worker by it.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import math
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from redis import Redis
from rq import Callback, Queue, Retry
from rq.job import Dependency, Job, JobStatus
from rq.serializers import JSONSerializer

from qtqueue.cluster import holding, placement
from qtqueue.cluster.connection import NOT_SUPPORTED
from qtqueue.cluster.events import publish
from qtqueue.cluster.queues import DRAIN_ORDER, queue_named
from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.core.task import Permission, Task
from qtqueue.engine import adding, named_queues
from qtqueue.engine.resources import Needs, ResourceAccountant
from qtqueue.engine.retry import MAX_BACKOFF_S
from qtqueue.engine.task_definitions import entry_error, read_import
from qtqueue.executors import ExecutorRegistry

logger = logging.getLogger(__name__)

#: The one job function every qtqueue job calls (imported by name on the worker).
JOB_FUNCTION = "qtqueue.cluster.job.run_task"
#: RQ's failure callback of every qtqueue job (an abandoned job's QUEUE_TASK_INTERRUPTED).
FAILURE_CALLBACK = "qtqueue.cluster.job.on_failure"
#: Seconds RQ waits past a task's own timeout before it kills the job itself.
TIMEOUT_MARGIN_S = 30
#: RQ's serializer for qtqueue's jobs (both sides must use it).
SERIALIZER = JSONSerializer


def rq_queue(connection: Redis, name: str) -> Queue:
    """The RQ queue `name` as qtqueue's jobs use it (JSON serializer)."""
    return Queue(name, connection=connection, serializer=SERIALIZER)


def _unsupported(task: Task) -> list[str]:
    out = []
    if task.permission == Permission.HUMAN_REQUIRED and (task.depends_on or task.run_at):
        out.append("approval (permission human_required) with depends_on or run_at")
    if task.permission == Permission.HUMAN_REQUIRED and placement.ask_of(task.resources).placed:
        out.append("approval (permission human_required) with resources or a target worker")
    if task.notify_webhook:
        out.append("notify_webhook")
    return out


def prepare(task: Task, registry: ExecutorRegistry, now: float | None = None) -> Task:
    """The task as the local engine would store it (validated, defaults filled in), for a
    cluster. QueueError: whatever the local engine refuses it for, and CLUSTER_NOT_SUPPORTED
    for what a cluster does not do yet (approval, a notify webhook, a queue other than the
    three). Needs are not checked against this machine: the workers' room decides
    (`placement.py`)."""
    placement.ask_of(task.resources)  # a bad target or need is refused first
    missing = _unsupported(task)
    if missing:
        raise QueueError(
            NOT_SUPPORTED,
            "a cluster does not do this yet: " + "; ".join(missing),
            unsupported=missing,
        )
    if task.queue is not None:
        queue_named(task.queue)
    queues = {name: named_queues.defaults(name) for name in DRAIN_ORDER}
    given = task.resources  # the target keys are the cluster's; the needs are the workers'
    task.resources, _, _ = placement.split_target(given)
    try:
        prepared = adding.prepare(
            task, time.time() if now is None else now, registry, queues, _AnyMachine()
        )
    finally:
        task.resources = given
    prepared.resources = dict(given)
    return prepared


class _AnyMachine(ResourceAccountant):
    """Needs are checked against the workers' published room (`placement.py`), not this
    machine's: the machine that submits a task does not run it."""

    def check_possible(self, needs: Needs) -> None:
        """Nothing: a task no live worker can take waits with the reason."""


#: Default factories whose value is the same for every task (an id or a time is not).
_CONSTANT_FACTORIES: tuple[Any, ...] = (list, dict, set, tuple)


@functools.cache
def _field_defaults() -> dict[str, Any]:
    """Each `Task` field's default as `Task.to_dict` writes it, for the fields whose default is
    the same for every task (not the id, not the creation time)."""
    bare = Task("noop").to_dict()
    out: dict[str, Any] = {}
    for field in dataclasses.fields(Task):
        if field.name == "task_type":
            continue
        if field.default is not dataclasses.MISSING or (
            field.default_factory in _CONSTANT_FACTORIES
        ):
            out[field.name] = bare[field.name]
    return out


def task_payload(task: Task) -> dict[str, Any]:
    """The job's argument for `task`: its `to_dict` without the fields that hold their default
    (`Task.from_dict` fills them in again). Checked by rebuilding it: a task that would not come
    back the same is sent whole."""
    whole = task.to_dict()
    defaults = _field_defaults()
    payload = {k: v for k, v in whole.items() if k not in defaults or defaults[k] != v}
    if Task.from_dict(payload).to_dict() != whole:
        logger.warning(
            "task %s: its compact job argument would not rebuild it; sent whole", task.id
        )
        return whole
    return payload


def job_task(job: Job) -> Task:
    """The task a qtqueue job runs, whole (its argument holds only what differs from the
    defaults: see `task_payload`)."""
    return Task.from_dict(job.args[0])


def retry_intervals(task: Task) -> list[int]:
    """Seconds before each retry (RQ's `Retry.intervals`; the last one repeats)."""
    n = max(1, task.max_retries or 0)
    backoff = task.retry_backoff
    if isinstance(backoff, list):
        return [max(0, round(float(x))) for x in backoff] or [0]
    base = max(0.0, float(backoff))
    return [round(min(MAX_BACKOFF_S, base * 2**i)) for i in range(n)]


def job_options(task: Task, registry: ExecutorRegistry, now: float) -> dict[str, Any]:
    """The `Queue.enqueue_call` keywords for a prepared task (see the module's list)."""
    queue = queue_named(task.queue or "default")
    executor = registry.get(task.type_name)
    retry = None
    if task.max_retries and (executor is None or executor.retry_safe):
        retry = Retry(max=task.max_retries, interval=retry_intervals(task))
    timeout = -1 if not task.timeout_s else math.ceil(task.timeout_s) + TIMEOUT_MARGIN_S
    options: dict[str, Any] = {
        "job_id": task.id,
        "description": task.name,
        "meta": {
            "task_type": task.type_name,
            "name": task.name,
            "queue": queue.name,
            "max_retries": retry.max if retry is not None else 0,
        },
        "timeout": timeout,
        "result_ttl": round(queue.result_ttl_s),
        "failure_ttl": round(queue.failure_ttl_s),
        "retry": retry,
        "on_failure": Callback(FAILURE_CALLBACK),
    }
    if task.depends_on:
        options["depends_on"] = Dependency(
            jobs=list(task.depends_on), allow_failure=task.allow_dependency_failure
        )
    if task.expires_at is not None:
        options["ttl"] = max(1, math.ceil(task.expires_at - now))
    return options


def enqueue(connection: Redis, task: Task, registry: ExecutorRegistry) -> Job:
    """Prepare `task` (see `prepare`) and enqueue it as an RQ job on its queue; the job's id is
    the task's. QueueError: `prepare`'s, VALIDATION_INVALID_PARAMS for an id the cluster
    already has a job of, QUEUE_TASK_NOT_FOUND for a dependency it has no job of."""
    now = time.time()
    prepared = prepare(task, registry, now)
    if Job.exists(prepared.id, connection=connection):
        raise QueueError(
            TaskErrorCode.VALIDATION_INVALID_PARAMS,
            f"the cluster already has a job with id {prepared.id}; give the task another id",
            task_id=prepared.id,
        )
    missing = [d for d in prepared.depends_on if not Job.exists(d, connection=connection)]
    if missing:
        raise QueueError(
            TaskErrorCode.QUEUE_TASK_NOT_FOUND,
            f"depends_on: the cluster has no task {', '.join(missing)}",
            task_ids=missing,
        )
    return _submit(connection, prepared, registry, now)


def _submit(connection: Redis, prepared: Task, registry: ExecutorRegistry, now: float) -> Job:
    """A prepared, checked task as its job: held, placed, scheduled or queued."""
    queue = rq_queue(connection, prepared.queue or "default")
    options = job_options(prepared, registry, now)
    args = (task_payload(prepared),)
    if prepared.permission == Permission.HUMAN_REQUIRED:  # held until approved (holding.py)
        return holding.park(connection, queue.create_job(JOB_FUNCTION, args=args, **options))
    placed = placement.ask_of(prepared.resources).placed
    if placed and (prepared.depends_on or (prepared.run_at or 0) > now):
        queue = rq_queue(connection, placement.INTAKE_QUEUE)  # RQ delivers it there on time
    elif placed:  # held for the placer (placer.py)
        held = queue.create_job(JOB_FUNCTION, args=args, status=JobStatus.CREATED, **options)
        held.save()
        placement.hold(connection, held.id, placement.NOT_YET_CHECKED, score=now)
        publish(connection, "added", held.id)
        return held
    if prepared.run_at is not None and prepared.run_at > now:
        when = datetime.fromtimestamp(prepared.run_at, UTC)
        job: Job = queue.enqueue_at(when, JOB_FUNCTION, args=args, **_at_options(options))
    else:
        job = queue.enqueue_call(JOB_FUNCTION, args=args, **options)
    publish(connection, "added", job.id)
    return job


def _held(task: Task) -> bool:
    """Whether a prepared task waits outside its queue: for approval, a placement, its
    dependencies or its start time."""
    return bool(
        task.permission == Permission.HUMAN_REQUIRED
        or placement.ask_of(task.resources).placed
        or task.depends_on
        or task.run_at is not None
    )


def import_tasks(connection: Redis, path: Path, registry: ExecutorRegistry) -> list[str]:
    """Every task of the task file at `path` enqueued, all or none, their ids in the file's
    order: each entry checked as the local import checks it (`read_import`), then prepared as
    `enqueue` prepares a task (a refusal names the entry; nothing is added), then those that go
    straight to their queue enqueued in one Redis transaction, and those held (approval,
    placement) one by one after it."""
    now = time.time()
    prepared = []
    for index, task in enumerate(read_import(path, registry)):
        try:
            prepared.append(prepare(task, registry, now))
        except QueueError as exc:
            raise entry_error(index, task.name, exc.message, exc.code) from None
    with connection.pipeline() as pipe:
        for task in prepared:
            if not _held(task):
                queue = rq_queue(connection, task.queue or "default")
                options = job_options(task, registry, now)
                queue.enqueue_call(JOB_FUNCTION, args=(task_payload(task),), pipeline=pipe,
                                   **options)  # fmt: skip
                publish(pipe, "added", task.id)
        pipe.execute()
    for task in prepared:
        if _held(task):
            _submit(connection, task, registry, now)
    logger.info("%d task(s) imported from %s", len(prepared), path)
    return [task.id for task in prepared]


def _at_options(options: dict[str, Any]) -> dict[str, Any]:
    """`enqueue_call`'s keywords as `enqueue_at` takes them (its timeout is `job_timeout`)."""
    out = dict(options)
    out["job_timeout"] = out.pop("timeout")
    return out
