"""`/metrics`: the engine's figures in Prometheus's text format (prometheus_client).

The RQ-style design document's metrics, read from the engine's memory at each scrape (no store
query): `jobs_enqueued_total`, `jobs_completed_total`, `jobs_failed_total` (by `queue` and
`task_type`, counted since the engine started: `TaskQueue.metrics`), `job_duration_seconds`
(histogram by `queue`), `queue_depth` (tasks waiting, by `queue`), `tasks_running` (by
`queue`), `worker_slots_busy`, `worker_slots_limit`, `queue_paused` and `alerts_total` (by
`kind`). Labels hold only queue names, task types and alert kinds: never a task id.

On a cluster (`qtqueue run --redis URL --http ADDR`) the figures are the cluster's instead
(`cluster_metrics.ClusterCollector`, read from Redis at each scrape, in a thread).

Each application has its own `CollectorRegistry` (never prometheus_client's global one: one
process may serve several engines). Like every API route, it needs the API key.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Iterator

from aiohttp import web
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

from qtqueue.api.http.app import ENGINE, HttpEngine
from qtqueue.engine.queue import TaskQueue

logger = logging.getLogger(__name__)

__all__ = ["REGISTRY", "EngineCollector", "add_routes"]

#: The application's own registry (holding its `EngineCollector`).
REGISTRY = web.AppKey("metrics_registry", CollectorRegistry)

_COUNTERS = (
    ("jobs_enqueued", "Tasks added, since the engine started", "enqueued"),
    ("jobs_completed", "Tasks completed, since the engine started", "completed"),
    ("jobs_failed", "Tasks failed or timed out for good (no retry left)", "failed"),
    ("jobs_cancelled", "Tasks cancelled or rejected, since the engine started", "cancelled"),
)


class EngineCollector(Collector):
    """Reads one engine's counts and gauges at each scrape."""

    def __init__(self, queue: TaskQueue) -> None:
        self.queue = queue

    def collect(self) -> Iterator[Metric]:
        """The metric families, as the engine stands now."""
        queue = self.queue
        counts = queue.metrics
        for name, doc, attr in _COUNTERS:
            family = CounterMetricFamily(name, doc, labels=["queue", "task_type"])
            by_labels: Counter[tuple[str, str]] = getattr(counts, attr)
            for (queue_name, task_type), n in sorted(by_labels.items()):
                family.add_metric([queue_name, task_type], n)
            yield family
        durations = HistogramMetricFamily(
            "job_duration_seconds", "How long finished tasks ran", labels=["queue"]
        )
        for queue_name, histogram in sorted(counts.durations.items()):
            durations.add_metric([queue_name], histogram.cumulative(), histogram.total_s)
        yield durations
        depth = GaugeMetricFamily("queue_depth", "Tasks waiting to run", labels=["queue"])
        running = GaugeMetricFamily("tasks_running", "Tasks running now", labels=["queue"])
        for name, (waiting, under_way) in sorted(queue.queue_depths().items()):
            depth.add_metric([name], waiting)
            running.add_metric([name], under_way)
        yield depth
        yield running
        yield GaugeMetricFamily(
            "worker_slots_busy", "Worker slots in use (paused tasks hold theirs)",
            value=queue.slots.used,
        )  # fmt: skip
        yield GaugeMetricFamily(
            "worker_slots_limit", "How many tasks may run at once", value=queue.max_concurrent
        )
        yield GaugeMetricFamily(
            "queue_paused", "1 while the queue starts nothing new", value=int(queue.queue_paused)
        )
        alerts = CounterMetricFamily(
            "alerts", "Alerts raised (dead letters, queue backlogs)", labels=["kind"]
        )
        for kind in ("dead_letter", "queue_depth"):
            alerts.add_metric([kind], queue.alerts.raised_total[kind])
        yield alerts


def registry_for(engine: HttpEngine) -> CollectorRegistry:
    """A registry of its own holding `engine`'s collector (a local engine's `EngineCollector`,
    a cluster's `ClusterCollector`)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(engine.collector())
    return registry


async def metrics(request: web.Request) -> web.Response:
    """`GET /metrics`: every metric in the text format Prometheus scrapes."""
    registry = request.app[REGISTRY]
    if request.app[ENGINE].metrics_block:  # a cluster's: Redis round trips, off the loop
        body = await asyncio.to_thread(generate_latest, registry)
    else:
        body = generate_latest(registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def add_routes(app: web.Application) -> None:
    """Add this part's routes to `app`."""
    app[REGISTRY] = registry_for(app[ENGINE])
    app.router.add_get("/metrics", metrics)
