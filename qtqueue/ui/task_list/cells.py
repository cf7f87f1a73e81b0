"""What each cell of the task table shows and sorts by (`TaskTableModel`'s `data()`): the
text of every column, its raw sort value, and the live estimates behind the ETA and Speed
columns (history of similar tasks, bytes per second)."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from qtqueue.core.task import ACTIVE, Task, TaskStatus
from qtqueue.core.type_titles import type_title
from qtqueue.ui.task_list.columns import (
    STATUS_ORDER,
    Column,
    first_line,
    format_duration,
    format_resources,
    format_time,
    natural_key,
    progress_bar,
    progress_text,
    resources_key,
    retries_text,
    status_cell,
)
from qtqueue.ui.task_list.eta import Basis, History, Progress, SpeedMeter, estimate, format_speed
from qtqueue.ui.task_list.positions import QueuePositions

logger = logging.getLogger(__name__)

UNKNOWN = "—"


class Cells:
    """Cell text (`display`) and raw sort values (`keys`) by column, for a model whose
    running times come from `duration_of` and whose clock is `clock`."""

    def __init__(
        self,
        duration_of: Callable[[Task], float | None],
        clock: Callable[[], float],
        titles: Mapping[str, str] | None = None,
    ) -> None:
        self._duration_of = duration_of
        self._clock = clock
        self._titles: dict[str, str] = dict(titles or {})
        self.history = History()
        self.speeds = SpeedMeter()
        self.positions = QueuePositions()
        self.display: dict[Column, Callable[[Task], Any]] = {
            Column.NAME: lambda t: t.name,
            Column.TYPE: self.title,
            Column.CATEGORY: lambda t: t.category,
            Column.QUEUE: lambda t: t.queue,
            Column.TAGS: lambda t: ", ".join(t.tags),
            Column.PRIORITY: lambda t: t.priority.name.capitalize(),
            Column.STATUS: lambda t: status_cell(t, self._clock()),
            Column.PROGRESS: progress_text,
            Column.STEP: lambda t: first_line(t.current_step),
            Column.ETA: lambda t: _eta_text(self.eta(t)) if t.status in ACTIVE else "",
            Column.SPEED: lambda t: self.speed_text(t),
            Column.RESOURCES: lambda t: format_resources(t.resources) if t.resources else "",
            Column.CREATED: lambda t: format_time(t.created_at),
            Column.STARTED: lambda t: format_time(t.started_at),
            Column.DURATION: lambda t: format_duration(self._duration_of(t)),
            Column.RETRIES: retries_text,
            Column.ERROR_CODE: lambda t: t.error_code or "",
            Column.LAST_ERROR: lambda t: first_line(t.error),
            Column.ID: lambda t: t.id,
            Column.POSITION: self.positions.text,
        }
        self.keys: dict[Column, Callable[[Task], Any]] = {
            Column.NAME: lambda t: natural_key(t.name),
            Column.TYPE: lambda t: self.title(t).casefold(),
            Column.CATEGORY: lambda t: t.category.casefold(),
            Column.QUEUE: lambda t: t.queue or "",
            Column.TAGS: lambda t: ", ".join(t.tags).casefold(),
            Column.PRIORITY: lambda t: (int(t.priority), -t.seq),  # ↓: the start order
            Column.STATUS: lambda t: STATUS_ORDER[t.status],
            Column.PROGRESS: lambda t: t.progress,
            Column.STEP: lambda t: t.current_step.casefold(),
            Column.ETA: self._eta_key,
            Column.SPEED: lambda t: self.speed(t) or 0.0,
            Column.RESOURCES: lambda t: resources_key(t.resources),
            Column.CREATED: lambda t: t.created_at,
            Column.STARTED: lambda t: -math.inf if t.started_at is None else t.started_at,
            Column.DURATION: self.duration_key,
            Column.RETRIES: lambda t: t.retry_count,
            Column.ERROR_CODE: lambda t: t.error_code or "",
            Column.LAST_ERROR: lambda t: (t.error or "").casefold(),
            Column.ID: lambda t: t.id,
            Column.POSITION: self.positions.sort_key,
        }

    # ------------------------------------------------------------------ values

    def title(self, t: Task) -> str:
        """The task's type in words ("Shell command")."""
        name = t.type_name
        title = self._titles.get(name)
        if title is None:
            title = self._titles[name] = type_title(name)
        return title

    def duration_key(self, t: Task) -> float:
        """The duration column's sort value (-1 when unknown)."""
        d = self._duration_of(t)
        return -1.0 if d is None else d

    def speed(self, t: Task) -> float | None:
        """Bytes per second of a running task that reports bytes; None otherwise."""
        if t.status not in ACTIVE or t.done_bytes is None:
            return None
        rate = self.speeds.rate(t.id)
        if rate is None:
            elapsed = self._duration_of(t)
            rate = t.done_bytes / elapsed if elapsed else None
        return rate

    def speed_text(self, t: Task) -> str:
        """The speed column: '12.3 MB/s' while bytes move, '—' for a running task that does
        not say, '' for the others."""
        if t.status not in ACTIVE:
            return ""
        return format_speed(self.speed(t))

    def eta(self, t: Task) -> float | None:
        """Seconds a running task has left (None: unknown, or not running)."""
        found = self._estimate(t)
        return None if found is None else found[0]

    def eta_tooltip(self, t: Task) -> str | None:
        """What the ETA cell's estimate comes from, or why there is none."""
        if t.status not in ACTIVE:
            return None
        found = self._estimate(t)
        if found is None:
            return "Not known yet: the task reports no progress and no similar task finished"
        return f"Estimated from {found[1].value}"

    def _estimate(self, t: Task) -> tuple[float, Basis] | None:
        if t.status not in ACTIVE:
            return None
        bar = progress_bar(t)
        return estimate(
            Progress(
                percent=bar if bar is not None and bar >= 0 else 0.0,
                elapsed=self._duration_of(t),
                done_bytes=t.done_bytes,
                total_bytes=t.total_bytes,
                bytes_per_s=self.speed(t),
                history_median=self.history.median(t.type_name, t.name),
            )
        )

    def _eta_key(self, t: Task) -> float:
        left = self.eta(t)
        return math.inf if left is None else left

    # ------------------------------------------------------------------ following tasks

    def note(self, t: Task, now: float) -> None:
        """Follow a new snapshot: a finished run joins the history, bytes feed the speed."""
        if t.status == TaskStatus.COMPLETED and t.duration_s is not None:
            self.history.add(t.id, t.type_name, t.name, t.duration_s)
        elif t.status in ACTIVE and t.done_bytes is not None:
            self.speeds.sample(t.id, now, t.done_bytes)
        if t.status not in ACTIVE:
            self.speeds.forget(t.id)

    def note_all(self, tasks: Iterable[Task], now: float) -> None:
        """Follow every task of a fresh load (after `clear`)."""
        tasks = list(tasks)
        self.positions.reset(tasks)
        add, completed = self.history.add, TaskStatus.COMPLETED
        for t in tasks:
            if t.status is completed:
                if t.duration_s is not None:
                    add(t.id, t.type_name, t.name, t.duration_s)
            elif t.status in ACTIVE and t.done_bytes is not None:
                self.speeds.sample(t.id, now, t.done_bytes)

    def forget(self, t: Task) -> None:
        """A task left the model."""
        self.positions.change(t, None)
        self.history.forget(t.id)
        self.speeds.forget(t.id)

    def clear(self) -> None:
        """Every task left the model."""
        self.positions.reset(())
        self.history.clear()
        self.speeds.clear()


def _eta_text(left: float | None) -> str:
    if left is None:
        return UNKNOWN
    return format_duration(left) if left >= 1 else "< 1 s"
