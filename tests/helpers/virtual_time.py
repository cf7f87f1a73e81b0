"""A clock the test moves by hand, for `TaskQueue(timer=..., clock=...)`."""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from typing import Any


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
