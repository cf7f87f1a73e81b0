"""NETWORK_MONITOR: targets checked at an interval for a duration or until cancelled.

Each check writes one `sample <t> <target> <ms|down>` line to the task log (t: seconds since
the start), which the detail pane's chart (qt.py) reads back; a target going down or getting
slower than the threshold, and its recovery, write an `alert <target> <state>: <why>` line,
raise a notice (the window's tray shows it) and, when a webhook URL is given, POST the alert
as JSON there (a failed POST is logged; it never ends the monitor)."""

from __future__ import annotations

import asyncio
import json
import logging
import math
import re
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar

from qtqueue.core.task import TaskType
from qtqueue.executors.base import Executor, RunContext
from qtqueue.families.network.params import NetworkMonitorParams
from qtqueue.families.network.probes import (
    icmp_socket_kind,
    network_error,
    parse_target,
    ping_icmp,
    probe_http,
    probe_tcp,
    resolve,
)

logger = logging.getLogger(__name__)

__all__ = [
    "NetworkMonitorExecutor",
    "RunningLatency",
    "Sample",
    "format_sample",
    "parse_samples",
]

_SAMPLE = re.compile(r"^sample (\d+(?:\.\d+)?) (\S+) (down|\d+(?:\.\d+)?)$", re.MULTILINE)
#: Seconds a webhook POST of an alert may take.
WEBHOOK_TIMEOUT_S = 10.0


@dataclass(frozen=True, slots=True)
class Sample:
    """One check of one target: when (s since start), and its latency in ms (None: down)."""

    t: float
    target: str
    latency_ms: float | None


def format_sample(sample: Sample) -> str:
    """The log line of a sample: `sample 12.503 host:80 1.234` (or `... down`)."""
    value = "down" if sample.latency_ms is None else f"{sample.latency_ms:.3f}"
    return f"sample {sample.t:.3f} {sample.target} {value}"


def parse_samples(text: str) -> list[Sample]:
    """The samples of complete `sample …` lines in `text`, in order."""
    return [
        Sample(float(t), target, None if v == "down" else float(v))
        for t, target, v in _SAMPLE.findall(text)
    ]


@dataclass(slots=True)
class RunningLatency:
    """A target's samples as running totals: an endless monitor keeps a few numbers per
    target, never the samples themselves (the log keeps those, for the chart)."""

    samples: int = 0
    answered: int = 0
    total_ms: float = 0.0
    min_ms: float | None = None
    max_ms: float | None = None

    def add(self, ms: float | None) -> None:
        """Count one sample (None: down)."""
        self.samples += 1
        if ms is None:
            return
        self.answered += 1
        self.total_ms += ms
        self.min_ms = ms if self.min_ms is None else min(self.min_ms, ms)
        self.max_ms = ms if self.max_ms is None else max(self.max_ms, ms)

    def summary(self) -> dict[str, Any]:
        """min/avg/max latency (ms) of the answered samples, the % lost and the % up."""
        lost = 100.0 * (self.samples - self.answered) / self.samples if self.samples else 0.0
        avg = round(self.total_ms / self.answered, 3) if self.answered else None
        return {
            "min_ms": None if self.min_ms is None else round(self.min_ms, 3),
            "avg_ms": avg,
            "max_ms": None if self.max_ms is None else round(self.max_ms, 3),
            "loss_pct": round(lost, 1),
            "availability_pct": round(100.0 - lost, 1),
            "samples": self.samples,
        }


@dataclass(slots=True)
class _Watched:
    """A target's running state: its latency totals and whether it is up/slow now."""

    name: str
    latency: RunningLatency = field(default_factory=RunningLatency)
    state: str = "unknown"  # up, slow, down
    alerts: int = 0


class NetworkMonitorExecutor(Executor[NetworkMonitorParams]):
    """Checks targets every `interval_s` and alerts on down/slow and on recovery."""

    task_type: ClassVar[TaskType | str] = TaskType.NETWORK_MONITOR
    summary: ClassVar[str] = "Watch hosts and URLs: latency and availability, alerts"

    async def run(self, ctx: RunContext[NetworkMonitorParams]) -> dict[str, Any] | None:
        p = ctx.params
        for text in p.targets:
            parse_target(text)  # a bad target fails before the first round
        watched = [_Watched(t) for t in p.targets]
        icmp = icmp_socket_kind()
        if icmp is None and any(parse_target(t).port is None and "://" not in t for t in p.targets):
            ctx.log(
                "ping: ICMP is not allowed for this process (not root, unprivileged ping "
                "off); bare hosts are checked by a TCP connect to port 80 instead"
            )
        alerts: list[dict[str, Any]] = []
        start = time.monotonic()
        rounds = 0

        def summary() -> dict[str, Any]:
            return {
                "rounds": rounds,
                "duration_s": round(time.monotonic() - start, 3),
                "targets": {
                    w.name: {**w.latency.summary(), "state": w.state, "alerts": w.alerts}
                    for w in watched
                },
                "alerts": alerts,
            }

        import aiohttp

        try:
            async with aiohttp.ClientSession(trust_env=True) as session:
                while True:
                    await ctx.checkpoint()
                    began = time.monotonic()
                    if p.duration_s is not None and began - start >= p.duration_s:
                        break
                    results = await asyncio.gather(
                        *(self._check(w.name, p.timeout_s, icmp, session) for w in watched)
                    )
                    t = time.monotonic() - start
                    for w, (ms, why) in zip(watched, results, strict=True):
                        w.latency.add(ms)
                        ctx.log(format_sample(Sample(t, w.name, ms)))
                        alert = self._transition(w, ms, why, p.latency_threshold_ms)
                        if alert is not None:
                            alert["t"] = round(t, 3)
                            alerts.append(alert)
                            await self._announce(ctx, session, alert, p.webhook_url)
                    rounds += 1
                    if p.duration_s is not None:
                        ctx.progress(min(100.0, 100.0 * t / p.duration_s), f"round {rounds}")
                    else:
                        ctx.progress(0.0, f"round {rounds}, {len(alerts)} alert(s)")
                    if not await self._until_next_round(began, p.interval_s, start, p.duration_s):
                        break
        except asyncio.CancelledError:
            # The engine stores no result for a cancelled task: the summary is the log's last
            # line instead (`summary {...}`, JSON).
            ctx.log(f"cancelled after {rounds} round(s)")
            ctx.log("summary " + json.dumps(summary(), sort_keys=True))
            raise
        ctx.progress(100.0, "done")
        return summary()

    @staticmethod
    async def _until_next_round(
        began: float, interval_s: float, start: float, duration_s: float | None
    ) -> bool:
        """Wait for the next round: `interval_s` after this round began, or — when this round
        took longer than that (checks waiting for their timeout) — `interval_s` after it
        ended, so rounds never fire back to back to catch up. False (after waiting out the
        duration) when the duration ends first."""
        now = time.monotonic()
        next_at = began + interval_s
        if next_at <= now:
            next_at = now + interval_s
        end = start + duration_s if duration_s is not None else math.inf
        wait = min(next_at, end) - now
        if wait > 0:
            await asyncio.sleep(wait)  # the monitor's own interval
        return next_at < end

    async def _check(
        self, text: str, timeout_s: float, icmp: int | None, session: Any
    ) -> tuple[float | None, str]:
        target = parse_target(text)
        try:
            if target.url is not None:
                got = await probe_http(session, target.url, timeout_s, None)
                if got.status >= 400:
                    return None, f"HTTP {got.status}"
                return got.latency_ms, ""
            if target.port is None and icmp is not None:
                addresses, _ = await resolve(target.host, timeout_s)
                v4 = next((a for a in addresses if ":" not in a), None)
                if v4 is None:
                    return None, f"{text}: no IPv4 address to ping"
                return await ping_icmp(
                    v4, icmp, int(time.monotonic() * 1000) & 0xFFFF, timeout_s
                ), ""
            return await probe_tcp(target.host, target.port or 80, timeout_s), ""
        except Exception as exc:  # every failure is a 'down' sample, with its code
            err = network_error(exc, text, timeout_s)
            return None, f"{err.code}: {err.message}"

    def _transition(
        self, w: _Watched, ms: float | None, why: str, threshold: float | None
    ) -> dict[str, Any] | None:
        if ms is None:
            state = "down"
        elif threshold is not None and ms > threshold:
            state = "slow"
            why = f"{ms:.1f} ms > {threshold:g} ms"
        else:
            state = "up"
            why = f"{ms:.1f} ms"
        before, w.state = w.state, state
        if state == before or (before == "unknown" and state == "up"):
            return None
        kind = "recovered" if state == "up" else state
        w.alerts += 1
        return {"target": w.name, "state": kind, "previous": before, "reason": why}

    async def _announce(
        self,
        ctx: RunContext[NetworkMonitorParams],
        session: Any,
        alert: dict[str, Any],
        webhook_url: str | None,
    ) -> None:
        text = f"alert {alert['target']} {alert['state']}: {alert['reason']}"
        ctx.log(text)
        ctx.alert(f"{ctx.task.name}: {alert['target']} {alert['state']} ({alert['reason']})")
        if webhook_url is None:
            return
        import aiohttp

        body = {"task_id": ctx.task.id, "task": ctx.task.name, **alert}
        try:
            async with session.post(
                webhook_url, json=body, timeout=aiohttp.ClientTimeout(total=WEBHOOK_TIMEOUT_S)
            ) as resp:
                if resp.status >= 300:
                    ctx.log(f"webhook {webhook_url}: answered {resp.status}")
        except Exception as exc:  # a failed notification never ends the monitor
            err = network_error(exc, f"webhook {webhook_url}", WEBHOOK_TIMEOUT_S)
            ctx.log(f"webhook failed ({err.code}): {err.message}")
