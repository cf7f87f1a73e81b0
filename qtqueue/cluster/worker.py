"""`qtqueue worker`: RQ's own forking `Worker`, running qtqueue tasks from the cluster's queues.

Why the forking `Worker` and not `SimpleWorker`: each job runs in a work horse forked for it,
so a task's crash, leaked threads or file descriptors and its asyncio loop end with it; RQ's
stop-job command and its hard timeout kill a horse, which a `SimpleWorker` (the job in the
worker's own process) cannot do. The fork costs a few milliseconds per job (see
bench/cluster.py), and the registry of family executors is loaded once, before the first fork.

One change to RQ's worker: commands run in their own process group (as the local engine runs
them, so pause and cancel reach their whole tree), which RQ's kill of the horse's group
would miss, so `QtqueueWorker.kill_horse` first kills the process group of every descendant of
the horse — a stopped or timed-out job leaves nothing running.

The worker runs RQ's scheduler too (`with_scheduler`): retries with a backoff and tasks with a
start time are moved to their queue on time by whichever worker holds the scheduler's lock.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
from collections.abc import Sequence
from pathlib import Path

import psutil
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rq.worker import Worker

from qtqueue.cluster import job
from qtqueue.cluster.connection import connect, unavailable
from qtqueue.cluster.jobs import SERIALIZER, rq_queue
from qtqueue.cluster.queues import DRAIN_ORDER
from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.executors import default_registry

logger = logging.getLogger(__name__)


def kill_command_groups(horse_pid: int, sig: int = signal.SIGKILL) -> list[int]:
    """Signal the process group of every descendant of `horse_pid` that is not in the horse's
    own group (the commands its task started); returns the groups signalled."""
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
                os.killpg(pgid, sig)
                groups.append(pgid)
    return groups


class QtqueueWorker(Worker):
    """RQ's forking worker; stopping a horse stops its task's commands too."""

    def kill_horse(self, sig: signal.Signals = signal.SIGKILL) -> None:
        """Kill the commands' process groups, then the horse's (RQ's own kill)."""
        if self.horse_pid:
            killed = kill_command_groups(self.horse_pid, sig)
            if killed:
                logger.info("worker %s: killed the command groups %s", self.name, killed)
        super().kill_horse(sig)


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
) -> bool:
    """Work the `queues` of the cluster at `url` (in that order) until stopped (SIGINT,
    SIGTERM) or, with `burst`, until they are empty; returns whether it ran any job.
    QueueError: the connection's (`connect`), CLUSTER_REDIS_UNAVAILABLE when Redis goes away
    while it works, VALIDATION_INVALID_PARAMS for a name a live worker has."""
    conn = connect(url)
    name = name or default_name()
    job.configure(default_registry(), worker_dir(data_dir, name))
    try:
        worker = QtqueueWorker(
            [rq_queue(conn, q) for q in queues],
            name=name,
            connection=conn,
            serializer=SERIALIZER,
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
