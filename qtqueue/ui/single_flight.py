"""One read at a time, and one more after it where more were asked for meanwhile: the pattern
of the window's figure reads (`stats_refresh.StatsRefresh`) and the statistics view's history
reads (`stats_view.StatsView`)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

logger = logging.getLogger(__name__)

__all__ = ["SingleFlight"]


class SingleFlight:
    """Runs one piece of work at a time through `spawn(coroutine, name)` (the owner's
    background tasks). `start` while one runs starts nothing and remembers that more was
    asked for; once the running one ends (done, failed or refused), `again()` is called once
    for all those asks, and decides when to start the next (a timer, usually)."""

    def __init__(
        self,
        spawn: Callable[[Coroutine[Any, Any, None], str], object],
        again: Callable[[], None],
    ) -> None:
        self._spawn = spawn
        self._again_fn = again
        self._running = False
        self._again = False

    @property
    def running(self) -> bool:
        """Whether a piece of work runs now."""
        return self._running

    def start(self, work: Callable[[], Awaitable[None]], name: str) -> bool:
        """Start `work()` now, or, while one runs, remember to call `again()` once it ends;
        whether it started."""
        if self._running:
            self._again = True
            return False
        self._running = True
        self._spawn(self._run(work), name)
        return True

    async def _run(self, work: Callable[[], Awaitable[None]]) -> None:
        try:
            await work()
        finally:
            self._running = False
            if self._again:
                self._again = False
                self._again_fn()
