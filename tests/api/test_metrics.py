"""`GET /metrics` (api/http/metrics.py) served by a real HttpServer on 127.0.0.1 over a real
engine, parsed with prometheus_client's own parser: the RQ-style document's counters by queue
and task type, the duration histogram, the depth and running gauges, the slots; one registry
per engine; no task id in any label."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from helpers.gate import Gate
from helpers.queues import QueueFactory
from prometheus_client import REGISTRY, generate_latest

from api.metrics_env import scrape, value
from qtqueue.api.http import metrics
from qtqueue.api.http.app import is_public
from qtqueue.api.http.server import HttpServer
from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.core.task import Task
from qtqueue.engine.metrics import DURATION_BUCKETS_S, DurationHistogram
from qtqueue.engine.queue import TaskQueue

pytestmark = pytest.mark.usefixtures("secret_service")  # the API key is in the keyring


async def _ok(task_id: str, params: dict[str, Any]) -> dict[str, Any]:
    return {}


async def _bad(task_id: str, params: dict[str, Any]) -> dict[str, Any]:
    raise QueueError(TaskErrorCode.NETWORK_TIMEOUT, "the far end never answered")


@pytest.fixture
async def served(make_queue: QueueFactory) -> AsyncIterator[tuple[TaskQueue, str]]:
    queue = await make_queue()
    queue.register_handler("ok", _ok)
    queue.register_handler("bad", _bad)
    async with HttpServer(queue) as server:
        yield queue, server.url


async def test_counters_and_histogram_by_queue_and_type_after_a_run(
    served: tuple[TaskQueue, str],
) -> None:
    queue, url = served
    await queue.set_queue("fast")
    tasks = [
        *(Task("ok", {}, queue="fast") for _ in range(3)),
        Task("ok", {}),  # default (by its priority)
        *(Task("bad", {}, queue="fast", max_retries=0) for _ in range(2)),
        Task(
            "bad", {}, queue="fast", max_retries=1, retry_backoff=0.0
        ),  # fails twice, counted once
    ]
    ids = await queue.add_tasks(tasks)
    for tid in ids:
        await queue.wait_for(tid, timeout_s=20)
    samples = await scrape(url, queue.data_dir)

    assert value(samples, "jobs_enqueued_total", queue="fast", task_type="ok") == 3
    assert value(samples, "jobs_enqueued_total", queue="default", task_type="ok") == 1
    assert value(samples, "jobs_enqueued_total", queue="fast", task_type="bad") == 3
    assert value(samples, "jobs_completed_total", queue="fast", task_type="ok") == 3
    assert value(samples, "jobs_completed_total", queue="default", task_type="ok") == 1
    assert value(samples, "jobs_failed_total", queue="fast", task_type="bad") == 3
    assert value(samples, "jobs_completed_total", queue="fast", task_type="bad") is None
    assert value(samples, "job_duration_seconds_count", queue="fast") == 6
    assert value(samples, "job_duration_seconds_count", queue="default") == 1
    buckets = [
        s
        for s in samples
        if s.name == "job_duration_seconds_bucket" and s.labels["queue"] == "fast"
    ]
    assert [s.labels["le"] for s in buckets] == [
        *(str(float(b)) for b in DURATION_BUCKETS_S),
        "+Inf",
    ]
    counts = [s.value for s in buckets]
    assert counts == sorted(counts) and counts[-1] == 6  # cumulative, +Inf holds them all
    assert 0 < value(samples, "job_duration_seconds_sum", queue="fast") < 60  # type: ignore[operator]
    assert value(samples, "alerts_total", kind="dead_letter") == 1  # the one that retried

    labels = {v for s in samples for v in s.labels.values()}
    assert not any(tid in v for tid in ids for v in labels)  # no task id in any label
    bounds = {s.labels["le"] for s in buckets}
    names = {"fast", "default", "high_priority", "low_priority", "ok", "bad"}
    assert labels <= names | bounds | {"dead_letter", "queue_depth"}


async def test_depth_running_and_slots_are_read_at_scrape_time(
    make_queue: QueueFactory,
) -> None:
    queue = await make_queue(max_concurrent=2)
    gate = Gate()
    queue.register_handler("gated", gate.handler)
    for name in ("a", "b"):
        await queue.set_queue(name)
    async with HttpServer(queue) as server:
        running = await queue.add_tasks(Task("gated", {}, queue="a") for _ in range(2))
        await queue.settled()
        await queue.add_tasks([*(Task("gated", {}, queue="a") for _ in range(3)),
                               Task("gated", {}, queue="b")])  # fmt: skip
        await queue.settled()
        samples = await scrape(server.url, queue.data_dir)
        assert value(samples, "queue_depth", queue="a") == 3
        assert value(samples, "queue_depth", queue="b") == 1
        assert value(samples, "queue_depth", queue="default") == 0
        assert value(samples, "tasks_running", queue="a") == 2
        assert (
            value(samples, "worker_slots_busy") == 2 and value(samples, "worker_slots_limit") == 2
        )
        assert value(samples, "queue_paused") == 0
        for q in queue.list_queues():  # the counts kept agree with a count of the tasks
            assert value(samples, "queue_depth", queue=q["name"]) == q["waiting"]
            assert value(samples, "tasks_running", queue=q["name"]) == q["running"]

        await queue.pause_queue()
        for tid in running:
            gate.open(tid)
            await queue.wait_for(tid, timeout_s=20)
        samples = await scrape(server.url, queue.data_dir)
        assert value(samples, "worker_slots_busy") == 0 and value(samples, "queue_paused") == 1
        assert value(samples, "jobs_completed_total", queue="a", task_type="gated") == 2
        assert value(samples, "queue_depth", queue="a") == 3


async def test_each_engine_has_its_own_registry(make_queue: QueueFactory, tmp_path: Any) -> None:
    one = await make_queue(data_dir=tmp_path / "one")
    two = await make_queue(data_dir=tmp_path / "two")
    one.register_handler("ok", _ok)
    await one.set_queue("mine")
    await one.wait_for(await one.add_task(Task("ok", {}, queue="mine")), timeout_s=20)
    async with HttpServer(one) as s1, HttpServer(two) as s2:
        first, second = await asyncio.gather(
            scrape(s1.url, one.data_dir), scrape(s2.url, two.data_dir)
        )
    assert value(first, "jobs_completed_total", queue="mine", task_type="ok") == 1
    assert value(second, "jobs_completed_total", queue="mine", task_type="ok") is None
    assert b"jobs_completed" not in generate_latest(REGISTRY)  # the global registry is untouched


def test_metrics_need_the_api_key() -> None:
    assert not is_public(metrics.metrics)


def test_durations_fall_in_their_buckets() -> None:
    histogram = DurationHistogram()
    for seconds in (0.01, 0.05, 2.0, 2.0, 7200.0, 10 * 86400.0):
        histogram.observe(seconds)
    cumulative = dict(histogram.cumulative())
    assert cumulative["0.05"] == 2  # an upper bound is inclusive
    assert cumulative["1.0"] == 2 and cumulative["5.0"] == 4
    assert cumulative["3600.0"] == 4 and cumulative["14400.0"] == 5
    assert cumulative["86400.0"] == 5 and cumulative["+Inf"] == 6
    assert histogram.count == 6 and histogram.total_s == pytest.approx(7204.06 + 864000)
