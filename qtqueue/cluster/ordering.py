"""A waiting task on a cluster moved, given another priority or edited: `move_task`,
`set_priority` and `update_task`, with the local engine's params and replies (`{"task": …}`
as changed), so the command line's `move` and the window's Move, Priority and Edit work on a
cluster as they do locally.

A waiting task on a cluster is an RQ job id in a Redis list (the queue its priority names,
`queues.py`), and any worker may pop the list's head at any moment. So every change is one
Lua script (`_SCRIPT`), which no worker's pop can interleave with: it checks the job is still
queued and in its list (and unchanged since it was read), and only then rewrites the job and
takes it out of its list and puts it back in its new place, all at once. A job a worker took
meanwhile is left untouched: QUEUE_TASK_NOT_WAITING ("it started meanwhile"). The job is
never out of a list between two steps, so nothing can lose it; every check comes before the
first write, so a refused change writes nothing.

- `move_task` (top, up, down, bottom, before=ID): within its queue's list, as RQ pops it.
  As locally, the moved task takes the priority of the task it now stands before (or after,
  at the bottom), so its priority says where it stands.
- `set_priority`: the job goes to the end of the queue the new priority names (as `add` would
  put it there; a queue the task named itself stays), its task's `priority` changed too.
- `update_task`: the fields given merged over the task's (as `api.order_actions.update_task`
  does locally), checked as a new task is (`jobs.prepare`, the cluster's submit path), then
  saved in the job (its argument, name, timeouts, retries, time to live) where it waits; a
  new priority moves it as `set_priority` does. Dependencies and approval cannot change (as
  locally); a start time in the future or needs for the placer are refused
  (CLUSTER_NOT_SUPPORTED: cancel it and add the edited task).

Only a job queued in one of the three queues moves or is edited this way. A task waiting
for its dependencies or its start time, or held for the placer (needs, a target worker), is
in no queue's list yet, and RQ or the placer may write its job at any moment: all three
actions refuse it with CLUSTER_NOT_SUPPORTED and the fix (cancel it and add it again, or
wait until it is queued); a paused, running or ended task is QUEUE_TASK_NOT_WAITING, as
locally.

**The order the window shows** (`reads.snapshot`): a queued job's `seq` is its `enqueued_at`
in microseconds, which RQ sets when it pushes the job to its list's end, so the list's order
is the jobs' own order with no read at all. A move sets the moved job's `enqueued_at` between
its new neighbours' (the head's minus 1 µs at the top), so only the moved task changes and
one event (`changed`, `events.py`) shows the new order in every window.
"""

from __future__ import annotations

import datetime
import logging
import time
import zlib
from dataclasses import dataclass, field
from typing import Any, cast

from redis import Redis
from rq.job import Job, JobStatus
from rq.utils import utcformat

from qtqueue.cluster.connection import NOT_SUPPORTED
from qtqueue.cluster.events import publish
from qtqueue.cluster.jobs import (
    JOB_FUNCTION,
    SERIALIZER,
    job_options,
    job_task,
    prepare,
    rq_queue,
    task_payload,
)
from qtqueue.cluster.placement import ask_of
from qtqueue.cluster.queues import DRAIN_ORDER
from qtqueue.cluster.reads import ClusterReader, queue_stamp, snapshot, task_ref
from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.core.queue_moves import MovePlace
from qtqueue.core.task import Task, TaskStatus
from qtqueue.engine import named_queues
from qtqueue.engine.editing import EDITABLE, check_links_kept
from qtqueue.engine.ordering import not_waiting, parse_place, parse_priority
from qtqueue.executors import ExecutorRegistry

logger = logging.getLogger(__name__)

#: How often a change is tried again when its job or its neighbours changed between the read
#: and the script (another window moved them, a worker popped the head).
TRIES = 5
#: The task's current fields an edit starts from (those the body names replace them).
MERGED = (*EDITABLE, "depends_on", "permission", "allow_dependency_failure")
#: The job's fields an edit rewrites (from a job built as `jobs.enqueue` builds it).
JOB_FIELDS = (
    "data", "description", "origin", "timeout", "result_ttl", "failure_ttl", "retries_left",
    "retry_intervals", "meta",
)  # fmt: skip
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
_US = datetime.timedelta(microseconds=1)

# KEYS: 1 the list it waits in, 2 the list it goes to, 3 the job's hash, 4 RQ's set of queues.
# ARGV: 1 job id, 2 its enqueued_at and 3 its data as read, 4 mode (keep, head, tail, before),
# 5 the job it goes before, 6 the job that must stand just before that one ('' none),
# 7 expire (0 keep, -1 persist, n seconds), 8 how many fields to delete, then their names,
# then field/value pairs to set. Returns 1 done, 0 not queued (taken), -1 no such pivot in the
# list, -2 the job changed since it was read, -3 the pivot's neighbour changed.
_SCRIPT = """
local id = ARGV[1]
if redis.call('HGET', KEYS[3], 'status') ~= 'queued' then return 0 end
if not redis.call('LPOS', KEYS[1], id) then return 0 end
if (redis.call('HGET', KEYS[3], 'enqueued_at') or '') ~= ARGV[2]
    or (redis.call('HGET', KEYS[3], 'data') or '') ~= ARGV[3] then return -2 end
local mode = ARGV[4]
if mode == 'before' then
  local at = redis.call('LPOS', KEYS[2], ARGV[5])
  if not at then return -1 end
  local k = at - 1
  if k >= 0 and redis.call('LINDEX', KEYS[2], k) == id then k = k - 1 end
  local pred = ''
  if k >= 0 then pred = redis.call('LINDEX', KEYS[2], k) end
  if pred ~= ARGV[6] then return -3 end
end
local ndel = tonumber(ARGV[8])
for n = 1, ndel do redis.call('HDEL', KEYS[3], ARGV[8 + n]) end
local first = 9 + ndel
if #ARGV >= first then redis.call('HSET', KEYS[3], unpack(ARGV, first)) end
local expire = tonumber(ARGV[7])
if expire > 0 then redis.call('EXPIRE', KEYS[3], expire)
elseif expire < 0 then redis.call('PERSIST', KEYS[3]) end
if mode ~= 'keep' then
  redis.call('LREM', KEYS[1], 1, id)
  if mode == 'head' then redis.call('LPUSH', KEYS[2], id)
  elseif mode == 'tail' then redis.call('RPUSH', KEYS[2], id)
  else redis.call('LINSERT', KEYS[2], 'BEFORE', ARGV[5], id) end
  redis.call('SADD', KEYS[4], KEYS[2])
end
return 1
"""


def _stamp_text(stamp: int) -> str:
    return utcformat(_EPOCH + stamp * _US)


def _now_stamp() -> int:
    return (datetime.datetime.now(datetime.UTC) - _EPOCH) // _US


@dataclass
class _Plan:
    """One change of one queued job, as the script makes it."""

    job: Job
    task: Task
    dst: str  # the queue it ends in
    mode: str = "keep"
    pivot: str = ""
    pred: str = ""
    fields: dict[str, Any] = field(default_factory=dict)
    delete: list[str] = field(default_factory=list)
    expire: int = 0


class ClusterOrder:
    """The three actions over one Redis connection (`ClusterBackend` makes one per call)."""

    def __init__(self, conn: Redis, registry: ExecutorRegistry) -> None:
        self.conn = conn
        self.reader = ClusterReader(conn)
        self.registry = registry
        self._script = conn.register_script(_SCRIPT)

    # ------------------------------------------------------------------ the actions

    def move_task(self, params: dict[str, Any]) -> dict[str, Any]:
        """`move_task` {task_id, place, before?}: `{"task"}` as moved (see the notes)."""
        place = parse_place(str(params.get("place")))
        if place == MovePlace.BEFORE and not params.get("before"):
            raise QueueError(
                TaskErrorCode.VALIDATION_MISSING_REQUIRED,
                "moving a task before another needs the other task's id",
                field="before",
            )
        job_id = self.reader.resolve(task_ref(params))
        before = self.reader.resolve(str(params["before"])) if params.get("before") else None
        return self._apply(job_id, "move", lambda job: self._move_plan(job, place, before))

    def set_priority(self, params: dict[str, Any]) -> dict[str, Any]:
        """`set_priority` {task_id, priority}: `{"task"}` as changed (see the notes)."""
        if "priority" not in params:
            raise QueueError(
                TaskErrorCode.VALIDATION_MISSING_REQUIRED, "give a priority", field="priority"
            )
        value = parse_priority(params["priority"])
        job_id = self.reader.resolve(task_ref(params))
        return self._apply(
            job_id,
            "change the priority of",
            lambda job: self._edit_plan(job, {"priority": int(value)}),
        )

    def update_task(self, params: dict[str, Any]) -> dict[str, Any]:
        """`update_task` {task_id, task, updated_at?}: `{"task"}` as saved (see the notes)."""
        job_id = self.reader.resolve(task_ref(params))
        fields = params.get("task")
        if not isinstance(fields, dict):
            raise QueueError(
                TaskErrorCode.VALIDATION_INVALID_PARAMS,
                "task: give the fields to change as an object",
                field="task",
            )
        if fields.get("id", job_id) != job_id:
            raise QueueError(
                TaskErrorCode.VALIDATION_INVALID_PARAMS,
                f"task.id {fields['id']!r} is not the edited task's id {job_id}: leave it out",
                fields=["task.id"],
            )
        since = params.get("updated_at")
        return self._apply(job_id, "edit", lambda job: self._edit_plan(job, fields, since))

    # ------------------------------------------------------------------ the safe change

    def _apply(self, job_id: str, action: str, plan_of: Any) -> dict[str, Any]:
        """Read the job, plan the change, run the script; again when something changed
        between the read and the script (up to `TRIES`)."""
        for _ in range(TRIES):
            # What the job is now, read before the job itself: the script changes nothing if
            # it is not the same then (the plan was made from what is read here).
            seen = cast(list[Any], self.conn.hmget(Job.key_for(job_id), ["enqueued_at", "data"]))
            job = self._queued(job_id, action)
            plan: _Plan | None = plan_of(job)
            if plan is None:  # where it already is: nothing to change
                return {"task": self.reader.task(job_id).to_dict()}
            done = self._run(plan, seen)
            if done == 1:
                publish(self.conn, "changed", job_id)
                logger.info("task %s: %s (%s, queue %s)", job_id, action, plan.mode, plan.dst)
                return {"task": self.reader.task(job_id).to_dict()}
            if done == 0:
                raise QueueError(
                    TaskErrorCode.QUEUE_TASK_NOT_WAITING,
                    f"cannot {action} task {job_id}: it started meanwhile (a worker took it "
                    "from its queue); nothing was changed",
                    task_id=job_id,
                    status=TaskStatus.RUNNING.value,
                    action=action,
                )
            if done == -1:
                self._pivot_gone(job, plan.pivot)
        raise QueueError(
            TaskErrorCode.QUEUE_TASK_CHANGED,
            f"task {job_id} or its neighbours kept changing while it was being changed "
            "(other windows, busy workers): try again",
            task_id=job_id,
        )

    def _run(self, plan: _Plan, raw: list[Any]) -> int:
        src = rq_queue(self.conn, str(plan.job.origin))
        dst = rq_queue(self.conn, plan.dst)
        args: list[Any] = [plan.job.id, raw[0] or b"", raw[1] or b"", plan.mode, plan.pivot,
                           plan.pred, plan.expire, len(plan.delete), *plan.delete]  # fmt: skip
        for key, value in plan.fields.items():
            args += [key, value]
        keys = [src.key, dst.key, plan.job.key, src.redis_queues_keys]
        return int(cast(int, self._script(keys=keys, args=args)))

    def _queued(self, job_id: str, action: str) -> Job:
        """The job of a task queued in one of the three queues; else the refusal (see the
        notes)."""
        job = self.reader.job(job_id)
        task = snapshot(job)
        if task.status != TaskStatus.PENDING:
            raise not_waiting(task, action)
        if job.get_status(refresh=False) != JobStatus.QUEUED or job.origin not in DRAIN_ORDER:
            why = task.wait_reason or "it waits for the placer, not in a queue"
            raise QueueError(
                NOT_SUPPORTED,
                f"cannot {action} task {job_id} on a cluster: {why}. Only a task waiting in "
                f"its queue ({', '.join(DRAIN_ORDER)}) is moved or edited: wait until it is "
                "queued, or cancel it and add it again as it should be",
                task_id=job_id,
                action=action,
            )
        return job

    def _pivot_gone(self, job: Job, pivot: str, final: bool = False) -> None:
        """The task to move before is not in the job's list: why, as locally (not `final`:
        nothing, when it may be there again at the next try)."""
        other = snapshot(self.reader.job(pivot))
        if other.status != TaskStatus.PENDING:
            raise not_waiting(other, "move a task before")
        if other.queue != job.origin:
            raise QueueError(
                TaskErrorCode.QUEUE_TASK_NOT_WAITING,
                f"task {pivot} waits in queue {other.queue!r}, not in {job.origin!r}: a task "
                "moves within its own queue",
                task_id=pivot,
                action="move a task before",
            )
        if final:
            raise QueueError(
                TaskErrorCode.QUEUE_TASK_NOT_WAITING,
                f"task {pivot} is not in queue {job.origin!r} yet "
                f"({other.wait_reason or 'held'}): a task moves before one waiting in its queue",
                task_id=pivot,
                action="move a task before",
            )

    # ------------------------------------------------------------------ plans

    def _ids(self, queue: str) -> list[str]:
        return rq_queue(self.conn, queue).get_job_ids()

    def _stamps(self, ids: list[str | None]) -> dict[str, Job]:
        wanted = [i for i in ids if i]
        found = Job.fetch_many(wanted, connection=self.conn, serializer=SERIALIZER)
        return {j.id: j for j in found if j is not None}

    def _move_plan(self, job: Job, place: MovePlace, before: str | None) -> _Plan | None:
        ids = self._ids(str(job.origin))
        if job.id not in ids:
            return _Plan(job, job_task(job), str(job.origin))  # popped: the script says so
        i = ids.index(job.id)
        others = ids[:i] + ids[i + 1 :]
        j = {MovePlace.TOP: 0, MovePlace.BOTTOM: len(others), MovePlace.UP: max(i - 1, 0),
             MovePlace.DOWN: min(i + 1, len(others))}.get(place, -1)  # fmt: skip
        if place == MovePlace.BEFORE:
            assert before is not None
            if before == job.id:
                return None
            if before not in others:
                self._pivot_gone(job, before, final=True)
            j = others.index(before)
        if j == i:
            return None
        after = others[j] if j < len(others) else None
        prev = others[j - 1] if j > 0 else None
        jobs = self._stamps([prev, after])
        neighbour = jobs.get(after or "") or jobs.get(prev or "")
        task = job_task(job)
        if neighbour is not None:
            task.priority = job_task(neighbour).priority  # as locally: its neighbours'
        task.updated_at = time.time()
        plan = _Plan(job, task, str(job.origin))
        low = queue_stamp(jobs[prev]) if prev in jobs else None
        high = queue_stamp(jobs[after]) if after in jobs else None
        if after is None:
            plan.mode, stamp = "tail", max(_now_stamp(), (low or 0) + 1)
        elif prev is None:
            plan.mode, stamp = "head", (high or _now_stamp()) - 1
        else:
            plan.mode, plan.pivot, plan.pred = "before", after, prev
            stamp = ((low or 0) + (high or 0)) // 2  # equal stamps: a tie in the window only
        plan.fields = {"enqueued_at": _stamp_text(stamp), "data": _data(task)}
        return plan

    def _edit_plan(self, job: Job, fields: dict[str, Any], since: object = None) -> _Plan | None:
        current = job_task(job)
        if isinstance(since, int | float) and since < current.updated_at - 1e-6:
            raise QueueError(
                TaskErrorCode.QUEUE_TASK_CHANGED,
                f"task {job.id} changed after this edit started from it (moved, given another "
                "priority or edited elsewhere): reopen the task and edit again",
                task_id=job.id,
                field="updated_at",
            )
        edited = self._edited(current, {k: v for k, v in fields.items() if k != "id"})
        if edited is None:
            return None
        now = time.time()
        edited.updated_at = now
        plan = _Plan(job, edited, edited.queue or named_queues.DEFAULT_QUEUE)
        built = self._built(job, edited, now)
        plan.fields = {k: built[k] for k in JOB_FIELDS if k in built}
        plan.delete = [k for k in JOB_FIELDS if k not in built]
        if edited.expires_at != current.expires_at:
            plan.expire = int(built.get("ttl") or -1)
            if "ttl" in built:
                plan.fields["ttl"] = built["ttl"]
            else:
                plan.delete.append("ttl")
        if edited.priority != current.priority or plan.dst != job.origin:
            tail = self._ids(plan.dst)[-1:]
            last = self._stamps([*tail]).get(tail[0]) if tail else None
            stamp = max(_now_stamp(), queue_stamp(last) + 1 if last is not None else 0)
            plan.mode = "tail"
            plan.fields["enqueued_at"] = _stamp_text(stamp)
        return plan

    def _edited(self, current: Task, fields: dict[str, Any]) -> Task | None:
        """The task with `fields` merged over it, checked as a new task is; None when nothing
        changes."""
        base = current.to_dict()
        merged = {k: v for k, v in base.items() if k in MERGED}
        if "ttl_s" in fields and "expires_at" not in fields:
            merged.pop("expires_at", None)  # a new time to live sets the expiry again
        try:
            candidate = Task.from_dict({**merged, **fields, "id": current.id})
        except (TypeError, ValueError) as exc:
            raise QueueError(TaskErrorCode.VALIDATION_INVALID_PARAMS, str(exc)) from None
        check_links_kept(candidate, current)
        if candidate.run_at is None:
            candidate.run_at = current.run_at
        if candidate.queue == current.queue == named_queues.queue_for_priority(current.priority):
            candidate.queue = None  # the old priority picked it: the new one picks again
        now = time.time()
        checked = prepare(candidate, self.registry, now)
        checked.created_at, checked.created_by = current.created_at, current.created_by
        if checked.run_at is not None and checked.run_at > now + 1:
            raise QueueError(
                NOT_SUPPORTED,
                "a start time in the future for a queued task on a cluster: cancel it and add "
                "the edited task (it waits for its start time then)",
                field="run_at",
            )
        if ask_of(checked.resources).placed:
            raise QueueError(
                NOT_SUPPORTED,
                "needs or a target worker for a queued task on a cluster (the placer takes "
                "only tasks added with them): cancel it and add the edited task",
                field="resources",
            )
        same = {**checked.to_dict(), "updated_at": 0} == {**current.to_dict(), "updated_at": 0}
        return None if same else checked

    def _built(self, job: Job, task: Task, now: float) -> dict[str, Any]:
        """The job's hash as `jobs.enqueue` would write it for `task`, with what the job
        already holds kept: its meta's other keys, the retries it already used."""
        options = job_options(task, self.registry, now)
        options.pop("depends_on", None)  # cannot change: RQ's dependency keys stay as they are
        meta = {**job.meta, **options.pop("meta")}
        queue = rq_queue(self.conn, task.queue or named_queues.DEFAULT_QUEUE)
        built = queue.create_job(
            JOB_FUNCTION, args=(task_payload(task),), meta=meta, status=JobStatus.QUEUED,
            **options,
        )  # fmt: skip
        built.origin = queue.name
        used = _used_retries(job)
        if built.retries_left is not None and used:
            built.retries_left = max(0, built.retries_left - used)
        return built.to_dict()


def _used_retries(job: Job) -> int:
    budget = job.meta.get("max_retries")
    if isinstance(budget, int) and job.retries_left is not None:
        return max(0, budget - job.retries_left)
    return 0


def _data(task: Task) -> bytes:
    """The job's `data` field for `task` (as RQ writes it: the call, serialized, compressed)."""
    call: tuple[str, None, list[dict[str, Any]], dict[str, Any]] = (
        JOB_FUNCTION, None, [task_payload(task)], {},
    )  # fmt: skip
    return zlib.compress(SERIALIZER.dumps(call))  # type: ignore[no-untyped-call]
