"""NETWORK_MONITOR through a real TaskQueue against servers on 127.0.0.1 the tests start and
stop: live samples in the log, alerts (log line, tray notice, webhook POST) when a target goes
down, gets slow and recovers, a failing webhook that never ends the monitor, a fixed duration,
and cancel of an endless monitor."""

from __future__ import annotations

import itertools
import json
import os
import random
from collections.abc import AsyncIterator
from typing import Any

import pytest
from helpers.waiting import eventually
from network_env import HttpServer, Namespace, TcpServer, closed_port

from qtqueue.core.task import Task, TaskStatus, TaskType
from qtqueue.engine.events import EventKind, TaskEvent
from qtqueue.engine.queue import TaskQueue
from qtqueue.families.network.checks import latency_summary
from qtqueue.families.network.monitor import RunningLatency, parse_samples

S = TaskStatus
DONE_S = 30.0


class Notices:
    """Every NOTICE event's text (what the window's tray shows)."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def __call__(self, events: list[TaskEvent]) -> None:
        self.texts += [e.detail for e in events if e.kind is EventKind.NOTICE]


@pytest.fixture
async def target() -> AsyncIterator[TcpServer]:
    server = await TcpServer().start()
    try:
        yield server
    finally:
        await server.stop()


async def start(queue: TaskQueue, **params: Any) -> str:
    return await queue.add_task(Task(TaskType.NETWORK_MONITOR, params, max_retries=0, name="watch"))


async def log_has(queue: TaskQueue, task_id: str, text: str) -> str:
    """The log once it holds `text`."""

    async def check() -> str:
        log = await queue.read_log(task_id)
        return log if text in log else ""

    return str(await eventually(check, DONE_S, f"{text!r} in the log"))


async def test_a_target_going_down_and_back_alerts_by_log_tray_and_webhook_then_cancel(
    nq: TaskQueue, target: TcpServer, http_server: HttpServer
) -> None:
    notices = Notices()
    nq.subscribe(notices)
    name = f"127.0.0.1:{target.port}"
    task_id = await start(
        nq,
        targets=[name],
        interval_s=0.05,
        duration_s=None,
        timeout_s=1.0,
        webhook_url=f"{http_server.url}/hook",
    )
    await eventually(lambda: target.accepted >= 2, DONE_S, "two checks reached the target")
    await target.stop()
    await log_has(nq, task_id, f"alert {name} down:")
    await target.start()  # the same port again
    log = await log_has(nq, task_id, f"alert {name} recovered")

    samples = [s for s in parse_samples(log) if s.target == name]
    assert any(s.latency_ms is None for s in samples)
    assert samples[0].latency_ms is not None and samples[0].latency_ms > 0
    await eventually(lambda: len(http_server.posts) >= 2, DONE_S, "two webhook POSTs")
    assert [(p["target"], p["state"]) for p in http_server.posts[:2]] == [
        (name, "down"),
        (name, "recovered"),
    ]
    assert http_server.posts[0]["task_id"] == task_id
    assert "NETWORK_CONNECTION_FAILED" in http_server.posts[0]["reason"]
    await eventually(lambda: len(notices.texts) >= 2, DONE_S, "two notices")
    assert f"watch: {name} down" in notices.texts[0]
    assert f"watch: {name} recovered" in notices.texts[1]

    await nq.cancel_task(task_id)
    done = await nq.wait_for(task_id, timeout_s=DONE_S)
    assert done.status is S.CANCELLED


async def test_a_monitor_for_a_duration_reports_availability_per_target(
    nq: TaskQueue, target: TcpServer
) -> None:
    up, down = f"127.0.0.1:{target.port}", f"127.0.0.1:{closed_port()}"
    task_id = await start(nq, targets=[up, down], interval_s=0.05, duration_s=0.4)
    done = await nq.wait_for(task_id, timeout_s=DONE_S)
    assert done.status is S.COMPLETED, done.error
    assert done.progress == 100
    r = done.result
    assert r["rounds"] >= 2
    assert r["targets"][up]["availability_pct"] == 100 and r["targets"][up]["avg_ms"] > 0
    assert r["targets"][down]["availability_pct"] == 0 and r["targets"][down]["state"] == "down"
    assert [(a["target"], a["state"]) for a in r["alerts"]] == [(down, "down")]
    samples = parse_samples(await nq.read_log(task_id))
    assert {s.target for s in samples} == {up, down}
    assert len(samples) == 2 * r["rounds"]


async def test_slower_than_the_threshold_alerts_slow_on_local_http(
    nq: TaskQueue, http_server: HttpServer
) -> None:
    url = f"{http_server.url}/"
    task_id = await start(
        nq, targets=[url], interval_s=0.05, duration_s=0.2, latency_threshold_ms=0.001
    )
    done = await nq.wait_for(task_id, timeout_s=DONE_S)
    assert done.status is S.COMPLETED, done.error
    assert done.result["alerts"][0]["state"] == "slow"
    assert "> 0.001 ms" in done.result["alerts"][0]["reason"]


async def test_a_webhook_that_cannot_be_reached_is_logged_and_the_monitor_goes_on(
    nq: TaskQueue,
) -> None:
    down = f"127.0.0.1:{closed_port()}"
    task_id = await start(
        nq,
        targets=[down],
        interval_s=0.05,
        duration_s=0.2,
        webhook_url=f"http://127.0.0.1:{closed_port()}/hook",
    )
    done = await nq.wait_for(task_id, timeout_s=DONE_S)
    assert done.status is S.COMPLETED, done.error
    log = await nq.read_log(task_id)
    assert "webhook failed (NETWORK_CONNECTION_FAILED)" in log


async def test_a_paused_monitor_stops_checking_and_goes_on_when_resumed(
    nq: TaskQueue, target: TcpServer
) -> None:
    task_id = await start(
        nq, targets=[f"127.0.0.1:{target.port}"], interval_s=0.05, duration_s=None
    )
    await eventually(lambda: target.accepted >= 1, DONE_S, "a first check")
    await nq.pause_task(task_id)
    assert (await nq.get_task(task_id)).status is S.PAUSED
    await nq.resume_task(task_id)
    seen = target.accepted
    await eventually(lambda: target.accepted > seen + 1, DONE_S, "checks after resume")
    assert (await nq.get_task(task_id)).status is S.RUNNING
    await nq.cancel_task(task_id)
    assert (await nq.wait_for(task_id, timeout_s=DONE_S)).status is S.CANCELLED


@pytest.mark.skipif(os.geteuid() != 0, reason="ICMP here needs root")
async def test_a_bare_host_is_pinged_by_icmp_as_root(nq: TaskQueue) -> None:
    task_id = await start(nq, targets=["127.0.0.1"], interval_s=0.05, duration_s=0.2)
    done = await nq.wait_for(task_id, timeout_s=DONE_S)
    assert done.status is S.COMPLETED, done.error
    assert done.result["targets"]["127.0.0.1"]["availability_pct"] == 100
    assert "TCP connect to port 80 instead" not in await nq.read_log(task_id)


@pytest.mark.skipif(os.geteuid() != 0, reason="ICMP here needs root")
async def test_a_silent_host_watched_with_loopback_is_always_down_never_flapping(
    nq: TaskQueue, namespace: Namespace
) -> None:
    """Both targets pinged in the same round (same moment, same sequence number): loopback's
    replies must never make the silent host (its namespace drops ICMP) look up."""
    namespace.iptables("-A", "INPUT", "-p", "icmp", "-j", "DROP")
    silent = namespace.address
    task_id = await start(
        nq, targets=[silent, "127.0.0.1"], interval_s=0.05, duration_s=1.0, timeout_s=0.2
    )
    done = await nq.wait_for(task_id, timeout_s=DONE_S)
    assert done.status is S.COMPLETED, done.error
    r = done.result["targets"]
    assert r[silent]["availability_pct"] == 0 and r[silent]["state"] == "down"
    assert r["127.0.0.1"]["availability_pct"] == 100
    assert [(a["target"], a["state"]) for a in done.result["alerts"]] == [(silent, "down")]


async def test_a_cancelled_endless_monitor_ends_its_log_with_its_summary(
    nq: TaskQueue, target: TcpServer
) -> None:
    """The engine keeps no result for a cancelled task: the monitor's summary (rounds,
    availability and latency per target, alerts) is the last line it writes."""
    up, down = f"127.0.0.1:{target.port}", f"127.0.0.1:{closed_port()}"
    task_id = await start(nq, targets=[up, down], interval_s=0.05, duration_s=None)
    await eventually(lambda: target.accepted >= 3, DONE_S, "three rounds")
    await nq.cancel_task(task_id)
    assert (await nq.wait_for(task_id, timeout_s=DONE_S)).status is S.CANCELLED
    log = await nq.read_log(task_id)
    own = [line for line in log.splitlines() if not line.startswith("[qtqueue]")]
    assert own[-1].startswith("summary ") and own[-2].startswith("cancelled after ")
    summary = json.loads(own[-1].removeprefix("summary "))
    samples = parse_samples(log)
    assert summary["rounds"] >= 2
    for name in (up, down):  # every sample logged is counted, the last round's too
        assert summary["targets"][name]["samples"] == sum(s.target == name for s in samples)
    assert summary["targets"][up]["availability_pct"] == 100
    assert summary["targets"][down]["availability_pct"] == 0
    assert [(a["target"], a["state"]) for a in summary["alerts"]] == [(down, "down")]


async def test_rounds_slower_than_the_interval_are_spaced_not_fired_back_to_back(
    nq: TaskQueue, namespace: Namespace
) -> None:
    """A target whose SYNs the test's namespace drops: each check waits its whole timeout
    (0.3 s), longer than the interval (0.2 s); the next round still waits its interval after
    the slow one ended instead of firing at once to catch up."""
    namespace.iptables("-A", "INPUT", "-p", "tcp", "--dport", "9", "-j", "DROP")
    blackhole = f"{namespace.address}:9"
    task_id = await start(nq, targets=[blackhole], interval_s=0.2, timeout_s=0.3, duration_s=1.6)
    done = await nq.wait_for(task_id, timeout_s=DONE_S)
    assert done.status is S.COMPLETED, done.error
    times = [s.t for s in parse_samples(await nq.read_log(task_id))]
    assert len(times) >= 2 and done.result["targets"][blackhole]["availability_pct"] == 0
    gaps = [b - a for a, b in itertools.pairwise(times)]
    # A sample is written when its round ends: the next ends a full interval plus a timeout
    # later (back to back, it would be a timeout later).
    assert min(gaps) >= 0.3 + 0.2 - 0.01, gaps


def test_a_long_monitor_keeps_running_totals_that_match_every_sample() -> None:
    """A monitor running for days keeps a few numbers per target, not every sample: its
    totals give what the whole list of samples gives."""
    rng = random.Random(14)
    samples = [None if rng.random() < 0.1 else rng.uniform(0.1, 50.0) for _ in range(50_000)]
    running = RunningLatency()
    for ms in samples:
        running.add(ms)
    got = running.summary()
    whole = latency_summary(samples)
    assert {k: got[k] for k in whole} == whole
    assert got["samples"] == len(samples)
    assert got["availability_pct"] == round(100.0 - whole["loss_pct"], 1)
