"""The running time of the tasks being worked on, as the task list shows it (ticking while a
task runs, frozen while it is paused), and which running tasks show a busy bar (they run
without saying how far they are), for `TaskTableModel`."""

from __future__ import annotations

import logging
from collections.abc import Callable

from qtqueue.core.task import ACTIVE, Task, TaskStatus
from qtqueue.ui.task_list.columns import BUSY, progress_bar

logger = logging.getLogger(__name__)


class RunClocks:
    """Running time per task id: (accumulated seconds, running since or None while paused);
    and the ids of running tasks with a busy bar."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._clocks: dict[str, tuple[float, float | None]] = {}
        self.busy: set[str] = set()

    def clear(self) -> None:
        """Forget every task."""
        self._clocks = {}
        self.busy = set()

    def forget(self, task_id: str) -> None:
        """A task left the list."""
        self._clocks.pop(task_id, None)
        self.busy.discard(task_id)

    def __contains__(self, task_id: object) -> bool:
        return task_id in self._clocks

    def running_ids(self) -> list[str]:
        """The tasks whose running time ticks now."""
        return [i for i, (_, since) in self._clocks.items() if since is not None]

    def any_running(self) -> bool:
        """Whether any task's running time ticks."""
        return any(since is not None for _, since in self._clocks.values())

    def duration_of(self, task: Task) -> float | None:
        """Running time: ticking while the task is worked on, frozen while it is paused,
        the engine's figure once it has finished."""
        entry = self._clocks.get(task.id)
        if entry is None:
            return task.duration_s
        accumulated, since = entry
        if since is None:
            return accumulated
        return accumulated + max(0.0, self._clock() - since)

    def track(self, t: Task, now: float) -> None:
        """Follow a task's running time from its status changes (paused time excluded), and
        whether it shows a busy bar."""
        if t.status in ACTIVE and progress_bar(t) == BUSY:
            self.busy.add(t.id)
        else:
            self.busy.discard(t.id)
        entry = self._clocks.get(t.id)
        if t.status in ACTIVE:
            if entry is None:
                self._clocks[t.id] = (0.0, t.started_at if t.started_at is not None else now)
            elif entry[1] is None:
                self._clocks[t.id] = (entry[0], now)
        elif t.status == TaskStatus.PAUSED and t.paused_from in ACTIVE:
            if entry is None:
                # Paused before we saw it run: the best estimate is the time since it started.
                since = t.started_at if t.started_at is not None else now
                self._clocks[t.id] = (max(0.0, now - since), None)
            elif entry[1] is not None:
                self._clocks[t.id] = (entry[0] + max(0.0, now - entry[1]), None)
        elif entry is not None:
            del self._clocks[t.id]
