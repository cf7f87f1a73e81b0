"""The main window's reads of the queue's figures (`get_queue_stats()`) for the statistics tab
and the status bar: one at a time, at most one more asked for while one runs, after a short
delay that gathers a burst of engine events into one read."""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

from PySide6.QtCore import QObject, QTimer

from qtqueue.api.port import EnginePort
from qtqueue.core.errors import QueueError
from qtqueue.ui.single_flight import SingleFlight

logger = logging.getLogger(__name__)

#: How long after a change the figures are read again (ms).
STATS_DELAY_MS = 500


class StatsRefresh:
    """Reads `queue`'s figures and hands them to `show` when `timer` fires (`request()` starts
    it unless it is already counting down; `now()` reads at the next turn of the loop). The
    read runs as `spawn(coroutine, name)`; none starts once `stopping()` holds."""

    def __init__(
        self,
        queue: EnginePort,
        show: Callable[[dict[str, Any]], None],
        spawn: Callable[[Coroutine[Any, Any, None], str], object],
        stopping: Callable[[], bool],
        parent: QObject,
    ) -> None:
        self._queue = queue
        self._show = show
        self._stopping = stopping
        self.timer = QTimer(parent)
        self.timer.setSingleShot(True)
        self.timer.setInterval(STATS_DELAY_MS)
        self.timer.timeout.connect(self._start)
        self._flight = SingleFlight(spawn, self.timer.start)

    def request(self) -> None:
        """Read the figures once the delay has passed (a burst of changes: one read)."""
        if not self.timer.isActive():
            self.timer.start()

    def now(self) -> None:
        """Read the figures at the next turn of the loop."""
        self.timer.start(0)

    def stop(self) -> None:
        """No more reads."""
        self.timer.stop()

    def _start(self) -> None:
        if not self._stopping():
            self._flight.start(self._refresh, "refresh statistics")

    async def _refresh(self) -> None:
        try:
            stats = await self._queue.get_queue_stats()
        except QueueError as exc:
            logger.debug("no statistics: %s", exc)
            return
        self._show(stats)
