"""Waiting on conditions, and a task handler the test controls. No fixed sleeps anywhere."""

from __future__ import annotations

import asyncio
import heapq
import inspect
import itertools
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import psutil

from qtqueue.core.errors import QueueError

POLL_S = 0.02

Predicate = Callable[[], Any | Awaitable[Any]]


async def _check(predicate: Predicate) -> Any:
    value = predicate()
    if inspect.isawaitable(value):
        value = await value
    return value


async def eventually(predicate: Predicate, timeout_s: float = 10.0, what: str = "") -> Any:
    """Return predicate()'s first truthy value, re-checking every 20 ms; fail after timeout_s."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = await _check(predicate)
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout_s} s: {what or predicate}")
        await asyncio.sleep(POLL_S)


class VirtualTimer:
    """A `Timer` whose time moves only when the test says (`advance`), for
    `TaskQueue(timer=t, clock=t.time)`: delays, expiry and timeouts then come when the test
    makes them come, and a negative claim needs no waiting."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self._start = start
        self._now = 0.0
        self._due: list[tuple[float, int, _VirtualHandle]] = []
        self._seq = itertools.count()

    def monotonic(self) -> float:
        return self._now

    def time(self) -> float:
        """UNIX time on this timer."""
        return self._start + self._now

    def call_later(self, delay_s: float, callback: Callable[..., object], *args: Any) -> Any:
        handle = _VirtualHandle(callback, args)
        heapq.heappush(self._due, (self._now + max(0.0, delay_s), next(self._seq), handle))
        return handle

    def advance(self, seconds: float) -> None:
        """Move time on, calling every callback that falls due, in order."""
        until = self._now + seconds
        while self._due and self._due[0][0] <= until:
            at, _, handle = heapq.heappop(self._due)
            self._now = max(self._now, at)
            handle.fire()
        self._now = until


class _VirtualHandle:
    def __init__(self, callback: Callable[..., object], args: tuple[Any, ...]) -> None:
        self._callback: Callable[..., object] | None = callback
        self._args = args

    def cancel(self) -> None:
        self._callback = None

    def fire(self) -> None:
        if self._callback is not None:
            callback, self._callback = self._callback, None
            callback(*self._args)


def gone(pid: int) -> bool:
    """The process has exited. A zombie counts: it has exited and only waits to be reaped, and
    whether it is reaped depends on the machine's init (some container inits never reap)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def tree_pids(pid: int) -> list[int]:
    """The process and all its live descendants."""
    try:
        root = psutil.Process(pid)
        return [pid, *(p.pid for p in root.children(recursive=True))]
    except psutil.NoSuchProcess:
        return []


def status_of(pid: int) -> str:
    try:
        return str(psutil.Process(pid).status())
    except psutil.NoSuchProcess:
        return "gone"


def log_text(path: Path) -> str:
    """A task's whole retained log, read from its files."""
    parts = [p for p in (path.with_name(path.name + ".1"), path) if p.exists()]
    return b"".join(p.read_bytes() for p in parts).decode("utf-8", "replace")


class Gate:
    """An async handler the test controls: each run waits until the test opens its gate.

    Records the order in which runs started and how many ran at once. Params understood:
    "label" (returned as the result) and "fail" (a TaskErrorCode to raise once let through).
    """

    def __init__(self) -> None:
        self.started: list[str] = []
        self.labels: list[Any] = []
        self.running: dict[str, Any] = {}
        self.peak = 0
        self.peak_by_label: dict[Any, int] = defaultdict(int)
        self._gates: dict[str, asyncio.Event] = defaultdict(asyncio.Event)
        self._all_open = False

    async def handler(self, task_id: str, params: dict[str, Any]) -> dict[str, Any]:
        self.started.append(task_id)
        label = params.get("label")
        self.labels.append(label)
        self.running[task_id] = label
        self.peak = max(self.peak, len(self.running))
        same = sum(1 for x in self.running.values() if x == label)
        self.peak_by_label[label] = max(self.peak_by_label[label], same)
        try:
            if not self._all_open:
                await self._gates[task_id].wait()
        finally:
            del self.running[task_id]
        if params.get("fail"):
            raise QueueError(params["fail"], "failing as asked")
        return {"label": params.get("label")}

    def open(self, task_id: str) -> None:
        self._gates[task_id].set()

    def open_all(self) -> None:
        """Let every run through, now and from now on."""
        self._all_open = True
        for event in self._gates.values():
            event.set()

    def runs(self, task_id: str) -> int:
        return self.started.count(task_id)
