"""The job function every qtqueue job calls on a worker: run one attempt of one task.

`run_task(task_json)` rebuilds the task, finds its executor in the worker's registry (the same
family executors as the local engine: `configure` sets it before the worker forks, so each
job's work horse inherits it loaded) and runs it with a `WorkerRunContext` under the task's
own timeout. The outcome:

- success: the executor's result dict is the job's result (RQ keeps it `result_ttl`);
- failure: the same `QueueError` as locally (a known failure keeps its code; anything else is
  classified by `classify_exception`; running past the timeout is SYSTEM_TIMEOUT), with the
  catalog's description and fix, in `job.meta["error"]` (`QueueError.to_dict`), and raised,
  so RQ records the failure and retries it as the task's `Retry` says. A failure no retry can
  fix (the catalog's `final` codes, a code `no_retry_on` names or `retry_on` leaves out) ends
  the retries at once, as `engine.retry.wants_retry` decides locally.

A job whose worker died with it (the machine, or the worker and its work horse killed: no one
saw the horse end) stays "started" until its heartbeat has expired (RQ: the job monitoring
interval plus 60 s) and a live worker hands it to RQ's clean-up (`abandoned.sweep`, within
`placer.SAFETY_PASS_S`; RQ's own maintenance would wait up to 10 minutes); RQ then retries it
if it has retries left, else moves it to the failed registry, and calls the job's failure
callback, `on_failure`, which says so in the task's terms: QUEUE_TASK_INTERRUPTED in
`job.meta["error"]` and a line in its log, so a retried attempt is never a silent second run.

Secrets the attempt read from the keyring are masked in the result, the error and its
traceback (the error is raised anew, without its chain).

Each job is one fork of the worker (RQ's forking `Worker`: a job can be stopped or killed, a
crash stays in its process), so what a work horse costs is paid per task; see bench/cluster.py.
Before its first fork a worker calls `ready_to_fork` (a horse's new Redis connection skips
CLIENT SETINFO and redis-py's read of its own package metadata), and in a `QtqueueWorker`'s
horse the end of a successful attempt is written in RQ's own success transaction
(`save_end_meta`), not by a round trip of its own.
"""

from __future__ import annotations

import asyncio
import functools
import importlib.util
import logging
import os
import tempfile
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, NoReturn, TypeVar, cast

from redis import Redis
from rq import get_current_job
from rq.exceptions import AbandonedJobError
from rq.job import Job

from qtqueue.cluster import dependents
from qtqueue.cluster.context import LogStream, MetaReporter, WorkerRunContext
from qtqueue.cluster.control import listening
from qtqueue.cluster.events import publish
from qtqueue.cluster.queues import QUEUES
from qtqueue.core.errors import QueueError, TaskErrorCode, classify_exception
from qtqueue.core.task import Task
from qtqueue.engine.logs import redact
from qtqueue.engine.retry import wants_retry
from qtqueue.executors import ExecutorRegistry, default_registry
from qtqueue.executors.base import Executor

logger = logging.getLogger(__name__)

T = TypeVar("T")
#: The warm-up's own task type (never registered anywhere else) and how many runs it makes.
WARM_UP_TYPE = "qtqueue_cluster_warm_up"
WARM_UP_RUNS = 40

_registry: ExecutorRegistry | None = None
_data_dir: Path | None = None
#: The event loop `configure` made before the forks, and the process that made it.
_loop: asyncio.AbstractEventLoop | None = None
_loop_pid = 0
#: In a `QtqueueWorker`'s work horse (`end_meta_with_result`): the job whose successful end is
#: saved by `save_end_meta` in RQ's success transaction.
_with_result = False
_pending_end: Job | None = None


def configure(registry: ExecutorRegistry, data_dir: Path) -> None:
    """The registry and the data directory (processes see it as $QTQUEUE_DATA_DIR) that jobs
    of this process use; a worker sets them once, before it forks its work horses. It also
    makes the event loop each work horse runs its attempt on (its own copy, never run in the
    worker itself): a loop made in the horse cost ~1 ms of its ~10 ms per job; and warms the
    job function's path up (`_warm_up`)."""
    global _registry, _data_dir, _loop, _loop_pid
    _registry, _data_dir = registry, data_dir
    if _loop is None or _loop_pid != os.getpid():
        _warm_up(data_dir)
        _loop, _loop_pid = asyncio.new_event_loop(), os.getpid()


def run_coroutine(coro: Coroutine[Any, Any, T]) -> T:
    """Run `coro` to its end as `asyncio.run` does. In a work horse, on its copy of the loop
    `configure` made before the fork (unused until now; the horse ends after this job), which
    skips making a loop (~0.6 ms of copied pages) and closing it; what the attempt left behind
    (tasks, async generators, the default executor's threads) is still ended. Anywhere else (no
    loop configured, or the process that made it: a `SimpleWorker`, a test), `asyncio.run`."""
    loop = _loop
    if loop is None or _loop_pid == os.getpid() or loop.is_closed() or loop.is_running():
        return asyncio.run(coro)
    return _run_on(loop, coro)


def _run_on(loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, T]) -> T:
    asyncio.set_event_loop(loop)
    try:
        return loop.run_until_complete(coro)
    finally:
        _end_leftovers(loop)


def _end_leftovers(loop: asyncio.AbstractEventLoop) -> None:
    """What `asyncio.run` ends after its coroutine: tasks still pending (cancelled and awaited),
    async generators, the default executor; each looked for first, so a job that left none
    pays nothing for it."""
    pending = asyncio.all_tasks(loop)
    for task in pending:
        task.cancel()
    if pending:
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    if getattr(loop, "_asyncgens", True):
        loop.run_until_complete(loop.shutdown_asyncgens())
    if getattr(loop, "_default_executor", True) is not None:
        loop.run_until_complete(loop.shutdown_default_executor())


def _configured() -> tuple[ExecutorRegistry, Path]:
    global _registry, _data_dir
    if _registry is None:
        _registry = default_registry()
    if _data_dir is None:
        _data_dir = Path(tempfile.mkdtemp(prefix="qtqueue-worker-"))
    return _registry, _data_dir


def _executor(registry: ExecutorRegistry, task: Task) -> Executor:
    executor = registry.get(task.type_name)
    if executor is None:
        known = ", ".join(e.name for e in registry)
        raise QueueError(
            TaskErrorCode.QUEUE_UNKNOWN_TASK_TYPE,
            f"this worker has no executor for task type {task.type_name!r} (it has: {known}); "
            "install the plug-in that provides it on every worker",
            task_type=task.type_name,
        )
    unavailable = registry.unavailable_error(task.type_name)
    if unavailable is not None:
        raise unavailable
    return executor


async def _attempt(executor: Executor, ctx: WorkerRunContext) -> dict[str, Any] | None:
    limit = ctx.task.timeout_s
    if not limit:
        with listening(ctx, None):  # pause and resume (control.py)
            return await executor.run(ctx)
    scope = asyncio.timeout(limit)
    try:
        async with scope:
            with listening(ctx, scope):
                return await executor.run(ctx)
    except TimeoutError:
        if not scope.expired():
            raise  # the work's own TimeoutError (a network call): classified as any other
    raise QueueError(
        TaskErrorCode.SYSTEM_TIMEOUT,
        f"timed out after {limit:g} s of running time",
        timeout_s=limit,
    )


def _as_error(exc: Exception) -> QueueError:
    if isinstance(exc, QueueError):
        return exc
    return QueueError(classify_exception(exc), f"{type(exc).__name__}: {exc}")


def attempt_number(job: Job) -> int:
    """Which attempt of its task a job's run is (1 the first): from the retries RQ has left
    of those the task was enqueued with (`meta["max_retries"]`), with no write at start."""
    budget = job.meta.get("max_retries")
    if not isinstance(budget, int) or job.retries_left is None:
        return 1
    return max(1, budget - job.retries_left + 1)


def run_task(task_json: dict[str, Any]) -> dict[str, Any] | None:
    """Run one attempt of the task `task_json` (`Task.to_dict`) inside the current RQ job;
    see the module's notes for the outcome."""
    job = get_current_job()
    if job is None:
        raise RuntimeError("run_task runs inside an RQ job (a qtqueue worker calls it)")
    registry, data_dir = _configured()
    return _run(job, task_json, registry, data_dir, run_coroutine)


def _run(
    job: Job,
    task_json: dict[str, Any],
    registry: ExecutorRegistry,
    data_dir: Path,
    runner: Callable[[Coroutine[Any, Any, Any]], Any],
) -> dict[str, Any] | None:
    global _pending_end
    task = Task.from_dict(task_json)
    queue = QUEUES.get(task.queue or "default") or QUEUES["default"]
    log = LogStream(job.connection, task.id, round(queue.failure_ttl_s))
    meta = MetaReporter(job)
    attempt = attempt_number(job)
    meta.update(  # saved with the first progress after META_INTERVAL_S, or at the end
        status="running",
        phase="running",
        attempt=attempt,
        worker=os.environ.get("RQ_WORKER_ID", ""),
        started_at=time.time(),
        progress=0.0,
        step="",
        error=None,
    )
    publish(job.connection, "started", task.id)
    if attempt > 1:
        log.write(f"[qtqueue] attempt {attempt}\n".encode())
    try:
        executor = _executor(registry, task)
        result = runner(_attempt(executor, WorkerRunContext(task, executor, meta, log, data_dir)))
    except Exception as exc:
        _fail(job, task, meta, log, _as_error(exc))
    if result is not None and not isinstance(result, dict):
        result = {"value": result}
    clean: dict[str, Any] | None = redact(result, log.secrets)
    end = {"status": "completed", "phase": "completed", "ended_at": time.time()}
    if _with_result and isinstance(job, Job):
        job.meta.update(end)  # saved with RQ's result: `save_end_meta`
        _pending_end = job
    else:
        meta.update(now=True, **end)
    log.flush()
    return clean


def end_meta_with_result() -> None:
    """In a `QtqueueWorker`'s work horse: a successful attempt's end (its meta: "completed",
    with what the attempt reported since its last save) is written by `save_end_meta` in RQ's
    own success transaction, atomically with the job's "finished" status and result, instead
    of a round trip before it."""
    global _with_result
    _with_result = True


def save_end_meta(job: Job, pipeline: Any) -> None:
    """Add the job's meta to RQ's success transaction `pipeline` (the worker's
    `cleanup_execution`, in the horse) if this horse ran its successful attempt; else nothing."""
    if _pending_end is not None and _pending_end.id == job.id:
        pipeline.hset(job.key, "meta", job.serializer.dumps(_pending_end.meta))


def ready_to_fork(connection: Redis) -> None:
    """Once in a worker, before it forks its first work horse. Each horse opens a Redis
    connection of its own (a socket is never shared across a fork), on which redis-py names
    itself (CLIENT SETINFO: two round trips) with its version, which it reads from the
    installed package's metadata on disk for every new connection: ~1.5 ms and ~280 pages
    touched in every horse, for a label in CLIENT LIST on a connection that lives one job.
    From now on this client's new connections skip it (the worker's own, already open, keeps
    its label)."""
    kwargs = connection.connection_pool.connection_kwargs
    if {"driver_info", "lib_name", "lib_version"} & kwargs.keys():
        return  # named as its maker wished
    if importlib.util.find_spec("redis.driver_info") is not None:
        kwargs["driver_info"] = None  # redis-py 7: none of it
    else:
        kwargs["lib_name"] = kwargs["lib_version"] = None  # redis-py 5 and 6: no SETINFO


class _WarmUpJob:
    """What `_run` uses of a job, for the warm-up: a meta that is never saved, no retries."""

    def __init__(self) -> None:
        self.meta: dict[str, Any] = {}
        self.retries_left: int | None = None
        self.connection: Any = None  # a log line would need it: the warm-up writes none
        self.id = "warm-up"

    def save_meta(self) -> None:
        self.meta.clear()


async def _nothing(task_id: str, params: dict[str, Any]) -> None:
    """The warm-up's task: nothing."""


def _warm_up(data_dir: Path) -> None:
    """Run the job function's own path `WARM_UP_RUNS` times in the worker, before any fork: a
    task rebuilt, its context, meta and log set up, a no-op attempt under its timeout on a loop
    of its own (as a horse runs it), the result masked. Python 3.11 rewrites a function's
    bytecode in place while it warms up, so in a fresh horse each code object run for the
    first time had its page copied; warmed here, they stay shared (~0.3 ms a job)."""
    registry = ExecutorRegistry()
    registry.register_handler(WARM_UP_TYPE, _nothing)
    sample = Task(WARM_UP_TYPE).to_dict()
    job = cast(Job, _WarmUpJob())
    loop = asyncio.new_event_loop()
    try:
        for _ in range(WARM_UP_RUNS):
            _run(job, sample, registry, data_dir, functools.partial(_run_on, loop))
    except Exception:  # a worker without the warm-up is slower, not broken
        logger.warning("the job function's warm-up failed; jobs run unwarmed", exc_info=True)
    finally:
        asyncio.set_event_loop(None)
        loop.close()


def on_failure(job: Job, connection: Any, exc_type: Any, exc: Any, tb: Any) -> None:
    """RQ's failure callback of every qtqueue job (`jobs.job_options`). For a job RQ found
    abandoned (see the module's notes): QUEUE_TASK_INTERRUPTED in its meta ("retrying" when RQ
    retries it, else "failed") and a log line. Any other failure the job recorded itself.
    A failure RQ will not retry settles the task's dependents (`dependents.after_failure`)."""
    dependents.after_failure(job, connection)
    if not (isinstance(exc_type, type) and issubclass(exc_type, AbandonedJobError)):
        return
    worker = job.worker_name or job.get_meta(refresh=True).get("worker") or "?"
    error = QueueError(
        TaskErrorCode.QUEUE_TASK_INTERRUPTED,
        f"the worker running it ({worker}) stopped answering mid-task (its process or its "
        "machine died)",
        worker=worker,
    )
    status = "retrying" if job.retries_left else "failed"
    meta = job.get_meta(refresh=True)
    meta.update(status=status, phase=status, ended_at=time.time(), error=error.to_dict())
    job.save_meta()  # type: ignore[no-untyped-call]
    queue = QUEUES.get(str(meta.get("queue"))) or QUEUES["default"]
    log = LogStream(job.connection, job.id, round(queue.failure_ttl_s))
    log.write(f"[qtqueue] {status}: {error.code.value}: {error.message}\n".encode())
    log.flush()
    logger.warning("job %s: abandoned by worker %s (%s)", job.id, worker, status)


def _fail(job: Job, task: Task, meta: MetaReporter, log: LogStream, err: QueueError) -> NoReturn:
    """Record the failure (meta, log) and raise it for RQ, without its chain."""
    secrets = log.secrets
    message = redact(err.message, secrets)
    details = redact(err.details, secrets)
    clean = QueueError(err.code.value, message, **details)
    log.write(f"[qtqueue] failed: {clean.code.value}: {message}\n".encode())
    log.flush()
    retry = job.retries_left is not None and job.retries_left > 0
    if retry and not wants_retry(clean.code.value, task.retry_on, task.no_retry_on):
        job.retries_left = 0  # RQ reads it after the job function: no retry can fix this
        retry = False
    meta.update(
        now=True,
        status="retrying" if retry else "failed",
        phase="failed",
        ended_at=time.time(),
        error=clean.to_dict(),
    )
    raise clean from None
