"""A task that declared machine resources (memory, disk, GPU...) waits until they are free.

Resources are reserved in `engine/resources.py`'s accountant. While tasks wait, they are
looked at again after a short while (doubling up to RESOURCE_RECHECK_MAX_S while nothing
changes) and at every task's end. A waiter that others have passed for long enough, or often
enough, gets the room: tasks that need resources are held back until it has started.
"""

from __future__ import annotations

import logging

from qtqueue.core.errors import QueueError
from qtqueue.core.overview import HeldBy
from qtqueue.core.task import Task, TaskStatus
from qtqueue.engine.gates import ADMIT, Fail, Park, Verdict
from qtqueue.engine.lifecycle import Lifecycle
from qtqueue.engine.resources import ResourceAccountant, parse_needs
from qtqueue.engine.state import queue_order
from qtqueue.engine.timer import TimerHandle

logger = logging.getLogger(__name__)

#: While a task waits for resources, they are looked at again after this long (doubling, up to
#: RESOURCE_RECHECK_MAX_S, while nothing changes), besides at every task's end. Room made by
#: another program (no event tells us) is seen within half a second; a look costs ~50 us.
RESOURCE_RECHECK_S = 0.25
RESOURCE_RECHECK_MAX_S = 0.5
#: A task waiting for resources that others have passed for this long, or this many times,
#: gets the room: tasks that need resources are held back until it has started.
RESOURCE_AGING_S = 60.0
RESOURCE_AGING_STARTS = 20


class ResourceGate:
    """Reserves what a task declared, or parks it until there is room."""

    def __init__(
        self,
        lifecycle: Lifecycle,
        accountant: ResourceAccountant,
        aging_s: float = RESOURCE_AGING_S,
        aging_starts: int = RESOURCE_AGING_STARTS,
    ) -> None:
        self.lifecycle = lifecycle
        self.state = lifecycle.state
        self.accountant = accountant
        self.aging_s = aging_s
        self.aging_starts = aging_starts
        self._blocked: list[tuple[str, int]] = []
        self._timer: TimerHandle | None = None
        self._recheck_s = RESOURCE_RECHECK_S
        # Since when (monotonic) and how many times others have passed each waiter.
        self._waits: dict[str, list[float]] = {}
        self._aged: str | None = None
        lifecycle.on_conclude.append(self._concluded)

    def begin_pass(self) -> None:
        """Find the waiter that has earned the room, once per pass."""
        self._aged = self._aged_waiter() if self._waits else None

    def check(self, task: Task) -> Verdict:
        """Reserve what the task declared, or park it until there is room."""
        if not task.resources:
            return ADMIT
        try:
            needs = parse_needs(task.resources)
        except QueueError as exc:  # stored by an older version with other rules
            return Fail(TaskStatus.FAILED, exc.code, str(exc), allow_retry=True)
        if needs.empty:
            return ADMIT
        aged = self._aged
        if aged is not None and aged != task.id:
            reason = f"waiting for resources: held back for {aged[:8]}…, which has waited longer"
        else:
            why = self.accountant.try_reserve(task.id, needs)
            if why is None:
                return ADMIT
            reason = why
        self._blocked.append((task.id, task.seq))
        timer = self.state.the_timer()
        self._waits.setdefault(task.id, [timer.monotonic(), 0])
        if self._timer is None:
            self._timer = timer.call_later(self._recheck_s, self._on_timer)
        return Park(reason, HeldBy.RESOURCES)

    def started(self, task: Task) -> None:
        """`task` starts: it waits no more, and it passes those that would have gone first."""
        if not self._waits:
            return
        if self._waits.pop(task.id, None) is not None:
            self._recheck_s = RESOURCE_RECHECK_S
        key = queue_order(task)
        for tid, wait in self._waits.items():
            t = self.state.live.get(tid)
            if t is not None and queue_order(t) < key:
                wait[1] += 1

    def released(self, task: Task) -> None:
        """`task`'s attempt ended: give back what it held; any end may free memory or disk."""
        if self.accountant.release(task.id):
            self._recheck_s = RESOURCE_RECHECK_S
        if self._blocked:
            self._recheck()

    def _concluded(self, task: Task, _status: TaskStatus) -> None:
        self._waits.pop(task.id, None)

    def close(self) -> None:
        """Stop the re-check timer."""
        if self._timer is not None:
            self._timer.cancel()

    def _on_timer(self) -> None:
        self._timer = None
        if self._blocked and not self.state.closing:
            self._recheck_s = min(2 * self._recheck_s, RESOURCE_RECHECK_MAX_S)
            self._recheck()

    def _recheck(self) -> None:
        parked, self._blocked = self._blocked, []
        self.lifecycle.release(parked, clear_reason=False)

    def _aged_waiter(self) -> str | None:
        """The task waiting for resources longest that has waited or been passed enough to be
        given the room, or None."""
        now = self.state.the_timer().monotonic()
        best: tuple[float, str] | None = None
        for tid, (since, passes) in list(self._waits.items()):
            t = self.state.live.get(tid)
            if t is None or t.status != TaskStatus.PENDING:
                del self._waits[tid]
            elif (now - since >= self.aging_s or passes >= self.aging_starts) and (
                best is None or since < best[0]
            ):
                best = (since, tid)
        return best[1] if best is not None else None
