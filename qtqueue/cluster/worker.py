"""`qtqueue worker`: RQ's own forking `Worker`, running qtqueue tasks from the cluster's queues.

Why the forking `Worker` and not `SimpleWorker`: each job runs in a work horse forked for it,
so a task's crash, leaked threads or file descriptors and its asyncio loop end with it; RQ's
stop-job command and its hard timeout kill a horse, which a `SimpleWorker` (the job in the
worker's own process) cannot do. The fork costs a few milliseconds per job (see
bench/cluster.py), and the registry of family executors is loaded once, before the first fork.

One change to RQ's worker: commands run in their own process group (as the local engine runs
them, so pause and cancel reach their whole tree), which RQ's kill of the horse's group
would miss, so `QtqueueWorker.kill_horse` also kills the process group of every descendant of
the horse — a stopped or timed-out job leaves nothing running.

Control (`control.py`): per-worker suspend and pause/resume of a running task come over RQ's
own worker channel; `QtqueueWorker` takes qtqueue's commands there, waits while suspended,
puts back a job popped after a suspend, and relays a job's pause to its work horse.

Redis going away (a restart): the worker's connection retries every command until Redis is
back (`connection.Reconnecting`, logging "reconnecting"), so neither the worker's loop nor a
job's horse gives up on a short outage; a running task goes on and records its end once Redis
answers again.

Placement (`placer.py`): the worker takes from its own queue (`qtqueue:worker:NAME`) first,
publishes its free room and labels every heartbeat, places held tasks while it holds the
placer's lock, and checks a placed task's needs again when it takes it (`admit`): without
room it gives the task back instead of running it.

The worker runs RQ's scheduler too (`with_scheduler`): retries with a backoff and tasks with a
start time are moved to their queue on time by whichever worker holds the scheduler's lock.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import gc
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import psutil
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rq.command import parse_payload
from rq.exceptions import StopRequested
from rq.job import Job
from rq.queue import Queue
from rq.worker import Worker

from qtqueue.cluster import job
from qtqueue.cluster.connection import Reconnecting, connect, unavailable
from qtqueue.cluster.context import LogStream
from qtqueue.cluster.control import HOLD_COMMANDS, WorkerControl, horse_signals
from qtqueue.cluster.events import publish
from qtqueue.cluster.job import end_meta_with_result, ready_to_fork, save_end_meta
from qtqueue.cluster.jobs import SERIALIZER, rq_queue
from qtqueue.cluster.placement import INTAKE_QUEUE, worker_queue_name
from qtqueue.cluster.placer import OverrideProbe, WorkerPlacement
from qtqueue.cluster.queues import DRAIN_ORDER
from qtqueue.core.errors import QueueError, TaskErrorCode, describe_exit
from qtqueue.engine.named_queues import DEFAULT_FAILURE_TTL_S
from qtqueue.executors import default_registry
from qtqueue.executors.process import kill_orphan

logger = logging.getLogger(__name__)

#: prctl's option: the signal a process gets when its parent dies.
PR_SET_PDEATHSIG = 1
#: The signal a work horse gets when its worker dies.
HORSE_DEATH_SIGNAL = signal.SIGUSR2
#: A stopped job's message, as a cancelled task's locally.
CANCELLED_MESSAGE = "cancelled by the user"


def command_groups(horse_pid: int) -> list[int]:
    """The process groups of the descendants of `horse_pid` that are not in the horse's own
    group: the commands its task started (each in a group of its own)."""
    try:
        horse = psutil.Process(horse_pid)
        own = os.getpgid(horse_pid)
        children = horse.children(recursive=True)
    except (psutil.Error, ProcessLookupError):
        return []
    groups: list[int] = []
    for child in children:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            pgid = os.getpgid(child.pid)
            if pgid != own and pgid not in groups:
                groups.append(pgid)
    return groups


def signal_groups(groups: list[int], sig: int) -> None:
    """Send `sig` to each process group of `groups` that still exists."""
    for pgid in groups:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, sig)


def record_end(job: Job, status: str, error: QueueError | None) -> None:
    """Write how an attempt ended into the job's meta (over what its horse last saved), for an
    end the horse could not record itself: it was stopped or killed."""
    meta = job.get_meta(refresh=True)
    meta.update(status=status, phase=status, ended_at=time.time())
    meta["error"] = error.to_dict() if error is not None else None
    if status == "cancelled":
        meta["message"] = CANCELLED_MESSAGE
    job.save_meta()  # type: ignore[no-untyped-call]
    said = f"{error.code.value}: {error.message}" if error is not None else CANCELLED_MESSAGE
    log = LogStream(job.connection, job.id, round(DEFAULT_FAILURE_TTL_S))
    log.write(f"[qtqueue] {status}: {said}\n".encode())
    log.flush()


def stop_leftovers(job: Job) -> None:
    """Kill the process group of the command a dead horse's task started, if it still runs
    (`kill_orphan` checks that it is the same process, not a reused pid)."""
    pid, started = job.meta.get("pid"), job.meta.get("started_at")
    if isinstance(pid, int) and kill_orphan(pid, started if isinstance(started, float) else None):
        logger.info("job %s: killed its command's process group %s", job.id, pid)


class QtqueueWorker(Worker):
    """RQ's forking worker; stopping a horse stops its task's commands too, and an attempt
    that ended without its horse saying how (stopped, killed) says so in the job's meta."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.control = WorkerControl(self)
        self.main_pid = os.getpid()
        self.placement: WorkerPlacement | None = None

    def subscribe(self) -> None:
        """RQ's subscription to the worker's channel (after its birth, which a name a live
        worker has is refused at), then the room and the placer start: not before, or a
        command sent as soon as it registered could come before it listens."""
        super().subscribe()  # type: ignore[no-untyped-call]
        if self.placement is not None:
            self.placement.start()

    def handle_payload(self, message: Any) -> None:
        """A command on the worker's channel: qtqueue's (`control.py`) or RQ's."""
        try:
            payload = parse_payload(message)
            if not self.control.handle(payload):
                super().handle_payload(message)  # type: ignore[no-untyped-call]
            elif self.placement is not None and payload.get("command") in HOLD_COMMANDS:
                self.placement.control_changed()
        except (ValueError, KeyError, TypeError) as exc:  # the channel's thread must go on
            logger.warning("worker %s: ignored a malformed command (%s)", self.name, exc)

    def check_for_suspension(self, burst: bool) -> None:
        """RQ's global suspend, then this worker's own and the cluster's pause (wait, taking
        nothing, until resumed)."""
        super().check_for_suspension(burst)
        if not self.control.wait_while_suspended(burst):
            raise StopRequested

    def dequeue_job_and_maintain_ttl(
        self, timeout: int | None, max_idle_time: int | None = None
    ) -> tuple[Job, Queue] | None:
        """RQ's dequeue; a job popped once this worker is suspended (it was blocked in BLPOP
        when told: RQ issue #1442) goes back to the head of its queue, untouched."""
        while True:
            result = super().dequeue_job_and_maintain_ttl(timeout, max_idle_time)
            self.control.refresh()
            if result is not None and not self.control.held:
                if self.placement is None or self.placement.admit(*result):
                    return result
                continue  # no room for a placed task: given back to the placer
            if result is None:
                return result
            self.control.put_back(*result)
            if not self.control.wait_while_suspended(burst=timeout is None):
                return None

    def execute_job(self, job: Job, queue: Queue) -> None:
        """RQ's, with the control channel told which job runs (for pause and resume)."""
        self.control.job_started(job)
        if self.placement is not None:
            self.placement.started(job)
        try:
            super().execute_job(job, queue)
        finally:
            self.control.job_ended()
            publish(self.connection, "ended", job.id)  # once RQ has recorded how it ended
            if self.placement is not None:
                self.placement.ended(job)

    def maintain_heartbeats(self, job: Job, execution: Any) -> None:
        """RQ's; a paused job's working time does not grow (RQ's monitor never kills it)."""
        self.control.keep_clock()
        super().maintain_heartbeats(job, execution)

    def setup_work_horse_signals(self) -> None:
        """RQ's, the control signal (`control.horse_signals`), and the horse dies with its
        worker (`die_with_worker`)."""
        super().setup_work_horse_signals()  # type: ignore[no-untyped-call]
        horse_signals()
        die_with_worker(self.main_pid)
        end_meta_with_result()

    def cleanup_execution(self, job: Job, pipeline: Any, execution: Any = None) -> None:
        """RQ's, in its end-of-job transaction; in a horse after a successful attempt, the
        job's meta ("completed") goes in that transaction too (`job.save_end_meta`)."""
        save_end_meta(job, pipeline)
        super().cleanup_execution(job, pipeline, execution)

    def work(self, *args: Any, **kwargs: Any) -> bool:
        """RQ's work loop, after `job.ready_to_fork` and `gc.freeze()`: what is loaded now (the
        registry, the families) is never traversed by a horse's garbage collector, so a fork's
        pages stay shared instead of being copied (a full collection in a fresh horse cost
        ~50 ms)."""
        ready_to_fork(self.connection)
        gc.freeze()
        forks_die_with_worker()
        return bool(super().work(*args, **kwargs))

    def handle_work_horse_killed(self, job: Job, retpid: int, ret_val: int, rusage: Any) -> None:
        """The horse died (a signal, the OOM killer): QUEUE_TASK_INTERRUPTED, retried if the
        task has retries left, as the local engine does after a crash."""
        super().handle_work_horse_killed(job, retpid, ret_val, rusage)  # type: ignore[no-untyped-call]
        how = (
            describe_exit(-os.WTERMSIG(ret_val))
            if os.WIFSIGNALED(ret_val)
            else (describe_exit(os.WEXITSTATUS(ret_val) or 1))
        )
        error = QueueError(
            TaskErrorCode.QUEUE_TASK_INTERRUPTED,
            f"the worker's process running it ended unexpectedly ({how})",
            worker=self.name,
        )
        record_end(job, "retrying" if job.should_retry else "failed", error)
        stop_leftovers(job)

    def _handle_stopped_job(self, job: Job, queue: Any, execution: Any) -> None:
        """A job stopped on request (RQ's stop-job command) ends "cancelled by the user", as a
        cancelled task does locally (no error code). RQ 3's hook for it, hence the pin."""
        record_end(job, "cancelled", None)
        super()._handle_stopped_job(job, queue, execution)

    def kill_horse(self, sig: signal.Signals = signal.SIGKILL) -> None:
        """Kill the horse (RQ's own kill of its group), then its commands' process groups,
        found before: in that order, the horse cannot see its command die and record that
        as the task's failure before it dies itself."""
        groups = command_groups(self.horse_pid) if self.horse_pid else []
        super().kill_horse(sig)
        signal_groups(groups, sig)
        if groups:
            logger.info("worker %s: killed the command groups %s", self.name, groups)


def _worker_died(signum: int = 0, frame: object = None) -> None:
    """In a horse whose worker died: kill its task's commands (every descendant, whatever its
    group) and end now, recording nothing."""
    signal_groups(command_groups(os.getpid()), signal.SIGKILL)
    with contextlib.suppress(psutil.Error):
        for child in psutil.Process().children(recursive=True):
            with contextlib.suppress(psutil.Error):
                child.kill()
    os._exit(1)


def die_with_worker(main_pid: int) -> None:
    """In a fresh work horse: when the worker's main process dies (SIGKILL, the OOM killer),
    the horse gets HORSE_DEATH_SIGNAL (Linux's PR_SET_PDEATHSIG) and ends with its task's
    commands. Else it would finish the task unwatched while the cluster, seeing the worker's
    heartbeat stop, gives the job to another worker as abandoned: the task would run twice,
    at once. Its retry (RQ's abandoned-job handling) then runs it again from the start."""
    if not sys.platform.startswith("linux"):
        return
    signal.signal(HORSE_DEATH_SIGNAL, _worker_died)
    _prctl()(PR_SET_PDEATHSIG, int(HORSE_DEATH_SIGNAL), 0, 0, 0)
    if os.getppid() != main_pid:  # it died before the line above
        _worker_died()


_forks_die_with_worker = False


@functools.cache
def _prctl() -> Any:
    """libc's prctl, looked up once (in the worker, before its forks: ~25 µs a horse)."""
    return ctypes.CDLL(None, use_errno=True).prctl


def forks_die_with_worker() -> None:
    """Every process the worker forks (RQ's scheduler; a horse then sets its own signal) is
    SIGKILLed when the worker dies: a SIGKILLed worker's scheduler went on alone, retrying a
    Redis no one watched, holding the scheduler's locks."""
    global _forks_die_with_worker
    if _forks_die_with_worker or not sys.platform.startswith("linux"):
        return
    _forks_die_with_worker = True
    parent = os.getpid()
    _prctl()

    def in_child() -> None:
        if os.getppid() != parent:
            return  # forked by a horse (a task's own fork): not the worker's child
        _prctl()(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        if os.getppid() != parent:
            os._exit(1)  # the worker died before the line above

    os.register_at_fork(after_in_child=in_child)


def default_name() -> str:
    """A worker's name when given none: HOST.PID (unique among live workers)."""
    return f"{socket.gethostname()}.{os.getpid()}"


def worker_dir(data_dir: Path, name: str) -> Path:
    """Where a worker's tasks see $QTQUEUE_DATA_DIR: DATA_DIR/cluster/NAME (0700)."""
    path = data_dir / "cluster" / name.replace("/", "_")
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def run_worker(
    url: str,
    data_dir: Path,
    queues: Sequence[str] = DRAIN_ORDER,
    *,
    name: str | None = None,
    burst: bool = False,
    logging_level: str = "WARNING",
    labels: Sequence[str] = (),
    cpu_cores: int | None = None,
    memory_gb: float | None = None,
) -> bool:
    """Work the `queues` of the cluster at `url` (in that order, after its own queue) until
    stopped (SIGINT, SIGTERM) or, with `burst`, until they are empty; returns whether it ran
    any job. `labels`: what tasks may target it by; `cpu_cores`, `memory_gb`: a capacity
    smaller than the machine's to publish. QueueError: the connection's (`connect`),
    CLUSTER_REDIS_UNAVAILABLE when Redis goes away while it works, VALIDATION_INVALID_PARAMS
    for a name a live worker has."""
    conn = connect(url)
    name = name or default_name()
    retry = Reconnecting(url)
    conn.set_retry(retry)
    work_dir = worker_dir(data_dir, name)
    job.configure(default_registry(), work_dir)
    placement = None
    try:
        own = worker_queue_name(name)
        worker = QtqueueWorker(
            [rq_queue(conn, q) for q in (own, *(q for q in queues if q != own), INTAKE_QUEUE)],
            name=name,
            connection=conn,
            serializer=SERIALIZER,
        )
        retry.on_back = worker.control.reconnected
        placement = worker.placement = WorkerPlacement(
            connect(url),
            name,
            work_dir,
            labels=labels,
            probe=OverrideProbe(cpu_cores, memory_gb),
            host=socket.gethostname(),
            suspended=lambda: worker.control.held,
        )
        return bool(worker.work(burst=burst, with_scheduler=True, logging_level=logging_level))
    except ValueError as exc:
        if "exists an active worker" in str(exc):
            raise QueueError(
                TaskErrorCode.VALIDATION_INVALID_PARAMS,
                f"a live worker is already named {name!r}; give this one another --name",
                name=name,
            ) from None
        raise
    except (RedisConnectionError, RedisTimeoutError) as exc:
        raise unavailable(url, exc) from None
    finally:
        if placement is not None and placement.started_thread:
            placement.stop()
