"""Holding a waiting task on a cluster: pause and resume of a queued task (not yet started).

RQ has no "held" state: a queued job is an id in its queue's list, and any worker pops it. A
paused waiting task leaves that list, so no worker can take it, and waits in RQ's deferred
registry (never expiring, and in no job's dependents set, so nothing of RQ's enqueues it): a
listing still finds it, and it shows as paused (`reads.task_status` reads `meta["held"]`). Its
place is kept in the hash `HELD_KEY` (`{"queue", "index", "next"}`: how many jobs were ahead of
it and the id right behind it); resume puts it back in front of that job if it still waits, else
at that index (or last), as queued. Taking it off the list and putting it back are Lua scripts,
so a worker that pops it at the same moment either gets it (then the pause is a running task's:
`control.pause_task`) or never sees it.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from redis import Redis
from rq.job import Job, JobStatus
from rq.queue import Queue
from rq.registry import DeferredJobRegistry
from rq.serializers import JSONSerializer

logger = logging.getLogger(__name__)

#: Hash: a held task's id -> its place (JSON).
HELD_KEY = "qtqueue:held"
#: `meta["held"]` of a task paused while waiting, and of one awaiting approval.
PAUSED = "paused"
APPROVAL = "approval"
#: The serializer of qtqueue's jobs (`jobs.SERIALIZER`; `jobs.py` imports this module).
SERIALIZER = JSONSerializer


def rq_queue(conn: Redis, name: str) -> Queue:
    """The RQ queue `name` (as `jobs.rq_queue`)."""
    return Queue(name, connection=conn, serializer=SERIALIZER)


# KEYS: queue list, held hash. ARGV: job id, held_at. -> 1 held, 0 not in the list.
_HOLD = """
local index = redis.call('LPOS', KEYS[1], ARGV[1])
if not index then return 0 end
local after = redis.call('LINDEX', KEYS[1], index + 1)
redis.call('LREM', KEYS[1], 1, ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], cjson.encode({queue=KEYS[1], index=index,
  next=after or '', held_at=ARGV[2]}))
return 1
"""

# KEYS: queue list, held hash. ARGV: job id. -> the new index, or -1 when it was not held.
_RELEASE = """
local raw = redis.call('HGET', KEYS[2], ARGV[1])
if not raw then return -1 end
local place = cjson.decode(raw)
redis.call('HDEL', KEYS[2], ARGV[1])
if place['next'] ~= '' and redis.call('LPOS', KEYS[1], place['next']) then
  redis.call('LINSERT', KEYS[1], 'BEFORE', place['next'], ARGV[1])
  return redis.call('LPOS', KEYS[1], ARGV[1])
end
local len = redis.call('LLEN', KEYS[1])
if place['index'] >= len then
  redis.call('RPUSH', KEYS[1], ARGV[1])
  return len
end
redis.call('LINSERT', KEYS[1], 'BEFORE', redis.call('LINDEX', KEYS[1], place['index']), ARGV[1])
return place['index']
"""


def held(conn: Redis, task_id: str) -> dict[str, Any] | None:
    """Where a held task was (`{"queue", "index", "next", "held_at"}`), None if not held."""
    raw: Any = conn.hget(HELD_KEY, task_id)
    return json.loads(raw) if raw else None


def _fetch(conn: Redis, task_id: str) -> Job | None:
    return Job.fetch_many([task_id], connection=conn, serializer=SERIALIZER)[0]


def hold(conn: Redis, task_id: str, reason: str = PAUSED) -> Job | None:
    """Pause the queued task `task_id` where it waits: its job after, or None when it is not
    queued now (not there, started meanwhile, or in another state: the caller's pause of a
    running task, or its refusal, follows)."""
    job = _fetch(conn, task_id)
    if job is None or job.get_status(refresh=False) != JobStatus.QUEUED:
        return None
    queue = rq_queue(conn, job.origin)
    if not conn.eval(_HOLD, 2, queue.key, HELD_KEY, job.id, str(time.time())):
        return None  # a worker took it meanwhile
    job.meta.update(held=reason, status="paused", phase="paused", paused_at=time.time())
    job.save_meta()  # type: ignore[no-untyped-call]
    _defer(conn, job)
    logger.info("task %s held (%s) off queue %s", job.id, reason, job.origin)
    return job


def _defer(conn: Redis, job: Job) -> None:
    with conn.pipeline() as pipe:
        job.set_status(JobStatus.DEFERRED, pipeline=pipe)
        DeferredJobRegistry(job.origin, connection=conn, serializer=SERIALIZER).add(
            job, ttl=-1, pipeline=pipe
        )
        pipe.execute()


def park(conn: Redis, job: Job) -> Job:
    """Hold a job that was just created and never queued (a task awaiting approval: `jobs.
    enqueue` creates it so, and no worker ever saw it): deferred, its place the end of its
    queue."""
    job.meta["held"] = APPROVAL
    job.save()
    place = {"queue": rq_queue(conn, job.origin).key, "index": 1 << 30, "next": ""}
    conn.hset(HELD_KEY, job.id, json.dumps({**place, "held_at": str(time.time())}))
    _defer(conn, job)
    return job


def release(conn: Redis, task_id: str, reason: str = PAUSED, **meta: Any) -> Job | None:
    """Put a task held for `reason` back on its queue at its place, queued, with `meta` set:
    its job after, or None when it is not held so (a running task's resume follows)."""
    job, place = _fetch(conn, task_id), held(conn, task_id)
    if job is None or place is None or place.get("kind"):  # kind: dependents.release's
        return None
    if job.get_status(refresh=False) != JobStatus.DEFERRED or not job.meta.get("held"):
        conn.hdel(HELD_KEY, task_id)  # cancelled or removed while held: nothing to put back
        return None
    if job.meta.get("held") != reason:
        return None
    queue = rq_queue(conn, job.origin)
    for name in ("held", "paused_at"):
        job.meta.pop(name, None)
    job.meta.update(status="pending", phase="pending", **meta)
    job.save_meta()  # type: ignore[no-untyped-call]
    with conn.pipeline() as pipe:  # queued before it is in the list: a worker may pop it at once
        DeferredJobRegistry(job.origin, connection=conn, serializer=SERIALIZER).remove(
            job, pipeline=pipe
        )
        job.set_status(JobStatus.QUEUED, pipeline=pipe)
        pipe.execute()
    index = conn.eval(_RELEASE, 2, queue.key, HELD_KEY, job.id)
    logger.info("task %s back on queue %s at %s", job.id, job.origin, index)
    return job


def manage(conn: Redis, action: str, task_id: str) -> Job | None:
    """`queue_manage` pause/resume of a waiting task (`control.manage` asks here first): its
    job after, or None when the task is not a queued one (pause) or a paused held one
    (resume)."""
    return hold(conn, task_id) if action == "pause" else release(conn, task_id)
