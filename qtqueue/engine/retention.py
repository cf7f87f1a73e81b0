"""Retention: finished tasks (and their logs) are deleted once they are older than the retention
period, or their named queue's result TTL (completed tasks) or failure TTL (failed, cancelled
and timed-out ones); dead letters are kept until purged by hand. A timer runs the cleanup
while the engine runs."""

from __future__ import annotations

import asyncio
import logging

from qtqueue.core.task import RETRYABLE_TERMINAL, TaskStatus
from qtqueue.engine.events import EventKind, TaskEvent
from qtqueue.engine.logs import remove_log
from qtqueue.engine.state import EngineState
from qtqueue.engine.timer import TimerHandle

logger = logging.getLogger(__name__)

DEFAULT_RETENTION_S = 30 * 86400.0
_SUCCEEDED = (TaskStatus.COMPLETED,)


class Retention:
    """The cleanup of finished tasks, and its timer."""

    def __init__(
        self, state: EngineState, retention_s: float | None, cleanup_interval_s: float
    ) -> None:
        self.state = state
        #: Finished tasks are kept this many seconds (None: for ever).
        self.retention_s = retention_s
        self.cleanup_interval_s = cleanup_interval_s
        self._timer: TimerHandle | None = None

    async def cleanup(self, older_than_s: float | None = None) -> int:
        """Delete finished tasks (and logs) completed more than `older_than_s` ago (default:
        the retention period, and each named queue's result TTL for its completed tasks and
        failure TTL for the others). Dead letters are kept. Returns how many were removed."""
        state = self.state
        state.require_open()
        keep_s = older_than_s if older_than_s is not None else self.retention_s
        began = state.retries_accepted
        writer = state.the_writer()
        await writer.flush()
        now = state.clock()
        ids = await state.store.finished_before(now - keep_s) if keep_s is not None else []
        if older_than_s is None:  # each queue's result and failure TTLs too
            for q in state.queues.values():
                for ttl_s, statuses in (
                    (q.result_ttl_s, _SUCCEEDED),
                    (q.failure_ttl_s, RETRYABLE_TERMINAL),
                ):
                    if ttl_s is not None:
                        ids += await state.store.finished_before(now - ttl_s, q.name, statuses)
            ids = list(dict.fromkeys(ids))
        # A task retried while the store was read is unfinished again, or finished afresh:
        # it stays.
        ids = [
            i
            for i in ids
            if state.retried_at.get(i, 0) <= began
            and (i not in state.live or state.live[i].status.is_terminal)
        ]
        fut: asyncio.Future[None] | None = None
        state.removing.update(ids)
        try:
            for i in ids:
                state.live.pop(i, None)
                state.retried_at.pop(i, None)
                fut = writer.delete(i, TaskEvent(EventKind.REMOVED, i))
            if fut is not None:
                await asyncio.shield(fut)
        finally:
            state.removing.difference_update(ids)
        for i in ids:
            remove_log(state.log_path(i))
        if ids:
            logger.info("retention: removed %d finished tasks", len(ids))
        return len(ids)

    def set_retention(self, retention_s: float | None) -> None:
        """Keep finished tasks this many seconds (None: for ever), from now on; turning
        retention on starts the scheduled cleanup if it was off."""
        if retention_s is not None and retention_s < 0:
            raise ValueError("retention_s must be >= 0 or None")
        self.retention_s = retention_s
        if retention_s is not None and self._timer is None and self._running:
            self.schedule(initial=True)

    def restart(self) -> None:
        """The periods changed (a queue's result TTL): schedule the next cleanup afresh."""
        if self._running:
            self.close()
            self.schedule(initial=True)

    @property
    def _running(self) -> bool:
        state = self.state
        return state.started and state.dispatching and not state.closing

    def period_s(self) -> float | None:
        """How often the scheduled cleanup runs: the cleanup interval, or more often where a
        queue's result or failure TTL is shorter; None when nothing is ever deleted."""
        ttls = [
            ttl
            for q in self.state.queues.values()
            for ttl in (q.result_ttl_s, q.failure_ttl_s)
            if ttl is not None
        ]
        if self.retention_s is None and not ttls:
            return None
        return min([self.cleanup_interval_s, *(max(t / 2, 0.25) for t in ttls)])

    def schedule(self, initial: bool = False) -> None:
        """Arm the timer for the next cleanup (soon after start when `initial`)."""
        period = self.period_s()
        if period is None or self.state.timer is None:
            self._timer = None
            return
        delay = min(5.0, period) if initial else period
        self._timer = self.state.timer.call_later(delay, self._on_timer)

    def close(self) -> None:
        """Stop the timer."""
        if self._timer is not None:
            self._timer.cancel()

    def _on_timer(self) -> None:
        self._timer = None
        self.state.spawn(self._scheduled_cleanup(), "retention cleanup")

    async def _scheduled_cleanup(self) -> None:
        try:
            await self.cleanup()
        finally:
            if not self.state.closing and self._timer is None:
                self.schedule()
