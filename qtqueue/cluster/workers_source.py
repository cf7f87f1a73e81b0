"""The Workers view's data over a cluster: `ClusterWorkersSource(url)`, the window's
`WorkersSource` (`qtqueue.ui.workers_view`) on RQ and Redis.

It reads what `qtqueue --redis URL workers` prints (`ClusterReader.workers()`: one dict per
live worker) and adds what the window shows beside it:

- `suspend_requested`: the worker's durable suspend key is set (`control.suspended_key`), or
  the whole cluster is paused (`cluster_paused`, `cluster_pause.py`): a busy worker told to
  suspend still says busy until its task ends ("suspending"); read for the live workers in
  one pipeline per refresh, never by a scan of Redis's keys.
- the workers told to suspend that are not live now (stopped, or on a machine that is down):
  a row of state `offline` each, so that they can be resumed (their key is found with a SCAN,
  at most every `OFFLINE_SCAN_S`, not every refresh).
- `alive`: False when the worker runs on this machine (its host is this host name) and its
  pid is not a running process here — a worker killed with SIGKILL, whose RQ key lives on until
  its TTL runs out; True when that pid runs; None on another machine (the window then judges by
  the heartbeat's age alone).

Suspend and resume are `control.suspend_worker` / `resume_worker`: the worker finishes its
current task and takes no new one until resumed (and stays suspended across its restarts).
Every call runs in a thread (`asyncio.to_thread`): RQ and redis-py block. A Redis that cannot
be reached is CLUSTER_REDIS_UNAVAILABLE, as on the command line.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import Callable
from typing import Any, TypeVar

import psutil
from redis import Redis
from redis.exceptions import RedisError

from qtqueue.cluster import control
from qtqueue.cluster.connection import connect, unavailable
from qtqueue.cluster.pause_state import CLUSTER_PAUSED_KEY
from qtqueue.cluster.reads import ClusterReader

logger = logging.getLogger(__name__)

__all__ = ["OFFLINE_SCAN_S", "ClusterWorkersSource", "offline_row", "pid_alive"]

#: How often the workers told to suspend that are not live are looked for (seconds).
OFFLINE_SCAN_S = 30.0
T = TypeVar("T")


def pid_alive(host: str | None, pid: int | None, here: str | None = None) -> bool | None:
    """Whether the worker's process runs: known only for a worker on this machine (`host` is
    this host name), else None."""
    if not host or not pid or host != (here or socket.gethostname()):
        return None
    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False
    except psutil.Error:  # another user's process: it runs
        return True


def offline_row(name: str) -> dict[str, Any]:
    """The row of a worker told to suspend that is not live: `ClusterReader.workers()`'s
    keys, state `offline`, nothing else known."""
    return {
        "slot": 0,
        "state": "offline",
        "task_id": None,
        "task_name": None,
        "worker": name,
        "host": None,
        "pid": None,
        "queues": [],
        "successful_jobs": None,
        "failed_jobs": None,
        "working_time_s": None,
        "started_at": None,
        "last_heartbeat": None,
        "suspend_requested": True,
        "alive": None,
    }


class ClusterWorkersSource:
    """The Workers view's source over the cluster's Redis at `url` (connected on first use,
    with the keyring's password where the server asks for one)."""

    def __init__(self, url: str, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.url = url
        self._conn: Redis | None = None
        self._clock = clock
        self._offline: set[str] = set()
        self._scanned_at: float | None = None

    def _connection(self) -> Redis:
        if self._conn is None:
            self._conn = connect(self.url)
        return self._conn

    async def _call(self, fn: Callable[[Redis], T]) -> T:
        def call() -> T:
            try:
                return fn(self._connection())
            except RedisError as exc:
                raise unavailable(self.url, exc) from None

        return await asyncio.to_thread(call)

    async def workers(self) -> list[dict[str, Any]]:
        """Every live worker (`ClusterReader.workers()`'s slots, by name) with
        `suspend_requested` and `alive`, then a row per suspended worker that is not live."""
        return await self._call(self._read)

    def _read(self, conn: Redis) -> list[dict[str, Any]]:
        slots: list[dict[str, Any]] = ClusterReader(conn).workers()["slots"]
        with conn.pipeline(transaction=False) as pipe:
            pipe.exists(CLUSTER_PAUSED_KEY)
            for slot in slots:
                pipe.exists(control.suspended_key(slot["worker"]))
            paused, *flags = pipe.execute()
        here = socket.gethostname()
        own: set[str] = set()
        for slot, flag in zip(slots, flags, strict=True):
            slot["cluster_paused"] = bool(paused)
            slot["suspend_requested"] = bool(flag) or bool(paused)
            slot["alive"] = pid_alive(slot["host"], slot["pid"], here)
            if flag:
                own.add(slot["worker"])
        now = self._clock()
        if self._scanned_at is None or now - self._scanned_at >= OFFLINE_SCAN_S:
            self._offline = control.suspended_workers(conn)
            self._scanned_at = now
        live = {s["worker"] for s in slots}
        self._offline -= {s["worker"] for s in slots if s["worker"] not in own}
        return slots + [offline_row(n) for n in sorted(self._offline - live)]

    async def suspend(self, name: str) -> dict[str, Any]:
        """Suspend the worker `name` (`control.suspend_worker`): {"worker", "state"}, state
        "suspended", "suspending" (finishing a task) or "offline" (suspended when it starts).
        QueueError: CLUSTER_WORKER_NOT_FOUND, CLUSTER_CONTROL_NO_ANSWER,
        CLUSTER_REDIS_UNAVAILABLE."""
        answer = await self._control(control.suspend_worker, name)
        self._offline.add(name)
        return answer

    async def resume(self, name: str) -> dict[str, Any]:
        """Let the worker `name` take tasks again (`control.resume_worker`): {"worker",
        "state"}, state "idle", "busy" or "offline"."""
        answer = await self._control(control.resume_worker, name)
        self._offline.discard(name)
        return answer

    async def _control(
        self, command: Callable[[Redis, str], dict[str, Any]], name: str
    ) -> dict[str, Any]:
        return await self._call(lambda conn: command(conn, name))

    async def close(self) -> None:
        """Close the connection (a later call connects again)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            await asyncio.to_thread(conn.close)
