"""The HTTP API over a cluster: what `qtqueue run --redis URL --http ADDR` serves.

`ClusterEngine` is the HTTP routes' engine (`qtqueue.api.http.app.HttpEngine`) over a
`ClusterBackend`: the REST routes run the backend's actions (`ClusterBackend.call`: add, list,
show, log, cancel, retry, pause, resume, move, priority, edit, statistics, dead letters,
workers) — `GET /tasks/`'s order and page are applied here, since RQ's registries keep no
order of their own —, the log follows the task's Redis stream, `/events` relays the cluster's
event stream (`ClusterBackend.events()` where it exists; else 501 CLUSTER_NOT_SUPPORTED), and
`/metrics` reads Redis at each scrape (`ClusterCollector`). Anything the cluster does not do answers
its coded error (CLUSTER_NOT_SUPPORTED, 501); Redis unreachable mid-request is
CLUSTER_REDIS_UNAVAILABLE (503) — never a 500.

It runs no task: there is no local engine and no data directory lock. The data directory is
only where the API key (the keyring entry named after it, as `qtqueue run --http` uses) and
the audit trail are.

**Metrics** (prometheus_client; the local engine's names where the figure means the same):

- `queue_depth{queue}` — jobs waiting in each RQ queue's list (ready to be taken);
- `tasks_running{queue}` — jobs in each queue's started registry (running or paused);
- `queue_paused` — 1 while the whole cluster is paused (`pause --queue`, or RQ's global
  suspend set by hand);
- `cluster_jobs{queue, state}` — jobs per RQ state: queued, started, deferred, scheduled,
  finished, failed, canceled (RQ's list and registries; finished ones are kept 24 h / 12 h,
  failed ones 7 days);
- `cluster_dead_letters{queue}` — jobs in each queue's failed registry (RQ's dead letters:
  failed for good, timed out, cancelled while running; qtqueue's own `dead_letter` flag is
  narrower: a task that had retries, see `reads.py`);
- `cluster_workers{state}` — live workers idle, busy and suspended;
- `cluster_worker_jobs_total{worker, outcome}` — jobs each live worker completed or failed;
- `cluster_worker_working_seconds_total{worker}` — the time each live worker spent on jobs;
- `cluster_up` — 1 when this scrape read Redis, 0 when it could not (nothing else then).

Counting costs one LLEN or ZCARD per queue and registry and `Worker.all` (a few round trips per
worker): no job is read, so a scrape stays cheap at 10,000 jobs. The labels hold queue and
worker names, never a task id. Every queue RQ knows is counted (`Queue.all`: the three of
`queues.py`, per-worker queues, another tool's queues in the same Redis).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from redis import Redis
from redis.exceptions import RedisError
from rq.queue import Queue
from rq.registry import (
    BaseRegistry,
    CanceledJobRegistry,
    DeferredJobRegistry,
    FailedJobRegistry,
    FinishedJobRegistry,
    ScheduledJobRegistry,
    StartedJobRegistry,
)

from qtqueue.cluster.backend import ClusterBackend
from qtqueue.cluster.connection import connect, unavailable, where
from qtqueue.cluster.jobs import SERIALIZER
from qtqueue.cluster.pause_state import is_paused
from qtqueue.cluster.queues import DRAIN_ORDER
from qtqueue.cluster.reads import ClusterReader
from qtqueue.core.errors import QueueError, TaskErrorCode

logger = logging.getLogger(__name__)

__all__ = ["SORTS", "ClusterCollector", "ClusterEngine", "read_figures"]

#: The orders `GET /tasks/` takes (as locally), each with a leading "-" for descending.
SORTS = ("created_at", "priority", "name", "status", "started_at", "completed_at")
#: RQ's registries counted per queue, by the state name the metrics give them.
REGISTRIES: tuple[tuple[str, type[BaseRegistry]], ...] = (
    ("started", StartedJobRegistry),
    ("deferred", DeferredJobRegistry),
    ("scheduled", ScheduledJobRegistry),
    ("finished", FinishedJobRegistry),
    ("failed", FailedJobRegistry),
    ("canceled", CanceledJobRegistry),
)
#: What the admin page is told a cluster does not do (its buttons are left out).
PAGE_UNSUPPORTED = ("dispatch",)
WORKER_STATES = ("idle", "busy", "suspended")

Frames = list[tuple[str, bytes]]


def read_figures(redis: Redis) -> dict[str, Any]:
    """The cluster's counts as the metrics give them: `{jobs: {queue: {state: n}}, paused,
    workers: ClusterReader.workers()}` (see the module's notes on what is read)."""
    names = set(DRAIN_ORDER)
    names.update(q.name for q in Queue.all(connection=redis, serializer=SERIALIZER))
    jobs: dict[str, dict[str, int]] = {}
    for name in sorted(names):
        queue = Queue(name, connection=redis, serializer=SERIALIZER)
        counts = {"queued": queue.count}
        for state, cls in REGISTRIES:
            registry = cls(name, connection=redis, serializer=SERIALIZER)
            counts[state] = registry.get_job_count(cleanup=False)  # a read changes nothing
        jobs[name] = counts
    return {
        "jobs": jobs,
        "paused": is_paused(redis),
        "workers": ClusterReader(redis).workers(),
    }


class ClusterCollector(Collector):
    """Reads a cluster's figures from Redis at each scrape (see the module's notes)."""

    def __init__(self, connection: Callable[[], Redis], server: str) -> None:
        self._connection = connection
        self.server = server

    def collect(self) -> Iterator[Metric]:
        """The metric families, as the cluster stands now (only `cluster_up 0` without
        Redis)."""
        up = "1 when this scrape could read the cluster's Redis, 0 when it could not"
        try:
            figures = read_figures(self._connection())
        except (RedisError, OSError, QueueError) as exc:
            logger.warning("metrics: cannot read the cluster's Redis at %s: %s", self.server, exc)
            yield GaugeMetricFamily("cluster_up", up, value=0)
            return
        yield GaugeMetricFamily("cluster_up", up, value=1)
        depth = GaugeMetricFamily(
            "queue_depth", "Jobs waiting in each RQ queue (its list: ready to run)",
            labels=["queue"],
        )  # fmt: skip
        running = GaugeMetricFamily(
            "tasks_running", "Jobs running now (or paused) on workers: each queue's started "
            "registry", labels=["queue"],
        )  # fmt: skip
        states = GaugeMetricFamily(
            "cluster_jobs", "RQ jobs by state (queued: the queue's list; the others: its "
            "registries; finished jobs are kept 24 h / 12 h, failed ones 7 days)",
            labels=["queue", "state"],
        )  # fmt: skip
        dead = GaugeMetricFamily(
            "cluster_dead_letters", "Jobs in each queue's failed registry, RQ's dead letters: "
            "failed for good (retries used up, or none), timed out, or cancelled while running",
            labels=["queue"],
        )  # fmt: skip
        for name, counts in figures["jobs"].items():
            depth.add_metric([name], counts["queued"])
            running.add_metric([name], counts["started"])
            dead.add_metric([name], counts["failed"])
            for state, n in counts.items():
                states.add_metric([name, state], n)
        yield from (depth, running, states, dead)
        yield GaugeMetricFamily(
            "queue_paused", "1 while the whole cluster is paused (no worker starts a task)",
            value=int(figures["paused"]),
        )  # fmt: skip
        workers = figures["workers"]
        by_state = GaugeMetricFamily(
            "cluster_workers", "Live workers by state (idle, busy, suspended)", labels=["state"]
        )
        for state in WORKER_STATES:
            by_state.add_metric([state], workers[state])
        yield by_state
        done = CounterMetricFamily(
            "cluster_worker_jobs", "Jobs each live worker ended, by outcome (completed, failed)",
            labels=["worker", "outcome"],
        )  # fmt: skip
        working = CounterMetricFamily(
            "cluster_worker_working_seconds", "Time each live worker spent running jobs",
            labels=["worker"],
        )  # fmt: skip
        for slot in workers["slots"]:
            done.add_metric([slot["worker"], "completed"], slot["successful_jobs"] or 0)
            done.add_metric([slot["worker"], "failed"], slot["failed_jobs"] or 0)
            working.add_metric([slot["worker"]], float(slot["working_time_s"] or 0.0))
        yield done
        yield working


def _sort_key(field: str) -> Callable[[dict[str, Any]], tuple[Any, ...]]:
    def key(task: dict[str, Any]) -> tuple[Any, ...]:
        value = task.get(field)
        return (value is None, value if value is not None else 0, task.get("created_at") or 0)

    return key


def _event_dict(event: Any) -> dict[str, Any]:
    """An event as `TaskEvent.to_dict` gives it (a dict already, or an object with to_dict)."""
    to_dict = getattr(event, "to_dict", None)
    return dict(to_dict() if callable(to_dict) else event)


class ClusterEngine:
    """The HTTP routes' engine over the cluster whose backend is `backend` (see the module)."""

    kind = "cluster"
    metrics_block = True

    def __init__(self, backend: ClusterBackend, data_dir: Path) -> None:
        self.backend = backend
        self.data_dir = data_dir
        self.server = where(backend.url)
        self._redis: Redis | None = None

    def _connection(self) -> Redis:
        if self._redis is None:
            self._redis = connect(self.backend.url)
        return self._redis

    async def start(self) -> None:
        """Reach Redis now, so that a server that cannot serve says why before it listens:
        QueueError CLUSTER_REDIS_UNAVAILABLE, CLUSTER_REDIS_AUTH_FAILED, CLUSTER_REDIS_TLS."""
        await asyncio.to_thread(self._connection)

    async def _call(self, action: str, params: dict[str, Any]) -> dict[str, Any]:
        try:
            return await self.backend.call(action, params)
        except (RedisError, OSError) as exc:
            raise unavailable(self.backend.url, exc) from None

    async def request(self, body: object) -> dict[str, Any]:
        """One action on the cluster: `{"ok": True, "result"}` or `{"ok": False, "error"}`."""
        if not isinstance(body, dict):
            body = {}
        action = str(body.get("action"))
        params = dict(body.get("params") or {})
        try:
            if action == "list_tasks":
                result = await self._list(params)
            else:
                result = await self._call(action, params)
        except QueueError as exc:
            return {"ok": False, "error": exc.to_dict()}
        except Exception as exc:  # a bug: coded, logged with its stack, as run_action does
            logger.exception("action %s on the cluster failed", action)
            error = QueueError(TaskErrorCode.INTERNAL_ERROR, f"{type(exc).__name__}: {exc}")
            return {"ok": False, "error": error.to_dict()}
        return {"ok": True, "result": result}

    async def _list(self, params: dict[str, Any]) -> dict[str, Any]:
        """`list_tasks` with the local action's `sort`, `limit` and `offset` applied here."""
        sort = params.pop("sort", None)
        limit, offset = params.pop("limit", None), int(params.pop("offset", 0) or 0)
        with_total = params.pop("with_total", False)
        field = str(sort or "created_at").removeprefix("-")
        if field not in SORTS:
            raise QueueError(
                TaskErrorCode.VALIDATION_INVALID_PARAMS,
                f"sort: {sort!r} is not one of {', '.join(SORTS)} (a leading '-' descends)",
                field="sort",
            )
        tasks: list[dict[str, Any]] = (await self._call("list_tasks", params))["tasks"]
        descending = bool(sort and str(sort).startswith("-")) or bool(params.get("newest_first"))
        tasks.sort(key=_sort_key(field), reverse=descending)
        page = tasks[offset : None if limit is None else offset + int(limit)]
        out: dict[str, Any] = {"tasks": page, "count": len(page)}
        if with_total:
            out["total"] = len(tasks)
        return out

    async def get_task(self, task_id: str) -> dict[str, Any]:
        """The task as the cluster holds it now."""
        task: dict[str, Any] = (await self._call("get_task", {"task_id": task_id}))["task"]
        return task

    async def resolve(self, task_id: str) -> str:
        """The job id of a task id or a unique prefix."""
        return str((await self._call("resolve_id", {"task_id": task_id}))["id"])

    async def follow_log(self, task_id: str) -> AsyncIterator[str]:
        """The task's log stream as it grows; ends (logged) if Redis goes away meanwhile."""
        try:
            async for chunk in self.backend.follow_log(task_id):
                yield chunk
        except (RedisError, OSError) as exc:
            logger.warning("following %s's log: Redis at %s went away: %s", task_id,
                           self.server, exc)  # fmt: skip

    def subscribe(
        self, on_frames: Callable[[Frames], None], on_end: Callable[[], None]
    ) -> Callable[[], None]:
        """Relay the cluster's events (`backend.events()`, an async iterator of event dicts —
        or of `TaskEvent`s, or lists of either) as SSE frames; `on_end` when they stop."""
        events = self.backend.events

        async def relay() -> None:
            try:
                async for item in events():
                    batch = [_event_dict(e) for e in (item if isinstance(item, list) else [item])]
                    on_frames([(str(e.get("kind") or "changed"),
                                json.dumps(e, default=str).encode()) for e in batch])  # fmt: skip
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis went away: the streams end, their clients return
                logger.warning("the cluster's event stream at %s ended: %s", self.server, exc)
            on_end()

        task = asyncio.get_running_loop().create_task(relay())

        def unsubscribe() -> None:
            task.cancel()

        return unsubscribe

    def collector(self) -> Collector:
        """The cluster's metrics (`ClusterCollector`)."""
        return ClusterCollector(self._connection, self.server)

    def page_info(self) -> dict[str, Any]:
        """A cluster: its server, whether its events are live, and what the page leaves out."""
        return {
            "kind": self.kind,
            "server": self.server,
            "live": getattr(self.backend, "events", None) is not None,
            "unsupported": list(PAGE_UNSUPPORTED),
        }

    def close(self) -> None:
        """Close this engine's own Redis connection (the metrics')."""
        if self._redis is not None:
            self._redis.close()
            self._redis = None
