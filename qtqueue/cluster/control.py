"""The cluster's control channel: pause and resume of a running task, per-worker suspend.

RQ's own `rq suspend` is global (every worker of the Redis), and an idle worker blocked in
BLPOP still takes one more job after it (RQ issues #526 and #1442). qtqueue's control is per
worker and per task, and small:

- The channel is RQ's own per-worker pub/sub channel (`rq:pubsub:NAME`, the one its stop-job
  command uses), with qtqueue's commands beside RQ's: the worker already listens to it in a
  thread, so control costs no extra connection, thread or poll, and no Redis call per job.
- The truth is a durable key: `qtqueue:control:suspended:NAME` (no expiry) for a suspended
  worker, `qtqueue:control:job:ID` for the wanted state of a running job. A message can be
  missed (the worker or Redis was restarting), a key cannot: a worker reads its key when it
  starts and again after its channel reconnects, so a restarted worker stays suspended.
- Each command carries a reply list the worker pushes its new state to once it holds; the
  client waits for it (`REPLY_TIMEOUT_S`). When `suspend_worker` says "suspended" (or
  "suspending": it finishes its current job first), the worker holds the flag in memory and
  takes no new job: a job it pops after that goes back to the head of its queue, untouched
  (the #1442 case), and it waits, idle, without popping, until resumed.
- The whole cluster paused (`cluster_pause.py`) is the same hold for every worker: one more
  durable key (`pause_state.CLUSTER_PAUSED_KEY`), read with the worker's own, and one more pair of
  commands; a worker holds while either says so.
- Pause of a running task: the worker relays the command to its work horse (SIGUSR1, "read
  your job's key"); the horse makes the key's state so (`HorsePause`): the executor's suspend
  hooks stop the task's work as locally (SIGSTOP of a command's whole process tree; a plain
  function waits at its next `ctx.checkpoint()`), the task's timeout clock and RQ's alarm
  stop, and `job.meta` says `paused`. The worker counts the job's working time without the
  paused time, so RQ's monitor never kills a paused horse as overdue.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import logging
import os
import signal
import threading
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import psutil
from redis import Redis
from rq.command import PUBSUB_CHANNEL_TEMPLATE
from rq.job import Job, JobStatus
from rq.worker import Worker

from qtqueue.cluster.events import publish
from qtqueue.cluster.pause_state import CLUSTER_PAUSED_KEY
from qtqueue.core.errors import QueueError, TaskErrorCode

if TYPE_CHECKING:
    from rq.queue import Queue

    from qtqueue.cluster.context import WorkerRunContext

logger = logging.getLogger(__name__)

SUSPENDED_PREFIX = "qtqueue:control:suspended:"
JOB_PREFIX = "qtqueue:control:job:"
REPLY_PREFIX = "qtqueue:control:reply:"
#: How long a client waits for a worker to say its new state (seconds).
REPLY_TIMEOUT_S = 5.0
#: How long a wanted job state is kept (a day; a job's own end removes it).
JOB_KEY_TTL_S = 24 * 3600
#: How often a suspended worker still says it is alive (RQ's worker key expires after 420 s).
SUSPENDED_HEARTBEAT_S = 30.0
#: The signal a worker sends its work horse: "read your job's control key".
HORSE_SIGNAL = signal.SIGUSR1
#: qtqueue's commands on RQ's worker channel.
SUSPEND, RESUME, JOB = "qtqueue-suspend", "qtqueue-resume", "qtqueue-job"
#: The whole cluster paused or resumed (`cluster_pause.py`), told to every live worker.
CLUSTER_PAUSE, CLUSTER_RESUME = "qtqueue-cluster-pause", "qtqueue-cluster-resume"
#: The commands that change whether a worker takes new jobs.
HOLD_COMMANDS = (SUSPEND, RESUME, CLUSTER_PAUSE, CLUSTER_RESUME)
NO_ANSWER = "CLUSTER_CONTROL_NO_ANSWER"


#: The code of a control aimed at a worker the cluster does not know (cluster/errors.toml).
WORKER_NOT_FOUND = "CLUSTER_WORKER_NOT_FOUND"


def suspended_key(worker: str) -> str:
    """The durable key that says the worker `worker` is suspended."""
    return SUSPENDED_PREFIX + worker


def job_key(job_id: str) -> str:
    """The key that holds a running job's wanted state ({"paused": bool, "reply": key})."""
    return JOB_PREFIX + job_id


def suspended_workers(conn: Redis) -> set[str]:
    """The names of the workers told to suspend (live or not)."""
    return {
        k.decode()[len(SUSPENDED_PREFIX) :]
        for k in conn.scan_iter(match=SUSPENDED_PREFIX + "*", count=500)
    }


# ----------------------------------------------------------------------------- client side


def _wait_reply(conn: Redis, reply: str) -> dict[str, Any] | None:
    """The answer pushed to the reply list `reply`, or None after REPLY_TIMEOUT_S."""
    answer: Any = conn.blpop([reply], timeout=REPLY_TIMEOUT_S)
    if answer is None:
        return None
    conn.delete(reply)
    out: dict[str, Any] = json.loads(answer[1])
    return out


def _get(conn: Redis, key: str) -> dict[str, Any] | None:
    raw: Any = conn.get(key)
    return json.loads(raw) if raw else None


def _send(conn: Redis, worker: str, command: str, **fields: Any) -> dict[str, Any] | None:
    """Publish `command` to the worker and wait for its answer: its reply, or None when no
    worker listens on its channel (offline); QueueError CLUSTER_CONTROL_NO_ANSWER when one
    listens but says nothing within REPLY_TIMEOUT_S."""
    reply = REPLY_PREFIX + uuid.uuid4().hex
    payload = json.dumps({"command": command, "reply": reply, **fields})
    if not conn.publish(PUBSUB_CHANNEL_TEMPLATE % worker, payload):
        return None
    answer = _wait_reply(conn, reply)
    if answer is None:
        raise QueueError(
            NO_ANSWER,
            f"worker {worker!r} got the command but did not answer within {REPLY_TIMEOUT_S:g} s",
            worker=worker,
        )
    return answer


def _worker_names(conn: Redis) -> list[str]:
    return sorted(w.name for w in Worker.all(connection=conn))


def _check_worker(conn: Redis, name: str) -> None:
    """A worker name must be live now or already have a key (a restarted worker's)."""
    if name in _worker_names(conn) or conn.exists(suspended_key(name)):
        return
    raise QueueError(
        WORKER_NOT_FOUND,
        f"no live worker is named {name!r}: it stopped or left the cluster",
        worker=name,
    )


def suspend_worker(conn: Redis, name: str) -> dict[str, Any]:
    """Suspend the worker `name`: it finishes its current job and takes no new one until
    resumed, across its restarts. {"worker", "state"}: "suspended" (idle now), "suspending"
    (finishing a job), "offline" (suspended when it starts)."""
    _check_worker(conn, name)
    conn.set(suspended_key(name), str(time.time()))
    answer = _send(conn, name, SUSPEND)
    return {"worker": name, "state": answer["state"] if answer else "offline"}


def resume_worker(conn: Redis, name: str) -> dict[str, Any]:
    """Let the worker `name` take jobs again. {"worker", "state"}: "idle", "busy" or
    "offline"; while the whole cluster is paused it still takes none ("suspended" or
    "suspending", and a "message" saying so): its own suspend is gone, the cluster's holds."""
    _check_worker(conn, name)
    conn.delete(suspended_key(name))
    answer = _send(conn, name, RESUME)
    out = {"worker": name, "state": answer["state"] if answer else "offline"}
    if conn.exists(CLUSTER_PAUSED_KEY):
        out["message"] = (
            "the whole cluster is paused: this worker takes tasks again once it is resumed "
            "('qtqueue --redis URL resume --queue')"
        )
    return out


def all_workers(conn: Redis) -> list[str]:
    """Every live worker's name and every suspended one's (for `--all`)."""
    return sorted(set(_worker_names(conn)) | suspended_workers(conn))


def _running_job(conn: Redis, task_id: str, action: str) -> Job:
    from qtqueue.cluster.jobs import SERIALIZER

    job = Job.fetch_many([task_id], connection=conn, serializer=SERIALIZER)[0]
    if job is None:
        raise QueueError(
            TaskErrorCode.QUEUE_TASK_NOT_FOUND,
            f"the cluster has no task {task_id}",
            task_id=task_id,
        )
    status = job.get_status()
    if status != JobStatus.STARTED or not job.worker_name:
        state = status.value if status is not None else "unknown"
        raise QueueError(
            TaskErrorCode.QUEUE_INVALID_STATE,
            f"cannot {action} task {task_id}: it is {state}; on a cluster only a waiting or "
            "running task is paused and resumed",
            task_id=task_id,
            status=state,
            action=action,
        )
    return job


def _set_job_state(conn: Redis, task_id: str, paused: bool) -> dict[str, Any]:
    action = "pause" if paused else "resume"
    job = _running_job(conn, task_id, action)
    reply = REPLY_PREFIX + uuid.uuid4().hex
    conn.set(job_key(task_id), json.dumps({"paused": paused, "reply": reply}), ex=JOB_KEY_TTL_S)
    worker = str(job.worker_name)
    if not conn.publish(PUBSUB_CHANNEL_TEMPLATE % worker, json.dumps(
        {"command": JOB, "job_id": task_id}
    )):  # fmt: skip
        raise QueueError(
            NO_ANSWER,
            f"cannot {action} task {task_id}: its worker {worker!r} does not listen now "
            "(offline or reconnecting)",
            task_id=task_id,
            worker=worker,
        )
    answer = _wait_reply(conn, reply)
    if answer is None:
        raise QueueError(
            NO_ANSWER,
            f"cannot {action} task {task_id}: its worker {worker!r} did not answer within "
            f"{REPLY_TIMEOUT_S:g} s",
            task_id=task_id,
            worker=worker,
        )
    return {"task_id": task_id, "status": answer["status"], "worker": worker}


def pause_task(conn: Redis, task_id: str) -> dict[str, Any]:
    """Suspend the running task `task_id` where it runs (its process tree stopped, its
    clock too): {"task_id", "status": "paused", "worker"}. QueueError: QUEUE_TASK_NOT_FOUND,
    QUEUE_INVALID_STATE (not running), CLUSTER_CONTROL_NO_ANSWER."""
    return _set_job_state(conn, task_id, True)


def resume_task(conn: Redis, task_id: str) -> dict[str, Any]:
    """Continue the paused task `task_id`: {"task_id", "status": "running", "worker"}."""
    return _set_job_state(conn, task_id, False)


def manage(conn: Redis, action: str, task_id: str) -> dict[str, Any]:
    """`queue_manage`'s pause and resume on a cluster (the command line's backend): of a
    waiting task, `holding.py`'s; of a running one, this module's."""
    from qtqueue.cluster import dependents, holding
    from qtqueue.cluster.reads import snapshot

    waiting = holding.manage(conn, action, task_id) or (
        dependents.hold(conn, task_id) if action == "pause" else dependents.release(conn, task_id)
    )  # a queued task's, else one waiting for its dependencies or its start time
    if waiting is not None:
        return {"task": snapshot(waiting).to_dict()}
    return pause_task(conn, task_id) if action == "pause" else resume_task(conn, task_id)


# ----------------------------------------------------------------------------- worker side


class WorkerControl:
    """A worker's side of the channel (its main process): the suspended flag (held in memory,
    set from its key and its channel) and the relay of job commands to its work horse."""

    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self.suspended = False  # its own suspend
        self.cluster_paused = False  # the whole cluster's pause
        self.stale = True  # read the key before the first job
        self.woken = threading.Event()
        self.job: Job | None = None
        self.paused_since: float | None = None
        self.worked_s = 0.0
        self.relayed = False

    @property
    def conn(self) -> Redis:
        conn: Redis = self.worker.connection
        return conn

    def reconnected(self) -> None:
        """Redis answers again: a command may have been missed meanwhile, read the key."""
        self.stale = True
        self.woken.set()

    @property
    def held(self) -> bool:
        """Whether the worker takes no new job now: suspended itself, or the cluster paused."""
        return self.suspended or self.cluster_paused

    def refresh(self) -> None:
        """Read the durable keys, its own and the cluster's (at start, and after the channel
        reconnected)."""
        if self.stale:  # plain commands: they retry through a Redis restart, as the worker's
            self.suspended = bool(self.conn.exists(suspended_key(self.worker.name)))
            self.cluster_paused = bool(self.conn.exists(CLUSTER_PAUSED_KEY))
            self.stale = False

    def handle(self, payload: dict[str, Any]) -> bool:
        """A qtqueue command from the channel (the channel's thread); False: not ours."""
        command = payload.get("command")
        if command in HOLD_COMMANDS:
            if command in (SUSPEND, RESUME):
                self.suspended = command == SUSPEND
            else:
                self.cluster_paused = command == CLUSTER_PAUSE
            self.woken.set()
            busy = self.worker.get_current_job_id() is not None
            state = ("suspending" if busy else "suspended") if self.held else (
                "busy" if busy else "idle"
            )  # fmt: skip
            logger.info("worker %s: %s", self.worker.name, state)
            if not busy:
                self.worker.set_state("suspended" if self.held else "idle")
            self._reply(payload.get("reply"), {"worker": self.worker.name, "state": state})
            return True
        if command == JOB:
            self.relay(str(payload.get("job_id")))
            return True
        return False

    def _reply(self, key: object, answer: dict[str, Any]) -> None:
        if isinstance(key, str) and key.startswith(REPLY_PREFIX):
            with self.conn.pipeline() as pipe:
                pipe.rpush(key, json.dumps(answer))
                pipe.expire(key, 60)
                pipe.execute()

    def relay(self, job_id: str) -> None:
        """Tell the horse running `job_id` to read its key; keep its working time right."""
        job, pid = self.job, self.worker.horse_pid
        if job is None or job.id != job_id or not pid:
            logger.warning(
                "worker %s: not running job %s; control ignored", self.worker.name, job_id
            )
            return
        paused = bool((_get(self.conn, job_key(job_id)) or {}).get("paused"))
        self.relayed = True
        now = time.time()
        if paused and self.paused_since is None and job.started_at is not None:
            self.worked_s = now - job.started_at.timestamp()
            self.paused_since = now
        elif not paused and self.paused_since is not None:
            self.keep_clock()
            self.paused_since = None
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, HORSE_SIGNAL)

    def keep_clock(self) -> None:
        """While paused, RQ's monitor sees the job as started `worked_s` ago (not overdue)."""
        if self.paused_since is not None and self.job is not None:
            from datetime import UTC, datetime

            self.job.started_at = datetime.fromtimestamp(time.time() - self.worked_s, UTC)

    def job_started(self, job: Job) -> None:
        """The worker starts `job` (before its horse is forked)."""
        self.job, self.paused_since, self.relayed = job, None, False

    def job_ended(self) -> None:
        """The job's horse ended: its wanted state, if it was ever told one, goes too."""
        if self.relayed and self.job is not None:
            self.conn.delete(job_key(self.job.id))
        self.job, self.paused_since, self.relayed = None, None, False

    def wait_while_suspended(self, burst: bool) -> bool:
        """Wait, taking nothing, while suspended; False: a burst worker stops instead (as RQ's
        does when suspended)."""
        self.refresh()
        if not self.held:
            return True
        why = "suspended" if self.suspended else "paused with the cluster"
        if burst:
            logger.info("worker %s: %s in burst mode, stopping", self.worker.name, why)
            return False
        before = self.worker.get_state()
        self.worker.set_state("suspended")
        until = "`workers resume`" if self.suspended else "the cluster is resumed"
        logger.info("worker %s: %s until %s, taking nothing", self.worker.name, why, until)
        beat = time.monotonic()
        while self.held and not self.worker._stop_requested:
            self.woken.wait(1.0)
            self.woken.clear()
            if self.stale:
                self.refresh()
            if time.monotonic() - beat >= SUSPENDED_HEARTBEAT_S:  # still alive, suspended
                self.worker.heartbeat()
                beat = time.monotonic()
        self.worker.set_state(before if before != "suspended" else "idle")
        return True

    def put_back(self, job: Job, queue: Queue) -> None:
        """A job popped after the suspend goes back to the head of its queue, untouched."""
        with self.conn.pipeline() as pipe:
            pipe.lrem(queue.intermediate_queue_key, 1, job.id)
            pipe.lpush(queue.key, job.id)
            pipe.execute()
        logger.info(
            "worker %s: suspended; put job %s back on %s", self.worker.name, job.id, queue.name
        )


# ----------------------------------------------------------------------------- horse side

_pending = False
_active: HorsePause | None = None


def _on_signal(signum: int, frame: object) -> None:
    global _pending
    _pending = True
    if _active is not None:
        _active.loop.call_soon_threadsafe(_active.apply)


def horse_signals() -> None:
    """In a fresh work horse: take the worker's control signal (until the attempt listens,
    it is only noted, never the default action, which would end the horse)."""
    signal.signal(HORSE_SIGNAL, _on_signal)


class HorsePause:
    """Pause and resume of the attempt running in this work horse (see the module's notes)."""

    def __init__(self, job: Job, ctx: WorkerRunContext, scope: asyncio.Timeout | None) -> None:
        self.job = job
        self.ctx = ctx
        self.scope = scope
        self.loop = asyncio.get_running_loop()
        self.paused = False
        self.left_s: float | None = None
        self.alarm_left = 0
        self.phase = "running"

    def install(self) -> None:
        """Listen from now on (a command that came before is applied now)."""
        global _active
        _active = self
        if _pending:
            self.loop.call_soon(self.apply)

    def uninstall(self) -> None:
        global _active
        _active = None

    def apply(self) -> None:
        """Make the job's key's state so, and answer the client."""
        want = _get(self.job.connection, job_key(self.job.id)) or {"paused": False}
        if bool(want.get("paused")) != self.paused:
            (self.pause if want.get("paused") else self.resume)()
        reply = want.get("reply")
        if isinstance(reply, str) and reply.startswith(REPLY_PREFIX):
            status = "paused" if self.paused else "running"
            self.job.connection.rpush(reply, json.dumps({"status": status}))
            self.job.connection.expire(reply, 60)

    def _hooks(self, index: int) -> None:
        hooks = self.ctx.suspend_hooks
        if hooks is not None:
            out = hooks[index]()
            if inspect.isawaitable(out):
                self.ctx.hook_run = asyncio.ensure_future(out)
            return
        sig = signal.SIGSTOP if index == 0 else signal.SIGCONT
        with contextlib.suppress(psutil.Error):
            for child in psutil.Process().children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    child.send_signal(sig)

    def pause(self) -> None:
        """Suspend the work, stop the clocks, say `paused` in the meta and the log."""
        self.paused = True
        self._hooks(0)
        self.alarm_left = signal.alarm(0)  # RQ's hard-timeout alarm, stopped too
        if self.scope is not None and self.scope.when() is not None:
            self.left_s = max(0.0, float(self.scope.when() or 0) - self.loop.time())
            self.scope.reschedule(None)
        self.ctx.resumed.clear()
        self.phase = str(self.job.meta.get("phase") or "running")
        self.job.meta.update(status="paused", phase="paused", paused=True, paused_at=time.time())
        self.job.save_meta()  # type: ignore[no-untyped-call]
        publish(self.job.connection, "paused", self.job.id)
        self.ctx.log("[qtqueue] paused")

    def resume(self) -> None:
        """Restart the clocks with the time they had left, continue the work, say so."""
        self.paused = False
        if self.scope is not None and self.left_s is not None:
            self.scope.reschedule(self.loop.time() + self.left_s)
            self.left_s = None
        if self.alarm_left:
            signal.alarm(self.alarm_left)
        self._hooks(1)
        self.ctx.resumed.set()
        self.job.meta.update(status="running", phase=self.phase, paused=False)
        self.job.save_meta()  # type: ignore[no-untyped-call]
        publish(self.job.connection, "resumed", self.job.id)
        self.ctx.log("[qtqueue] resumed")


@contextlib.contextmanager
def listening(ctx: WorkerRunContext, scope: asyncio.Timeout | None) -> Any:
    """While the attempt runs in this horse: its pause and resume (`HorsePause`)."""
    from rq import get_current_job

    job = get_current_job()
    if job is None:
        yield None
        return
    pause = HorsePause(job, ctx, scope)
    pause.install()
    try:
        yield pause
    finally:
        pause.uninstall()


# ----------------------------------------------------------------------------- the backend's

#: The command line's actions on a cluster that this module answers.
WORKER_ACTIONS = ("suspend_workers", "resume_workers")


def _workers_action(conn: Redis, action: str, params: dict[str, Any]) -> dict[str, Any]:
    names = all_workers(conn) if params.get("all") else [str(n) for n in params.get("names", [])]
    one = suspend_worker if action == "suspend_workers" else resume_worker
    return {"workers": [one(conn, name) for name in names]}


def backend_action(action: str, params: dict[str, Any]) -> Callable[[Redis], dict[str, Any]] | None:
    """What the cluster backend runs (in a thread) for `action`, if it is a control action:
    `queue_manage` pause/resume of a task, `suspend_workers`/`resume_workers` ({"names"} or
    {"all": true}); None for any other."""
    if action == "queue_manage" and params.get("action") in ("pause", "resume"):
        what, task_id = str(params["action"]), str(params.get("task_id"))
        return lambda conn: manage(conn, what, task_id)
    if action in WORKER_ACTIONS:
        return lambda conn: _workers_action(conn, action, params)
    return None
