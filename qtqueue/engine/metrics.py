"""What the engine counts for its metrics (the HTTP face's `/metrics`): tasks added, completed
and failed by named queue and task type, and how long finished tasks ran by named queue, since
the engine was built.

Plain counts, kept as things happen (an ADDED event, a task that concludes for good): a scrape
reads them without touching the store. The Prometheus text format is the HTTP face's business
(`qtqueue.api.http.metrics`); nothing here imports prometheus_client.
"""

from __future__ import annotations

import bisect
import logging
from collections import Counter
from dataclasses import dataclass, field

from qtqueue.core.task import Task, TaskStatus
from qtqueue.engine import named_queues
from qtqueue.engine.events import EventKind, TaskEvent
from qtqueue.engine.lifecycle import ConcludeHook
from qtqueue.engine.state import EngineState

logger = logging.getLogger(__name__)

__all__ = ["DURATION_BUCKETS_S", "DurationHistogram", "EngineMetrics"]

#: The upper bounds (seconds) of the task duration histogram's buckets: from a quick function
#: to a night's build.
DURATION_BUCKETS_S: tuple[float, ...] = (
    0.05, 0.25, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0, 4 * 3600.0, 24 * 3600.0,
)  # fmt: skip

#: (named queue, task type)
QueueAndType = tuple[str, str]


@dataclass
class DurationHistogram:
    """Durations seen: how many fell in each bucket (not cumulative; the last is +Inf), their
    count and their sum."""

    buckets: list[int] = field(default_factory=lambda: [0] * (len(DURATION_BUCKETS_S) + 1))
    count: int = 0
    total_s: float = 0.0

    def observe(self, seconds: float) -> None:
        """Count one duration."""
        self.buckets[bisect.bisect_left(DURATION_BUCKETS_S, seconds)] += 1
        self.count += 1
        self.total_s += seconds

    def cumulative(self) -> list[tuple[str, int]]:
        """(upper bound as Prometheus writes it, how many took at most that), "+Inf" last."""
        bounds = [*(repr(float(b)) for b in DURATION_BUCKETS_S), "+Inf"]
        running = 0
        out = []
        for bound, n in zip(bounds, self.buckets, strict=True):
            running += n
            out.append((bound, running))
        return out


def _labels(task: Task) -> QueueAndType:
    return (task.queue or named_queues.DEFAULT_QUEUE, task.type_name)


class EngineMetrics:
    """Counts since the engine was built: `enqueued`, `completed`, `failed` (FAILED or
    TIMEOUT, for good: no retry pending), `cancelled` by (queue, task type); `durations` of
    tasks that concluded after running, by queue."""

    def __init__(self, state: EngineState, on_conclude: list[ConcludeHook]) -> None:
        self.state = state
        self.enqueued: Counter[QueueAndType] = Counter()
        self.completed: Counter[QueueAndType] = Counter()
        self.failed: Counter[QueueAndType] = Counter()
        self.cancelled: Counter[QueueAndType] = Counter()
        self.durations: dict[str, DurationHistogram] = {}
        state.events.subscribe(self._on_events, snapshots=False)
        on_conclude.append(self._concluded)

    def _on_events(self, events: list[TaskEvent]) -> None:
        live = self.state.live
        for e in events:
            if e.kind == EventKind.ADDED:
                # Still live: its end (which evicts it) is published after this.
                task = e.task or live.get(e.task_id)
                if task is not None:
                    self.enqueued[_labels(task)] += 1

    def _concluded(self, task: Task, status: TaskStatus) -> None:
        labels = _labels(task)
        if status == TaskStatus.COMPLETED:
            self.completed[labels] += 1
        elif status in (TaskStatus.FAILED, TaskStatus.TIMEOUT):
            self.failed[labels] += 1
        else:
            self.cancelled[labels] += 1
        if task.duration_s is not None:
            histogram = self.durations.setdefault(labels[0], DurationHistogram())
            histogram.observe(task.duration_s)
