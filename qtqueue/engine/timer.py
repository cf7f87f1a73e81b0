"""The engine's timers and running-time clock, injected so that tests can move time.

`LoopTimer` (the default) is the event loop's own: `monotonic()` is the loop's time and
`call_later` the loop's. A test hands `TaskQueue(timer=...)` another `Timer` whose time it
advances itself; the engine's UNIX clock (`TaskQueue(clock=...)`) should then follow it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, Protocol

logger = logging.getLogger(__name__)

#: The longest delay handed to the loop in one timer. Under qasync (the window's engine) a
#: loop timer is a Qt timer, which holds milliseconds in a 32-bit int: a delay past ~24.8 days
#: (a task to run next month) raised OverflowError. Longer delays are chained.
MAX_LOOP_DELAY_S = 86_400.0


class TimerHandle(Protocol):
    """A callback that was scheduled."""

    def cancel(self) -> None:
        """Do not call it (a no-op once called)."""


class Timer(Protocol):
    """Running time, and callbacks after a delay of it."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back (for durations)."""
        ...

    def call_later(
        self, delay_s: float, callback: Callable[..., object], *args: Any
    ) -> TimerHandle:
        """Call `callback(*args)` on the loop once `delay_s` seconds have passed."""
        ...


class LoopTimer:
    """The event loop's time and timers."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def monotonic(self) -> float:
        """The loop's time."""
        return self._loop.time()

    def call_later(
        self, delay_s: float, callback: Callable[..., object], *args: Any
    ) -> TimerHandle:
        """`loop.call_later`; a delay over `MAX_LOOP_DELAY_S` is waited in steps."""
        if delay_s <= MAX_LOOP_DELAY_S:
            return self._loop.call_later(delay_s, callback, *args)
        return _Chained(self._loop, delay_s, callback, args)


class _Chained:
    """A long delay as a chain of loop timers of at most `MAX_LOOP_DELAY_S` each."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        delay_s: float,
        callback: Callable[..., object],
        args: tuple[Any, ...],
    ) -> None:
        self._loop = loop
        self._due = loop.time() + delay_s
        self._callback = callback
        self._args = args
        self._handle = self._arm()

    def _arm(self) -> asyncio.TimerHandle:
        left = self._due - self._loop.time()
        if left <= MAX_LOOP_DELAY_S:
            return self._loop.call_later(max(0.0, left), self._callback, *self._args)
        return self._loop.call_later(MAX_LOOP_DELAY_S, self._relay)

    def _relay(self) -> None:
        self._handle = self._arm()

    def cancel(self) -> None:
        """Call nothing (the step waiting now is cancelled)."""
        self._handle.cancel()
