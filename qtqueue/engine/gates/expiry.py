"""A task with an expiry time that has not started by then is cancelled (QUEUE_TASK_EXPIRED)."""

from __future__ import annotations

import datetime
import heapq
import logging

from qtqueue.core.errors import TaskErrorCode
from qtqueue.core.task import Task, TaskStatus
from qtqueue.engine.gates import ADMIT, Fail, Verdict
from qtqueue.engine.lifecycle import Lifecycle
from qtqueue.engine.state import Alarm

logger = logging.getLogger(__name__)


def expired(task: Task) -> Fail:
    """How an expired task ends."""
    try:
        stamp = datetime.datetime.fromtimestamp(task.expires_at or 0)
        when = stamp.isoformat(timespec="seconds")
    except (ValueError, OverflowError, OSError):  # a time stored before times were checked
        when = repr(task.expires_at)
    return Fail(
        TaskStatus.CANCELLED,
        TaskErrorCode.QUEUE_TASK_EXPIRED,
        f"expired at {when} before it could start",
        {"expires_at": task.expires_at},
    )


class ExpiryGate:
    """Fails an expired task at dispatch, and cancels waiting ones when their time comes (one
    alarm for the earliest expiry)."""

    def __init__(self, lifecycle: Lifecycle) -> None:
        self.lifecycle = lifecycle
        self.state = lifecycle.state
        self._heap: list[tuple[float, str]] = []
        self._alarm = Alarm(self._on_alarm)

    def begin_pass(self) -> None:
        """Nothing to prepare: each task is checked against the clock."""

    def check(self, task: Task) -> Verdict:
        """Fail a task whose expiry time has passed."""
        if task.expires_at is not None and task.expires_at <= self.state.clock():
            return expired(task)
        return ADMIT

    def watch(self, task: Task) -> None:
        """Cancel `task` at its expiry time if it has not started by then."""
        timer = self.state.timer
        if task.expires_at is None or not self.state.dispatching or timer is None:
            return
        heapq.heappush(self._heap, (task.expires_at, task.id))
        self._alarm.set(self._heap[0][0], timer, self.state.clock())

    def close(self) -> None:
        """Stop the alarm."""
        self._alarm.cancel()

    def _on_alarm(self) -> None:
        """Cancel every task whose expiry time has come before it started."""
        state = self.state
        if not state.started or state.closing or state.timer is None:
            return
        now = state.clock()
        while self._heap and self._heap[0][0] <= now:
            _, tid = heapq.heappop(self._heap)
            task = state.live.get(tid)
            if (
                task is not None
                and task.expires_at is not None
                and task.expires_at <= now
                and (
                    task.status == TaskStatus.PENDING
                    or (
                        task.status == TaskStatus.PAUSED
                        and task.paused_from in (None, TaskStatus.PENDING)
                    )
                )
            ):
                expired(task).end(self.lifecycle, task)
        if self._heap:
            self._alarm.set(self._heap[0][0], state.timer, now)
