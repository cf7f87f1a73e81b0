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
        """`loop.call_later`."""
        return self._loop.call_later(delay_s, callback, *args)
