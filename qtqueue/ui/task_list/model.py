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

Two kinds of cells change without a `dataChanged`, to spare the proxy a re-filter of every
row it covers (a Python call per row: 0.1 s at 100,000 rows): the "#" cells of every waiting
task when one of them starts or moves (`positionsChanged`), and the busy bars' animation
(`busyChanged`). The view repaints them (`table_setup.PositionRepaint`, `busy.BusyAnimation`).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
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
from qtqueue.ui.task_list.cells import Cells
from qtqueue.ui.task_list.clocks import RunClocks
from qtqueue.ui.task_list.columns import HEADERS, Column, Role, is_held, progress_bar, tooltip
from qtqueue.ui.task_list.search_text import SearchTexts

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


def _alignment(column: int) -> Qt.AlignmentFlag | None:
    if column in _RIGHT_ALIGNED:
        return _RIGHT
    return _CENTER if column in _CENTERED else None


_DISPLAY = int(Qt.ItemDataRole.DisplayRole)
_DECORATION = int(Qt.ItemDataRole.DecorationRole)
_TOOLTIP = int(Qt.ItemDataRole.ToolTipRole)
_FOREGROUND = int(Qt.ItemDataRole.ForegroundRole)
_ALIGNMENT = int(Qt.ItemDataRole.TextAlignmentRole)
_RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
_LEFT = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
_CENTER = Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignVCenter
_RIGHT_ALIGNED = frozenset({Column.DURATION, Column.RETRIES})
#: Short live figures, centred: right-aligned, they ran into the next column's left-aligned
#: header ("Speed Last error").
_CENTERED = frozenset({Column.ETA, Column.SPEED, Column.POSITION})
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
#: The cells of a running task that move with time, as (first, last) column ranges.
TICKING = ((Column.ETA, Column.SPEED), (Column.DURATION, Column.DURATION))


class TaskTableModel(QAbstractTableModel):
    """One row per task, from engine snapshots. See the module docstring.

    Signals: `batchApplied` after each `reset`/`apply` (the window refreshes counts, actions
    and the detail pane on it); `valuesChanged` when a type, category or tag is seen for the
    first time (for the filter choices); `durationsTicked` after the running tasks' durations
    were updated (once a second while any runs); `busyChanged(bool)` when the first running
    task without a percentage (a busy bar) comes or the last one goes; `positionsChanged`
    when a queue's waiting order changed (the "#" cells, see the module docstring).
    """

    batchApplied = Signal()
    valuesChanged = Signal()
    durationsTicked = Signal()
    busyChanged = Signal(bool)
    positionsChanged = Signal()

    def __init__(
        self,
        parent: Any = None,
        *,
        clock: Callable[[], float] = time.time,
        tick_ms: int = 1000,
        titles: Mapping[str, str] | None = None,
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
        self.search = SearchTexts(self)
        self._clocks = RunClocks(clock)
        self._busy = False
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
        self._resort_timer.timeout.connect(self._resort_unless_held)
        self.cells = Cells(self.duration_of, clock, titles)
        self._display = self.cells.display
        self._keys = self.cells.keys
        # While held (the pointer is over the table), rows that fall out of order stay put
        # until `hold_resort(False)`; `_resort_pending` says one is owed.
        self._held = False
        self._resort_pending = False

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
            return _alignment(section) or _LEFT
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
            if column == Column.POSITION and is_held(task, self._clock()):
                return status_color(task.status)  # greyed: it keeps its place, held back
            return None
        if role == _ALIGNMENT:
            return _alignment(column)
        if role == _TOOLTIP:
            if column == Column.ETA:
                return self.cells.eta_tooltip(task)
            return tooltip(task, Column(column))
        if role == Role.TASK:
            return task
        if role == Role.TASK_ID:
            return task.id
        if role == Role.BAR:
            return progress_bar(task) if column == Column.PROGRESS else None
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
        """What the text search looks in: name, id, param values (secret ones left out),
        category, tags, error code and message, case-folded (`search_text.SearchTexts`)."""
        return self.search.text(self._rows[row])

    def duration_of(self, task: Task) -> float | None:
        """Running time: ticking while the task is worked on, frozen while it is paused,
        the engine's figure once it has finished."""
        return self._clocks.duration_of(task)

    @property
    def busy_ids(self) -> frozenset[str]:
        """The running tasks that show a busy bar (no percentage yet)."""
        return frozenset(self._clocks.busy)

    def position(self, task: Task) -> int | None:
        """A waiting task's place in its queue (1 starts next); None for the others."""
        return self.cells.positions.position(task)

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
        self.search.reset(self._rows)
        self._clocks.clear()
        before = (len(self._types), len(self._categories), len(self._tags))
        now = self._clock()
        rows = self._rows
        self._arrival = {t.id: i for i, t in enumerate(rows)}
        self._next_arrival = len(rows)
        self._counts = Counter(t.status for t in rows)
        self._types.update({t.type_name for t in rows})
        self._categories.update({t.category for t in rows})
        self._tags.update(tag for t in rows for tag in t.tags)
        self.cells.clear()
        self.cells.note_all(rows, now)
        for t in rows:
            if t.status in ACTIVE or t.status == TaskStatus.PAUSED:
                self._clocks.track(t, now)
        if self._sort_column is not None:
            self._rows.sort(key=self._sort_key(self._sort_column), reverse=self._descending)
            self._sorted_as = (self._sort_column, self._descending)
        else:
            self._sorted_as = None  # arrival order is the order of `tasks`
        self._reindex(0)
        self.endResetModel()
        self._update_tick_timer()
        self.positionsChanged.emit()
        if before != (len(self._types), len(self._categories), len(self._tags)):
            self.valuesChanged.emit()
        self.batchApplied.emit()

    def apply(self, changed: Sequence[Task] = (), removed: Sequence[str] = ()) -> None:
        """Apply one batch: `removed` ids leave, `changed` snapshots replace their rows or
        become new rows. Emits one `dataChanged` per contiguous run of changed rows."""
        moved = False
        if removed:
            moved = self._remove(removed)
        if changed:
            moved |= self._update(changed)
        if moved:
            if self._sort_column == Column.POSITION:
                self._sorted_as = None
                self._request_resort()
            self.positionsChanged.emit()
        self._update_tick_timer()
        self.batchApplied.emit()

    def _remove(self, ids: Sequence[str]) -> bool:
        """Remove rows; True if a waiting task left (other tasks' places changed)."""
        rows = [r for r in (self.row_of(i) for i in ids) if r is not None]
        if not rows:
            return False
        moved = any(self._rows[r].status == TaskStatus.PENDING for r in rows)
        for first, last in reversed(_runs(rows)):
            self.beginRemoveRows(QModelIndex(), first, last)
            for t in self._rows[first : last + 1]:
                self._forget(t)
            del self._rows[first : last + 1]
            self.endRemoveRows()
            self._mark_dirty(first)
        return moved

    def _forget(self, task: Task) -> None:
        self._index.pop(task.id, None)
        self._arrival.pop(task.id, None)
        self.search.forget(task.id)
        self._clocks.forget(task.id)
        self.cells.forget(task)
        self._counts[task.status] -= 1
        if not self._counts[task.status]:
            del self._counts[task.status]

    def _update(self, changed: Sequence[Task]) -> bool:
        """Replace or add rows; True if a queue's waiting order changed."""
        self._sorted_as = None
        now = self._clock()
        fresh: list[Task] = []
        rows: list[int] = []
        new_values = moved = False
        positions = self.cells.positions
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
            moved |= positions.change(old, t)
            self.search.change(old, t)
            self._clocks.track(t, now)
            self.cells.note(t, now)
            rows.append(row)
        for first, last in _runs(rows):
            self.dataChanged.emit(self.index(first, 0), self.index(last, _LAST_COLUMN))
        if rows and self._sort_column is not None and not all(self._in_order(r) for r in rows):
            self._request_resort()
        if fresh:
            new_values |= self._insert(fresh, now)
            moved |= any(t.status == TaskStatus.PENDING for t in fresh)
        if new_values:
            self.valuesChanged.emit()
        return moved

    def _insert(self, tasks: list[Task], now: float) -> bool:
        self._sorted_as = None
        new_values = False
        for t in tasks:
            self._arrival[t.id] = self._next_arrival
            self._next_arrival += 1
            self._counts[t.status] += 1
            new_values |= self._note_values(t)
            self._clocks.track(t, now)
            self.cells.note(t, now)
            self.cells.positions.change(None, t)
        self.search.add(tasks)
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

    def _sort_key(self, column: Column) -> Callable[[Task], Any]:
        """The key to sort every row by `column` (the Role.SORT value, built for speed)."""
        if column == Column.POSITION:
            return self.cells.positions.sort_keys()
        if column != Column.DURATION:
            return self._keys[column]
        clocks, ticking = self._clocks, self.cells.duration_key

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

    def hold_resort(self, hold: bool) -> None:
        """Hold live re-sorts (rows stay where they are under the user's pointer) or let
        them go again, re-sorting at once if a change broke the order meanwhile."""
        self._held = hold
        if not hold and self._resort_pending:
            self._resort_pending = False
            self._request_resort()

    @property
    def resort_held(self) -> bool:
        """Whether live re-sorts are held (see `hold_resort`)."""
        return self._held

    def _request_resort(self) -> None:
        """Re-sort after live changes: at once in a small model; in a big one at most every
        `RESORT_DELAY_MS` (each re-sort makes the proxy and view re-map every row); later
        while held."""
        if self._held:
            self._resort_pending = True
        elif len(self._rows) <= RESORT_NOW_MAX_ROWS:
            self._resort()
        elif not self._resort_timer.isActive():
            self._resort_timer.start()

    def _resort_unless_held(self) -> None:
        if self._held:
            self._resort_pending = True
        else:
            self._resort()

    def settle(self) -> None:
        """Apply a pending re-sort now."""
        if self._resort_timer.isActive():
            self._resort()

    def _resort(self) -> None:
        """Re-establish the row order as one layout change; selections follow their rows."""
        self._resort_timer.stop()
        self._resort_pending = False
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
        self.changePersistentIndexList(persistent, [self.index(self._index[i], c) for i, c in ids])
        self.layoutChanged.emit()

    def _update_tick_timer(self) -> None:
        running = self._clocks.any_running()
        if running and not self._tick.isActive():
            self._tick.start()
        elif not running and self._tick.isActive():
            self._tick.stop()
        busy = bool(self._clocks.busy)
        if busy != self._busy:
            self._busy = busy
            self.busyChanged.emit(busy)

    def _on_tick(self) -> None:
        """Refresh the cells of running tasks that move with time (ETA, Speed, Duration):
        one narrow `dataChanged` per run of rows and range of `TICKING` columns."""
        rows = [r for r in map(self.row_of, self._clocks.running_ids()) if r is not None]
        runs = _runs(rows)
        if len(runs) > _TICK_MAX_RUNS:
            runs = [(runs[0][0], runs[-1][1])]
        for first, last in runs:
            for left, right in TICKING:
                self.dataChanged.emit(
                    self.index(first, left), self.index(last, right), [_DISPLAY, int(Role.SORT)]
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
        self.search.stop()
