"""Reading a cluster: a qtqueue `Task` snapshot from an RQ job, and the listings the command
line (and, next, the window's engine port over RQ) shows — the one place RQ's state becomes
qtqueue's.

**A task from a job** (`snapshot`): the prepared task the job was enqueued with (its only
argument, `Task.to_dict`), with what RQ and the worker know now laid over it:

| RQ job status                          | task status                                        |
|----------------------------------------|----------------------------------------------------|
| queued, deferred, scheduled, created…  | pending (a retry waiting for its backoff too)      |
| started                                | running, its phase (`meta["phase"]`), paused       |
| finished                               | completed                                          |
| failed                                 | failed; timeout when its error is SYSTEM_TIMEOUT   |
| stopped, canceled                      | cancelled                                          |

Progress, step, bytes, the command's pid and the attempt come from `job.meta`; the error's code,
message and details from `meta["error"]` (the catalog's description and fix follow the code, as
locally); created from the task, started and ended from the attempt's meta, else the job's.
`retry_count` is the runs before the one under way or last ended (`meta["attempt"] - 1`; a
retry waiting for its turn counts every run it had) plus the times a person retried it.

**Order**: a queued job's `seq` is its place in its queue's list as a number that needs no
read of the list (`queue_stamp`: its `enqueued_at` in microseconds), so the window's "#"
column (priority first, then `seq`) is the order RQ pops the list in, a move (`ordering.py`,
which gives the moved task its neighbours' priority) included.

**Dead letter**: RQ puts a job in its failed registry only once its retries are used up or
refused, so a failed (or timed-out) job is a dead letter when its task had retries
(`max_retries > 0`) and its error is not QUEUE_DEPENDENCY_FAILED — the local engine's rule
(`engine.lifecycle`); a task that had none just failed.

**Placement** (`placement.py`): a task held for the placer is a job in no queue (its id in
the placer's waiting set): it lists as pending, and `waiting` shows its target, needs,
attempts and the placer's last reason. A placed task is a job on its worker's own queue
(`qtqueue:worker:NAME`): those queues and their registries are read beside the three, and the
task still shows the queue it was added to. `workers` adds each worker's published room
(free CPU, memory, disk, GPU memory), its labels, and which one holds the placer's lock.

A job that is not a qtqueue task (another tool's job in the same Redis: another function, or
pickled data this JSON reader cannot open) is skipped, never an error.

**Listing** never scans Redis's keys: the job ids come from the three queues' lists and RQ's
registries of each (started, finished, failed — which holds stopped jobs too —, deferred,
scheduled, canceled), only those the status filter needs, read without RQ's cleanup (a read
changes nothing), and the jobs are fetched `FETCH_BATCH` at a time (`Job.fetch_many`, one
pipeline each). The other filters (category, tag, type) need the job's data, so a listing costs
one HGETALL per job in the registries it reads. At 100 workers and 100k jobs that is ~100k
HGETALLs for `ls`: paging would need an index of qtqueue's own in creation order (a sorted set
per status, written where the worker and `jobs.enqueue` change a job's status), read with
ZRANGE by page, since RQ's registries are ordered by expiry, not creation. `workers` reads each
worker's hash and its current execution (`Worker.all`: a few round trips per worker, and it
drops a dead worker's name from RQ's set, RQ's own tidying; at 100 workers one pipeline for
them all would be the next step). A listing's tasks carry no `result` (RQ keeps results in a
stream per job: one more read each); `ClusterReader.task` (get_task, show) reads it.
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import time
from collections.abc import Iterable, Iterator
from typing import Any, cast

from redis import Redis
from rq.job import Job, JobStatus
from rq.registry import (
    BaseRegistry,
    CanceledJobRegistry,
    DeferredJobRegistry,
    FailedJobRegistry,
    FinishedJobRegistry,
    ScheduledJobRegistry,
    StartedJobRegistry,
)
from rq.worker import Worker

from qtqueue.cluster.context import log_stream_key
from qtqueue.cluster.jobs import JOB_FUNCTION, SERIALIZER, rq_queue
from qtqueue.cluster.placement import (
    INTAKE_QUEUE,
    LOCK_KEY,
    NOT_YET_CHECKED,
    QUEUES_KEY,
    WAITING_KEY,
    WORKER_QUEUE_PREFIX,
    Room,
    job_ask,
    live_rooms,
    read_states,
    worker_queue_name,
)
from qtqueue.cluster.queues import DRAIN_ORDER
from qtqueue.cluster.stats_read import cluster_stats
from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.core.overview import HeldBy
from qtqueue.core.task import ACTIVE, INTERMEDIATE, TERMINAL, Task, TaskStatus
from qtqueue.engine.overview import needs_of
from qtqueue.engine.state import not_found

logger = logging.getLogger(__name__)

#: The origins of placed jobs (a worker's own queue, the intake): not the queue they show.
PLACEMENT_QUEUES = (WORKER_QUEUE_PREFIX, INTAKE_QUEUE)
#: Jobs fetched per pipeline.
FETCH_BATCH = 500
#: The shortest id prefix taken for a task id (as locally).
MIN_PREFIX_LEN = 4

_PENDING_SOURCES = ("queue", "held", DeferredJobRegistry, ScheduledJobRegistry)
#: Where the jobs of each task status are (the queue's list, or a registry class).
SOURCES: dict[TaskStatus, tuple[Any, ...]] = {
    TaskStatus.PENDING: _PENDING_SOURCES,
    **{s: (StartedJobRegistry,) for s in ACTIVE | {TaskStatus.PAUSED}},
    TaskStatus.PAUSED: (StartedJobRegistry, DeferredJobRegistry),  # a held waiting task too
    TaskStatus.COMPLETED: (FinishedJobRegistry,),
    TaskStatus.FAILED: (FailedJobRegistry,),
    TaskStatus.TIMEOUT: (FailedJobRegistry,),
    TaskStatus.CANCELLED: (FailedJobRegistry, CanceledJobRegistry),
}


_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
_US = datetime.timedelta(microseconds=1)


def _ts(value: datetime.datetime | None) -> float | None:
    return value.timestamp() if value is not None else None


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def is_task_job(job: Job) -> bool:
    """Whether `job` is a qtqueue task's (its function is `JOB_FUNCTION` and its data reads)."""
    try:
        return job.func_name == JOB_FUNCTION and bool(job.args) and isinstance(job.args[0], dict)
    except Exception:  # another tool's job: pickled, or data of its own
        return False


def task_status(job: Job) -> TaskStatus:
    """The task status of a job (see the module's table)."""
    rq = job.get_status(refresh=False)
    meta = job.meta
    if rq == JobStatus.STARTED:
        if meta.get("status") == TaskStatus.PAUSED.value:
            return TaskStatus.PAUSED
        phase = meta.get("phase")
        if phase in {s.value for s in INTERMEDIATE}:
            return TaskStatus(phase)
        return TaskStatus.RUNNING
    if rq == JobStatus.FINISHED:
        return TaskStatus.COMPLETED
    if rq == JobStatus.FAILED:
        error = meta.get("error")
        if isinstance(error, dict) and error.get("code") == TaskErrorCode.SYSTEM_TIMEOUT.value:
            return TaskStatus.TIMEOUT
        return TaskStatus.FAILED
    if rq in (JobStatus.STOPPED, JobStatus.CANCELED):
        return TaskStatus.CANCELLED
    if meta.get("held") == TaskStatus.PAUSED.value:  # holding.py: paused while it waited
        return TaskStatus.PAUSED
    return TaskStatus.PENDING


def snapshot(job: Job, result: dict[str, Any] | None = None) -> Task:
    """The qtqueue task of a qtqueue job as it is now (see the module's notes); `result`: its
    return value, when the caller read it (`job.return_value()`: one more read)."""
    task = Task.from_dict(job.args[0])
    meta = job.meta
    status = task_status(job)
    task.status = status
    task.progress = _number(meta.get("progress")) or 0.0
    if status == TaskStatus.COMPLETED:
        task.progress = 100.0
    task.current_step = str(meta.get("step") or "")
    task.done_bytes = meta.get("done_bytes")
    task.total_bytes = meta.get("total_bytes")
    ran = job.started_at is not None or "started_at" in meta
    task.started_at = _number(meta.get("started_at")) or _ts(job.started_at)
    attempt: int = meta["attempt"] if isinstance(meta.get("attempt"), int) else int(ran)
    runs_before = attempt if status == TaskStatus.PENDING else attempt - 1  # a retry waits
    task.retry_count = max(0, runs_before) + int(meta.get("user_retries") or 0)
    if status in TERMINAL:
        task.completed_at = _number(meta.get("ended_at")) or _ts(job.ended_at)
        if task.started_at is not None and task.completed_at is not None:
            task.duration_s = max(0.0, task.completed_at - task.started_at)
    elif status == TaskStatus.PENDING:
        task.started_at = None
    if status in ACTIVE or status == TaskStatus.PAUSED:
        task.pid = meta.get("pid") if isinstance(meta.get("pid"), int) else None
    error = meta.get("error")
    task.approved_at = _number(meta.get("approved_at")) or task.approved_at  # holding.py
    if status == TaskStatus.CANCELLED:  # as locally: the message, no code (but a rejection's)
        task.error = str(meta.get("message") or "cancelled by the user")
        if isinstance(error, dict) and error.get("code") == TaskErrorCode.QUEUE_REJECTED.value:
            task.error_code, task.error_details = error["code"], dict(error.get("details") or {})
        if job.get_status(refresh=False) == JobStatus.CANCELED:  # before this run started
            task.started_at = task.duration_s = None
    elif isinstance(error, dict) and status != TaskStatus.COMPLETED:
        task.error_code = str(error.get("code") or "") or None
        task.error = str(error.get("message") or "")
        task.error_details = dict(error.get("details") or {})
    task.dead_letter = (
        status in (TaskStatus.FAILED, TaskStatus.TIMEOUT)
        and (task.max_retries or 0) > 0
        and task.error_code != TaskErrorCode.QUEUE_DEPENDENCY_FAILED.value
    )
    task.result = result if status == TaskStatus.COMPLETED else None
    task.wait_reason = _wait_reason(job, task) if status == TaskStatus.PENDING else ""
    if not (job.origin or "").startswith(PLACEMENT_QUEUES):  # show where it was added
        task.queue = job.origin or task.queue
    if job.get_status(refresh=False) == JobStatus.QUEUED:  # its place in its queue's list
        task.seq = queue_stamp(job)
    return task


def task_ref(params: dict[str, Any]) -> str:
    """The `task_id` (an id or a prefix) an action names; VALIDATION_INVALID_PARAMS if none."""
    ref = params.get("task_id")
    if not isinstance(ref, str) or not ref:
        raise QueueError(
            TaskErrorCode.VALIDATION_INVALID_PARAMS, "task_id: give a task id", field="task_id"
        )
    return ref


def queue_stamp(job: Job) -> int:
    """A queued job's place in its queue as a number: its `enqueued_at` in microseconds (RQ
    sets it as it pushes the job to the list's end; a move sets it between its new
    neighbours', `ordering.py`), so the window orders waiting tasks as RQ pops them."""
    at = job.enqueued_at
    if at is None:
        return 0
    if at.tzinfo is None:
        at = at.replace(tzinfo=datetime.UTC)
    return (at - _EPOCH) // _US


def _wait_reason(job: Job, task: Task) -> str:
    rq = job.get_status(refresh=False)
    if job.meta.get("held") == "approval":  # holding.py
        return "awaiting approval"
    if rq == JobStatus.DEFERRED:
        return f"waits for {', '.join(task.depends_on) or 'its dependencies'}"
    if task.error_code and task.retry_count:
        return f"retry {task.retry_count}/{task.max_retries or 0} after {task.error_code}"
    if rq == JobStatus.SCHEDULED and task.run_at is not None:
        when = datetime.datetime.fromtimestamp(task.run_at).isoformat(timespec="seconds")
        return f"starts at {when}"
    return ""


class ClusterReader:
    """Reads the cluster's tasks, logs, workers and waiting jobs over one Redis connection."""

    def __init__(self, connection: Redis) -> None:
        self.redis = connection

    # ------------------------------------------------------------------ jobs

    def _registry(self, cls: type[BaseRegistry], queue: str) -> BaseRegistry:
        return cls(queue, connection=self.redis, serializer=SERIALIZER)

    def job_ids(self, statuses: Iterable[TaskStatus] | None = None) -> list[str]:
        """The ids of the jobs in the queues and registries that hold `statuses` (all: None),
        each once, the three queues in drain order."""
        wanted = list(SOURCES) if statuses is None else list(statuses)
        sources: list[Any] = []
        for status in wanted:
            sources += [s for s in SOURCES.get(status, ()) if s not in sources]
        ids: dict[str, None] = {}
        if "held" in sources:
            ids.update(dict.fromkeys(self.held_ids()))
        for name in self.queue_names():
            for source in sources:
                if source == "held":
                    continue
                if source == "queue":
                    found = rq_queue(self.redis, name).get_job_ids()
                else:
                    found = self._registry(source, name).get_job_ids(cleanup=False)
                ids.update(dict.fromkeys(found))
        return list(ids)

    def held_ids(self) -> list[str]:
        """The ids of the tasks held for the placer, first held first."""
        return [i.decode() for i in cast(list[bytes], self.redis.zrange(WAITING_KEY, 0, -1))]

    def queue_names(self) -> list[str]:
        """The three queues in drain order, the placement intake queue, then the workers' own
        queues the placer used."""
        own = sorted(n.decode() for n in cast(set[bytes], self.redis.smembers(QUEUES_KEY)))
        return [*DRAIN_ORDER, INTAKE_QUEUE, *(worker_queue_name(n) for n in own)]

    def jobs(self, ids: Iterable[str]) -> Iterator[Job]:
        """The qtqueue jobs of `ids` that exist (fetched `FETCH_BATCH` at a time)."""
        batch: list[str] = []
        for job_id in ids:
            batch.append(job_id)
            if len(batch) >= FETCH_BATCH:
                yield from self._fetch(batch)
                batch = []
        if batch:
            yield from self._fetch(batch)

    def _fetch(self, ids: list[str]) -> Iterator[Job]:
        for job in Job.fetch_many(ids, connection=self.redis, serializer=SERIALIZER):
            if job is not None and is_task_job(job):
                yield job

    def tasks(
        self,
        statuses: Iterable[TaskStatus] | None = None,
        *,
        category: str | None = None,
        tag: str | None = None,
        task_type: str | None = None,
        dead_letter: bool | None = None,
    ) -> list[Task]:
        """The tasks matching the filters, oldest first (by when they were added)."""
        wanted = set(statuses) if statuses is not None else None
        out = []
        ids = self.job_ids(wanted)
        placing = self._placing(ids)
        for job in self.jobs(ids):
            task = snapshot(job)
            if wanted is not None and task.status not in wanted:
                continue
            if task.status == TaskStatus.PENDING and job.id in placing:
                task.wait_reason = placing[job.id]
            if category is not None and task.category != category:
                continue
            if tag is not None and tag not in task.tags:
                continue
            if task_type is not None and task.type_name != task_type:
                continue
            if dead_letter is not None and task.dead_letter != dead_letter:
                continue
            out.append(task)
        out.sort(key=lambda t: (t.created_at, t.id))
        return out

    def resolve(self, ref: str) -> str:
        """The job id for a task id or a unique prefix of `MIN_PREFIX_LEN`+ characters (looked
        for among the ids in the queues and registries); QUEUE_TASK_NOT_FOUND, or
        VALIDATION_INVALID_PARAMS for a prefix that names several."""
        if Job.exists(ref, connection=self.redis):
            return ref
        if len(ref) < MIN_PREFIX_LEN:
            raise not_found(ref)
        found = [i for i in self.job_ids() if i.startswith(ref)]
        if not found:
            raise not_found(ref)
        if len(found) > 1:
            raise QueueError(
                TaskErrorCode.VALIDATION_INVALID_PARAMS,
                f"{ref!r} is the start of {len(found)} task ids; give more of the id",
                task_id=ref,
            )
        return found[0]

    def job(self, ref: str) -> Job:
        """The qtqueue job of a task id or prefix; QUEUE_TASK_NOT_FOUND when there is none
        (or it is another tool's job)."""
        job_id = self.resolve(ref)
        fetched = Job.fetch_many([job_id], connection=self.redis, serializer=SERIALIZER)[0]
        if fetched is None:
            raise not_found(ref)
        if not is_task_job(fetched):
            raise QueueError(
                TaskErrorCode.QUEUE_TASK_NOT_FOUND,
                f"{job_id} is another tool's RQ job in this Redis, not a qtqueue task",
                task_id=job_id,
            )
        return fetched

    def task(self, ref: str, with_result: bool = True) -> Task:
        """The task of a task id or prefix, with its result when it completed."""
        job = self.job(ref)
        result = None
        if with_result and job.get_status(refresh=False) == JobStatus.FINISHED:
            value = job.return_value()
            result = value if isinstance(value, dict) or value is None else {"value": value}
        task = snapshot(job, result)
        if task.status == TaskStatus.PENDING:
            task.wait_reason = self._placing([job.id]).get(job.id) or task.wait_reason
        return task

    def _placing(self, ids: list[str]) -> dict[str, str]:
        """The placer's last reason for each of `ids` it holds or placed (one HMGET), as
        the task's wait reason ("worker-1 offline", "Insufficient CPU: …", "placed on w1")."""
        return {i: str(s.get("reason") or "") for i, s in read_states(self.redis, ids).items()}

    # ------------------------------------------------------------------ logs

    def log_entries(self, task_id: str, after: str = "-") -> list[tuple[str, str]]:
        """(stream id, line) of a task's log lines after the stream id `after` ("-": all)."""
        start = "-" if after == "-" else f"({after}"
        entries = cast(list[Any], self.redis.xrange(log_stream_key(task_id), start, "+"))
        return [(_text(eid), _text(fields.get(b"line", b""))) for eid, fields in entries]

    def read_log(self, task_id: str, tail_bytes: int | None = None) -> str:
        """A task's log as text (its last `tail_bytes`, cut at a character)."""
        text = "".join(line + "\n" for _, line in self.log_entries(task_id))
        if tail_bytes is not None:
            data = text.encode()
            text = data[max(0, len(data) - tail_bytes) :].decode("utf-8", "ignore")
        return text

    def wait_log(self, task_id: str, after: str, block_ms: int) -> list[tuple[str, str]]:
        """The lines after `after`, waiting up to `block_ms` for one (XREAD BLOCK)."""
        start = "0-0" if after == "-" else after
        got = cast(list[Any], self.redis.xread({log_stream_key(task_id): start}, block=block_ms))
        return [(_text(eid), _text(f.get(b"line", b""))) for _, rows in got for eid, f in rows]

    # ------------------------------------------------------------------ workers, waiting

    def workers(self) -> dict[str, Any]:
        """The cluster's live RQ workers in the shape of the local `workers` action:
        `{total, idle, busy, suspended, slots: [...]}`, one slot per worker (by name), each
        `{slot, state, task_id, task_name}` as locally plus what RQ knows of it: `worker`
        (its name), `host`, `pid`, `queues`, `successful_jobs`, `failed_jobs`,
        `working_time_s`, `started_at`, `last_heartbeat`. What does not apply: a local slot
        is one of the engine's `max_concurrent`; here each worker runs one job at a time, so
        a worker is a slot and `total` is the number of live workers. `state`: RQ's busy is
        busy, its suspended is suspended, anything else (idle, started) idle. Placement
        adds `free` ({cpu_cores, memory_gb, disk_gb, gpu_memory_gb}: its last published
        room, None when it published none), `total_cpu_cores`, `total_memory_gb`, `labels`,
        and `placer` (whether it holds the placer's lock)."""
        found = sorted(
            Worker.all(connection=self.redis, serializer=SERIALIZER), key=lambda w: w.name
        )
        rooms = live_rooms(self.redis)
        lock = cast(bytes | None, self.redis.get(LOCK_KEY))
        placer = lock.decode().rsplit(":", 2)[0] if lock else None
        current = {w.name: w.get_current_job_id() for w in found}
        names = {
            job.id: job.description or job.id for job in self.jobs(i for i in current.values() if i)
        }
        slots = []
        for n, worker in enumerate(found, 1):
            state = worker.get_state()
            job_id = current[worker.name]
            own = worker_queue_name(worker.name)  # placement's queues: not listed
            slots.append(
                {
                    "slot": n,
                    "state": state if state in ("busy", "suspended") else "idle",
                    "task_id": job_id,
                    "task_name": names.get(job_id) if job_id else None,
                    "worker": worker.name,
                    "host": worker.hostname,
                    "pid": worker.pid,
                    "queues": [q.name for q in worker.queues if q.name not in (own, INTAKE_QUEUE)],
                    "successful_jobs": worker.successful_job_count,
                    "failed_jobs": worker.failed_job_count,
                    "working_time_s": worker.total_working_time,
                    "started_at": _ts(worker.birth_date),
                    "last_heartbeat": _ts(worker.last_heartbeat),
                    **_room_fields(rooms.get(worker.name)),
                    "placer": worker.name == placer,
                }
            )
        counts = {
            s: sum(1 for x in slots if x["state"] == s) for s in ("idle", "busy", "suspended")
        }
        return {"total": len(slots), **counts, "slots": slots}

    def waiting(self, now: float | None = None) -> list[dict[str, Any]]:
        """Every pending task in the shape of the local `waiting` action, cluster-wide, in
        the order workers take them: each queue's jobs in drain order (high_priority,
        default, low_priority), then the scheduled (by start time), then those waiting for a
        dependency. Each row: `{id, name, task_type, priority, needs, waiting_s, target,
        attempts, last_reason, first_failed_at, last_checked_at, held_by}` plus `queue`,
        `worker`, `label` (its target). Tasks held for the placer come after the queues
        (`held_by` "resources", `target` where it may run, `attempts` the placer's checks,
        `last_reason` its last reason, the check times); a placed task's `target` is its
        worker. What differs:
        RQ makes no start checks, so `attempts` counts the runs the task already had (a
        retry waiting), the check times are None, and `target` is the queue it waits in;
        the reason is its place in that queue, a queue no live worker takes from, its start
        time or retry, or its dependencies."""
        now = time.time() if now is None else now
        workers = Worker.all(connection=self.redis, serializer=SERIALIZER)
        drained = {q.name for w in workers for q in w.queues}
        rows: list[dict[str, Any]] = []
        for name in self.queue_names():
            ids = rq_queue(self.redis, name).get_job_ids()
            if name == INTAKE_QUEUE:
                continue  # for an instant: a worker hands them to the placer
            worker = name[len(WORKER_QUEUE_PREFIX) :] if name not in DRAIN_ORDER else ""
            where = f"{worker}'s own queue" if worker else name
            for place, job in enumerate(self.jobs(ids)):
                ahead = f"{place} ahead of it in {where}" if place else f"next in {where}"
                if name not in drained:
                    ahead += f"; no live worker takes from {where}"
                row = self._row(job, now, HeldBy.WORKERS.value, ahead)
                if worker:
                    row.update(target=worker, last_reason=f"placed on {worker}; {ahead}")
                rows.append(row)
        held_ids = self.held_ids()
        states = read_states(self.redis, held_ids)
        for job in self.jobs(held_ids):
            if task_status(job) != TaskStatus.PENDING:  # cancelled: the placer drops it soon
                continue
            state = states.get(job.id, {})
            row = self._row(job, now, HeldBy.RESOURCES.value, "")
            row.update(
                target=job_ask(job.args).target_words(),
                attempts=int(state.get("attempts") or 0),
                last_reason=str(state.get("reason") or NOT_YET_CHECKED),
                first_failed_at=state.get("first_checked_at"),
                last_checked_at=state.get("last_checked_at"),
            )
            rows.append(row)
        later = ((ScheduledJobRegistry, HeldBy.SCHEDULE), (DeferredJobRegistry, HeldBy.DEPENDENCY))
        for cls, held in later:
            for name in (*DRAIN_ORDER, INTAKE_QUEUE):
                registry = self._registry(cls, name)
                for job in self.jobs(registry.get_job_ids(cleanup=False)):
                    if job.meta.get("held") == TaskStatus.PAUSED.value:  # holding.py: paused
                        continue
                    kind = HeldBy.APPROVAL if job.meta.get("held") == "approval" else held
                    due = ""
                    if isinstance(registry, ScheduledJobRegistry) and job.meta.get("attempt"):
                        with contextlib.suppress(Exception):  # a retry moved to its queue meanwhile
                            at = registry.get_scheduled_time(job).astimezone()
                            due = f"due at {at.isoformat(timespec='seconds')}"
                    rows.append(self._row(job, now, kind.value, due))
        return rows

    def stats(self, now: float | None = None) -> dict[str, Any]:
        """The local `stats` action's figures, computed from every task the registries hold
        (one listing: see the module's notes on its cost). What differs: `max_concurrent_tasks`
        is the number of live workers (each runs one job at a time), `queue_paused` says the
        whole cluster is paused (`pause_state.is_paused`), the mean duration is over the
        completed jobs RQ still keeps (24 h / 12 h), and recent activity counts tasks added,
        and ended, in the window (RQ keeps no transitions: a task retried counts once, by how
        it ended last)."""
        return cluster_stats(self.tasks(), self.redis, now)

    def _row(self, job: Job, now: float, held_by: str, reason: str) -> dict[str, Any]:
        task = snapshot(job)
        attempt = job.meta.get("attempt")
        ask = job_ask(job.args)
        return {
            "id": task.id,
            "name": task.name,
            "task_type": task.type_name,
            "priority": task.priority.name.lower(),
            "needs": needs_of(task),
            "waiting_s": max(0.0, now - task.created_at),
            "target": ask.target_words()
            if (job.origin or "").startswith(PLACEMENT_QUEUES)
            else job.origin,
            "attempts": attempt if isinstance(attempt, int) else 0,
            "last_reason": "; ".join(r for r in (task.wait_reason, reason) if r) or held_by,
            "first_failed_at": None,
            "last_checked_at": None,
            "held_by": held_by,
            "queue": task.queue,
            "worker": ask.worker or None,
            "label": ask.label or None,
        }


def _room_fields(room: Room | None) -> dict[str, Any]:
    """A worker's published room as `workers` shows it (None: it published none)."""
    return {
        "free": room.free() if room is not None else None,
        "total_cpu_cores": room.total_cpu_cores if room is not None else None,
        "total_memory_gb": room.total_memory_gb if room is not None else None,
        "labels": list(room.labels) if room is not None else [],
    }


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value
