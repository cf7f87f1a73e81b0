"""The task table's model: a flat Qt model over engine snapshots.

`TaskTableModel` holds one `Task` snapshot per row (a list, plus a dict id → row for O(1)
lookup) and never owns truth: `reset()` loads what `TaskQueue.list_tasks()` returned and
`apply()` takes the batches `EngineBridge` emits, turning them into `beginInsertRows`,
`beginRemoveRows` and `dataChanged` ranges. `Role.SORT` gives each cell's raw value.

Sorting happens in the model, in Python (`sort()`; the proxy forwards to it): a
`QSortFilterProxyModel` sorting 100,000 rows itself would call back into Python's `data()`
some 3 million times (≈10 s), while `list.sort` with a key takes ≈50 ms. The model keeps its
rows in order as snapshots arrive: changed rows that fall out of order trigger one stable
re-sort (Timsort on nearly sorted rows is close to linear), new rows are inserted at their
place. `TaskFilterProxy` only filters, so its row order is the model's.
"""

from __future__ import annotations

import logging
import math
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    QTimer,
    Signal,
)

from qtqueue.core.task import ACTIVE, Task, TaskStatus
from qtqueue.ui.icons import status_color, status_icon
from qtqueue.ui.task_list.columns import (
    HEADERS,
    STATUS_ORDER,
    Column,
    Role,
    first_line,
    format_duration,
    format_resources,
    format_time,
    param_words,
    resources_key,
    retries_text,
    status_cell,
    tooltip,
)

logger = logging.getLogger(__name__)

_AnyIndex = QModelIndex | QPersistentModelIndex


def _runs(rows: Iterable[int]) -> list[tuple[int, int]]:
    """Sorted, distinct rows grouped into contiguous (first, last) runs."""
    out: list[tuple[int, int]] = []
    for r in sorted(set(rows)):
        if out and out[-1][1] == r - 1:
            out[-1] = (out[-1][0], r)
        else:
            out.append((r, r))
    return out



_DISPLAY = int(Qt.ItemDataRole.DisplayRole)
_DECORATION = int(Qt.ItemDataRole.DecorationRole)
_TOOLTIP = int(Qt.ItemDataRole.ToolTipRole)
_FOREGROUND = int(Qt.ItemDataRole.ForegroundRole)
_ALIGNMENT = int(Qt.ItemDataRole.TextAlignmentRole)
_RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
_LEFT = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
_RIGHT_ALIGNED = frozenset({Column.DURATION, Column.RETRIES})
_LAST_COLUMN = max(Column)
_ROW_FLAGS = (
    Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemNeverHasChildren
)

#: Up to this many rows a live change that breaks the order re-sorts at once; beyond, the
#: re-sorts are spaced out by `RESORT_DELAY_MS`.
RESORT_NOW_MAX_ROWS = 10_000
RESORT_DELAY_MS = 500
#: More separate runs of running rows than this tick as one range.
_TICK_MAX_RUNS = 32


class TaskTableModel(QAbstractTableModel):
    """One row per task, from engine snapshots. See the module docstring.

    Signals: `batchApplied` after each `reset`/`apply` (the window refreshes counts, actions
    and the detail pane on it); `valuesChanged` when a type, category or tag is seen for the
    first time (for the filter choices); `durationsTicked` after the running tasks' durations
    were updated (once a second while any runs).
    """

    batchApplied = Signal()
    valuesChanged = Signal()
    durationsTicked = Signal()

    def __init__(
        self,
        parent: Any = None,
        *,
        clock: Callable[[], float] = time.time,
        tick_ms: int = 1000,
    ) -> None:
        super().__init__(parent)
        self._clock = clock
        self._rows: list[Task] = []
        self._index: dict[str, int] = {}
        self._dirty_from: int | None = None  # rows from here on have stale `_index` entries
        self._arrival: dict[str, int] = {}  # the order tasks were first seen (the "unsorted" order)
        self._next_arrival = 0
        self._counts: Counter[TaskStatus] = Counter()
        self._types: set[str] = set()
        self._categories: set[str] = set()
        self._tags: set[str] = set()
        self._haystacks: dict[str, str] = {}
        # Running time of tasks being worked on: id -> (accumulated seconds, running since).
        self._clocks: dict[str, tuple[float, float | None]] = {}
        self._sort_column: Column | None = None
        self._descending = False
        # (column, descending) the rows are known to be in; None once a change may have
        # moved a row. Sorting again the same way is then free (QTableView.sortByColumn
        # sorts twice: once through the header's sortIndicatorChanged, once itself).
        self._sorted_as: tuple[Column | None, bool] | None = None
        self._tick = QTimer(self)
        self._tick.setInterval(tick_ms)
        self._tick.timeout.connect(self._on_tick)
        self._resort_timer = QTimer(self)
        self._resort_timer.setSingleShot(True)
        self._resort_timer.setInterval(RESORT_DELAY_MS)
        self._resort_timer.timeout.connect(self._resort)
        self._display: dict[Column, Callable[[Task], Any]] = {
            Column.NAME: lambda t: t.name,
            Column.TYPE: lambda t: t.type_name,
            Column.CATEGORY: lambda t: t.category,
            Column.QUEUE: lambda t: t.queue,
            Column.TAGS: lambda t: ", ".join(t.tags),
            Column.PRIORITY: lambda t: t.priority.name.capitalize(),
            Column.STATUS: status_cell,
            Column.PROGRESS: lambda t: f"{t.progress:.0f} %",
            Column.RESOURCES: lambda t: format_resources(t.resources) if t.resources else "",
            Column.CREATED: lambda t: format_time(t.created_at),
            Column.STARTED: lambda t: format_time(t.started_at),
            Column.DURATION: lambda t: format_duration(self.duration_of(t)),
            Column.RETRIES: retries_text,
            Column.ERROR_CODE: lambda t: t.error_code or "",
            Column.LAST_ERROR: lambda t: first_line(t.error),
            Column.ID: lambda t: t.id,
        }
        self._keys: dict[Column, Callable[[Task], Any]] = {
            Column.NAME: lambda t: t.name.casefold(),
            Column.TYPE: lambda t: t.type_name,
            Column.CATEGORY: lambda t: t.category.casefold(),
            Column.QUEUE: lambda t: t.queue,
            Column.TAGS: lambda t: ", ".join(t.tags).casefold(),
            Column.PRIORITY: lambda t: (int(t.priority), -t.seq),  # ↓: start order
            Column.STATUS: lambda t: STATUS_ORDER[t.status],
            Column.PROGRESS: lambda t: t.progress,
            Column.RESOURCES: lambda t: resources_key(t.resources),
            Column.CREATED: lambda t: t.created_at,
            Column.STARTED: lambda t: -math.inf if t.started_at is None else t.started_at,
            Column.DURATION: self._duration_key,
            Column.RETRIES: lambda t: t.retry_count,
            Column.ERROR_CODE: lambda t: t.error_code or "",
            Column.LAST_ERROR: lambda t: (t.error or "").casefold(),
            Column.ID: lambda t: t.id,
        }

    # ------------------------------------------------------------------ Qt model interface

    def rowCount(self, parent: _AnyIndex = QModelIndex()) -> int:  # noqa: B008 - Qt's API
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: _AnyIndex = QModelIndex()) -> int:  # noqa: B008 - Qt's API
        return 0 if parent.isValid() else len(Column)

    def headerData(
        self,
        section: int,
        orientation: Qt.Orientation,
        role: int = Qt.ItemDataRole.DisplayRole,
    ) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(Column):
            return None
        if role == _DISPLAY:
            return HEADERS[Column(section)]
        if role == _ALIGNMENT:
            return _RIGHT if section in _RIGHT_ALIGNED else _LEFT
        return None

    def flags(self, index: _AnyIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return _ROW_FLAGS

    def data(self, index: _AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        task = self._rows[index.row()]
        column = index.column()
        if role == _DISPLAY:
            return self._display[Column(column)](task)
        if role == Role.SORT:
            return self._keys[Column(column)](task)
        if role == _DECORATION:
            return status_icon(task.status) if column == Column.STATUS else None
        if role == _FOREGROUND:
            if column == Column.STATUS or (column == Column.ERROR_CODE and task.error_code):
                return status_color(task.status)
            return None
        if role == _ALIGNMENT:
            return _RIGHT if column in _RIGHT_ALIGNED else None
        if role == _TOOLTIP:
            return tooltip(task, Column(column))
        if role == Role.TASK:
            return task
        if role == Role.TASK_ID:
            return task.id
        if role == Role.STEP:
            return task.current_step
        return None

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Sort rows by `column`'s raw value (-1: the order tasks arrived in); stays sorted."""
        self._sort_column = Column(column) if 0 <= column < len(Column) else None
        self._descending = order == Qt.SortOrder.DescendingOrder
        if self._sorted_as == (self._sort_column, self._descending):
            return
        self._resort()

    # ------------------------------------------------------------------ reading

    def task(self, row: int) -> Task:
        """The snapshot in `row`."""
        return self._rows[row]

    def row_of(self, task_id: str) -> int | None:
        """The row of a task, or None if the model does not have it."""
        if self._dirty_from is not None:
            self._reindex(self._dirty_from)
        return self._index.get(task_id)

    def task_by_id(self, task_id: str) -> Task | None:
        row = self.row_of(task_id)
        return None if row is None else self._rows[row]

    def tasks(self) -> list[Task]:
        """Every snapshot, in row order (a new list)."""
        return list(self._rows)

    def status_counts(self) -> Counter[TaskStatus]:
        """How many rows are in each status (a copy)."""
        return Counter(self._counts)

    def known_types(self) -> list[str]:
        return sorted(self._types)

    def known_categories(self) -> list[str]:
        return sorted(self._categories, key=str.casefold)

    def known_tags(self) -> list[str]:
        return sorted(self._tags, key=str.casefold)

    def search_text(self, row: int) -> str:
        """What the text search looks in: name, id and param values (secret ones left out),
        case-folded; computed once per task."""
        task = self._rows[row]
        text = self._haystacks.get(task.id)
        if text is None:
            text = "\n".join((task.name, task.id, *param_words(task.params))).casefold()
            self._haystacks[task.id] = text
        return text

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

    @property
    def sort_column(self) -> Column | None:
        return self._sort_column

    @property
    def sort_order(self) -> Qt.SortOrder:
        return Qt.SortOrder.DescendingOrder if self._descending else Qt.SortOrder.AscendingOrder

    # ------------------------------------------------------------------ changing

    def reset(self, tasks: Sequence[Task]) -> None:
        """Replace every row with `tasks` (one model reset)."""
        self.beginResetModel()
        self._rows = list(tasks)
        self._index = {}
        self._dirty_from = 0 if self._rows else None
        self._haystacks = {}
        self._clocks = {}
        before = (len(self._types), len(self._categories), len(self._tags))
        now = self._clock()
        rows = self._rows
        self._arrival = {t.id: i for i, t in enumerate(rows)}
        self._next_arrival = len(rows)
        self._counts = Counter(t.status for t in rows)
        self._types.update({t.type_name for t in rows})
        self._categories.update({t.category for t in rows})
        self._tags.update(tag for t in rows for tag in t.tags)
        for t in rows:
            if t.status in ACTIVE or t.status == TaskStatus.PAUSED:
                self._track_clock(t, now)
        if self._sort_column is not None:
            self._rows.sort(key=self._sort_key(self._sort_column), reverse=self._descending)
            self._sorted_as = (self._sort_column, self._descending)
        else:
            self._sorted_as = None  # arrival order is the order of `tasks`
        self._reindex(0)
        self.endResetModel()
        self._update_tick_timer()
        if before != (len(self._types), len(self._categories), len(self._tags)):
            self.valuesChanged.emit()
        self.batchApplied.emit()

    def apply(self, changed: Sequence[Task] = (), removed: Sequence[str] = ()) -> None:
        """Apply one batch: `removed` ids leave, `changed` snapshots replace their rows or
        become new rows. Emits one `dataChanged` per contiguous run of changed rows."""
        if removed:
            self._remove(removed)
        if changed:
            self._update(changed)
        self._update_tick_timer()
        self.batchApplied.emit()

    def _remove(self, ids: Sequence[str]) -> None:
        rows = [r for r in (self.row_of(i) for i in ids) if r is not None]
        if not rows:
            return
        for first, last in reversed(_runs(rows)):
            self.beginRemoveRows(QModelIndex(), first, last)
            for t in self._rows[first : last + 1]:
                self._forget(t)
            del self._rows[first : last + 1]
            self.endRemoveRows()
            self._mark_dirty(first)

    def _forget(self, task: Task) -> None:
        self._index.pop(task.id, None)
        self._arrival.pop(task.id, None)
        self._haystacks.pop(task.id, None)
        self._clocks.pop(task.id, None)
        self._counts[task.status] -= 1
        if not self._counts[task.status]:
            del self._counts[task.status]

    def _update(self, changed: Sequence[Task]) -> None:
        self._sorted_as = None
        now = self._clock()
        fresh: list[Task] = []
        rows: list[int] = []
        new_values = False
        for t in changed:
            row = self.row_of(t.id)
            if row is None:
                fresh.append(t)
                continue
            old = self._rows[row]
            self._rows[row] = t
            if old.status != t.status:
                self._counts[old.status] -= 1
                if not self._counts[old.status]:
                    del self._counts[old.status]
                self._counts[t.status] += 1
            if old.tags != t.tags or old.category != t.category:
                new_values |= self._note_values(t)
            self._track_clock(t, now)
            rows.append(row)
        for first, last in _runs(rows):
            self.dataChanged.emit(self.index(first, 0), self.index(last, _LAST_COLUMN))
        if rows and self._sort_column is not None and not all(self._in_order(r) for r in rows):
            self._request_resort()
        if fresh:
            new_values |= self._insert(fresh, now)
        if new_values:
            self.valuesChanged.emit()

    def _insert(self, tasks: list[Task], now: float) -> bool:
        self._sorted_as = None
        new_values = False
        for t in tasks:
            self._arrival[t.id] = self._next_arrival
            self._next_arrival += 1
            self._counts[t.status] += 1
            new_values |= self._note_values(t)
            self._track_clock(t, now)
        if self._sort_column is None or len(tasks) > 64:
            first = len(self._rows)
            self.beginInsertRows(QModelIndex(), first, first + len(tasks) - 1)
            self._rows.extend(tasks)
            for offset, t in enumerate(tasks):
                self._index[t.id] = first + offset
            self.endInsertRows()
            if self._sort_column is not None:
                self._request_resort()
            return new_values
        for t in tasks:
            row = self._insertion_row(t)
            self.beginInsertRows(QModelIndex(), row, row)
            self._rows.insert(row, t)
            self._mark_dirty(row)
            self.endInsertRows()
        return new_values

    # ------------------------------------------------------------------ internals

    def _note_values(self, t: Task) -> bool:
        """Remember t's type, category and tags; True if one was new."""
        before = len(self._types) + len(self._categories) + len(self._tags)
        self._types.add(t.type_name)
        self._categories.add(t.category)
        self._tags.update(t.tags)
        return before != len(self._types) + len(self._categories) + len(self._tags)

    def _mark_dirty(self, row: int) -> None:
        if self._dirty_from is None or row < self._dirty_from:
            self._dirty_from = row

    def _reindex(self, start: int) -> None:
        rows = self._rows
        if start == 0:
            self._index = {t.id: i for i, t in enumerate(rows)}
        else:
            index = self._index
            for i in range(start, len(rows)):
                index[rows[i].id] = i
        self._dirty_from = None

    def _track_clock(self, t: Task, now: float) -> None:
        """Follow a task's running time from its status changes (paused time excluded)."""
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

    def _duration_key(self, t: Task) -> float:
        d = self.duration_of(t)
        return -1.0 if d is None else d

    def _sort_key(self, column: Column) -> Callable[[Task], Any]:
        """The key to sort every row by `column` (the Role.SORT value, built for speed)."""
        if column != Column.DURATION:
            return self._keys[column]
        clocks, ticking = self._clocks, self._duration_key

        def key(t: Task) -> float:
            if t.id in clocks:
                return ticking(t)
            d = t.duration_s
            return -1.0 if d is None else d

        return key

    def _in_order(self, row: int) -> bool:
        key = self._keys[self._sort_column] if self._sort_column is not None else None
        if key is None:
            return True
        k = key(self._rows[row])
        if row > 0:
            before = key(self._rows[row - 1])
            if (before < k) if self._descending else (k < before):
                return False
        if row + 1 < len(self._rows):
            after = key(self._rows[row + 1])
            if (k < after) if self._descending else (after < k):
                return False
        return True

    def _insertion_row(self, task: Task) -> int:
        """Where `task` goes in the current order (after rows with an equal key)."""
        assert self._sort_column is not None
        key = self._keys[self._sort_column]
        k = key(task)
        rows = self._rows
        lo, hi = 0, len(rows)
        while lo < hi:
            mid = (lo + hi) // 2
            km = key(rows[mid])
            if (km < k) if self._descending else (k < km):
                hi = mid
            else:
                lo = mid + 1
        return lo

    def _request_resort(self) -> None:
        """Re-sort after live changes: at once in a small model; in a big one at most every
        `RESORT_DELAY_MS` (each re-sort makes the proxy and view re-map every row)."""
        if len(self._rows) <= RESORT_NOW_MAX_ROWS:
            self._resort()
        elif not self._resort_timer.isActive():
            self._resort_timer.start()

    def settle(self) -> None:
        """Apply a pending re-sort now."""
        if self._resort_timer.isActive():
            self._resort()

    def _resort(self) -> None:
        """Re-establish the row order as one layout change; selections follow their rows."""
        self._resort_timer.stop()
        if not self._rows:
            return
        if self._sort_column is None:
            arrival = self._arrival
            key: Callable[[Task], Any] = lambda t: arrival.get(t.id, 0)  # noqa: E731
            reverse = False
        else:
            key = self._sort_key(self._sort_column)
            reverse = self._descending
        self.layoutAboutToBeChanged.emit()
        # `_rows` is always current (only `_index` is rebuilt lazily), so the persistent
        # indexes' rows can be read straight from it.
        persistent = self.persistentIndexList()
        ids = [(self._rows[i.row()].id, i.column()) for i in persistent]
        self._rows.sort(key=key, reverse=reverse)
        self._reindex(0)
        self._sorted_as = (self._sort_column, self._descending)
        self.changePersistentIndexList(
            persistent, [self.index(self._index[i], c) for i, c in ids]
        )
        self.layoutChanged.emit()

    def _update_tick_timer(self) -> None:
        running = any(since is not None for _, since in self._clocks.values())
        if running and not self._tick.isActive():
            self._tick.start()
        elif not running and self._tick.isActive():
            self._tick.stop()

    def _on_tick(self) -> None:
        """Refresh the duration cells of running tasks (only that column)."""
        rows = [
            r
            for r in (self.row_of(i) for i, (_, since) in self._clocks.items() if since is not None)
            if r is not None
        ]
        runs = _runs(rows)
        if len(runs) > _TICK_MAX_RUNS:
            runs = [(runs[0][0], runs[-1][1])]
        for first, last in runs:
            self.dataChanged.emit(
                self.index(first, Column.DURATION),
                self.index(last, Column.DURATION),
                [_DISPLAY, int(Role.SORT)],
            )
        if self._sort_column == Column.DURATION and not all(self._in_order(r) for r in rows):
            self._sorted_as = None
            self._request_resort()
        self._update_tick_timer()
        self.durationsTicked.emit()

    def stop(self) -> None:
        """Stop the timers (the window is closing)."""
        self._tick.stop()
        self._resort_timer.stop()

