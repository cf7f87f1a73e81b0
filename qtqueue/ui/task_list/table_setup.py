"""How the main window's task table starts: a movable, sortable header with default widths,
the default hidden columns, newest first, and one checkable action per column (View ›
Columns and the header's context menu) that shows or hides it; while the pointer is over the
rows, live changes do not re-sort them (`HoverHold`); the "#" cells repaint when a queue's
waiting order changes (`PositionRepaint`); a header saved before a column was added comes
back with every other column where it was (`restore_header`). `SelectedTasks` reads the
selected rows' tasks once per change of the selection or the rows, for all who ask (actions,
detail pane)."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable

from PySide6.QtCore import (
    QByteArray,
    QEvent,
    QItemSelectionModel,
    QObject,
    QRect,
    Qt,
    SignalInstance,
)
from PySide6.QtGui import QAction, QStandardItemModel
from PySide6.QtWidgets import QHeaderView, QMenu, QTableView

from qtqueue.core.task import Task
from qtqueue.ui.task_list.columns import DEFAULT_WIDTHS, HEADERS, HIDDEN_BY_DEFAULT, Column
from qtqueue.ui.task_list.model import TaskTableModel
from qtqueue.ui.task_list.proxy import TaskFilterProxy, selection_ranges

logger = logging.getLogger(__name__)


def setup_table(
    table: QTableView, menu: QMenu, show_column: Callable[[Column, bool], None]
) -> dict[Column, QAction]:
    """Set the table's header up and add a column action per column to `menu`; toggling one
    calls `show_column(column, shown)`. Returns the actions by column."""
    header = table.horizontalHeader()
    header.setSectionsMovable(True)
    header.setFirstSectionMovable(False)
    header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    header.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
    header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
    vertical = table.verticalHeader()
    vertical.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
    vertical.setDefaultSectionSize(table.fontMetrics().height() + 10)
    for column, width in DEFAULT_WIDTHS.items():
        table.setColumnWidth(column, width)
    for column in HIDDEN_BY_DEFAULT:
        table.setColumnHidden(column, True)
    table.sortByColumn(Column.CREATED, Qt.SortOrder.DescendingOrder)
    # "#" (a waiting task's place) beside the name, where qBittorrent users look for it.
    header.moveSection(header.visualIndex(Column.POSITION), header.visualIndex(Column.NAME) + 1)
    HoverHold(table)
    PositionRepaint(table)
    actions: dict[Column, QAction] = {}
    for column in Column:
        action = QAction(HEADERS[column], menu)
        action.setCheckable(True)
        action.setChecked(column not in HIDDEN_BY_DEFAULT)
        action.setEnabled(column != Column.NAME)
        action.toggled.connect(functools.partial(show_column, column))
        menu.addAction(action)
        actions[column] = action
    return actions


def restore_header(table: QTableView, state: QByteArray, saved_columns: int) -> bool:
    """Bring back a header `saveState()` kept when the table had `saved_columns` columns.
    Columns added since (always at the end, see `Column`) keep their default width and
    visibility, after the user's; a header of a newer qtqueue (more columns) is ignored.
    Returns whether it was restored.

    An older header is read into a header of its own size and copied over section by
    section: Qt restores a shorter state straight into a longer header, but the header it
    leaves cannot be restored from its own `saveState()` (the next start would lose it)."""
    header = table.horizontalHeader()
    if saved_columns == len(Column):
        return header.restoreState(state)
    if not 0 < saved_columns < len(Column):
        return False
    old = QHeaderView(Qt.Orientation.Horizontal)
    old.setModel(QStandardItemModel(0, saved_columns, old))
    if not old.restoreState(state):
        return False
    for visual in range(saved_columns):
        header.moveSection(header.visualIndex(old.logicalIndex(visual)), visual)
    for logical in range(saved_columns):
        hidden = old.isSectionHidden(logical)
        if not hidden:
            header.resizeSection(logical, old.sectionSize(logical))
        header.setSectionHidden(logical, hidden)
    header.setSortIndicator(old.sortIndicatorSection(), old.sortIndicatorOrder())
    old.deleteLater()
    return True


def selected_row_count(selection: QItemSelectionModel) -> int:
    """How many rows are selected, from the selection's ranges (not `selectedRows()`, which
    takes some 20 s with 100,000 rows selected)."""
    spans = sorted((r.top(), r.bottom()) for r in selection_ranges(selection.selection()))
    count, end = 0, -1
    for top, bottom in spans:
        if bottom > end:
            count += bottom - max(top, end + 1) + 1
            end = bottom
    return count


class SelectedTasks(QObject):
    """The selected rows' tasks (source order, which the filter-only proxy keeps: top to
    bottom), read from the selection once per change and shared by everyone who asks until
    the selection or the rows change again. With 100,000 rows selected one reading takes
    a quarter of a second; the actions, the menus and the detail pane each used to make
    their own. `walks` counts the readings.

    Build it right after `table.setModel(proxy)`, before anything else listens to the
    selection or the models, so that it forgets first."""

    def __init__(self, table: QTableView, model: TaskTableModel, proxy: TaskFilterProxy) -> None:
        super().__init__(table)
        self._selection = table.selectionModel()
        self._model = model
        self._proxy = proxy
        self._tasks: list[Task] | None = None
        self.walks = 0
        signals: list[SignalInstance] = [self._selection.selectionChanged]
        for source in (model, proxy):
            signals += [
                source.dataChanged, source.modelReset, source.layoutChanged,
                source.rowsInserted, source.rowsRemoved, source.rowsMoved,
            ]  # fmt: skip
        for signal in signals:
            signal.connect(self.forget)

    def forget(self, *_args: object) -> None:
        """The selection or the rows changed: read them again on the next ask."""
        self._tasks = None

    def tasks(self) -> list[Task]:
        """The selected rows' snapshots, top to bottom (a new list)."""
        if self._tasks is None:
            self.walks += 1
            self._tasks = self._read()
        return list(self._tasks)

    def _read(self) -> list[Task]:
        model, proxy = self._model, self._proxy
        ranges = selection_ranges(self._selection.selection())
        if not ranges:
            return []
        shown = proxy.rowCount()
        if shown == model.rowCount() and selected_row_count(self._selection) == shown:
            return model.tasks()  # everything (select all, nothing filtered out)
        # The ranges overlap (one per run of shown columns): each row is mapped once.
        rows = {r for rng in ranges for r in range(rng.top(), rng.bottom() + 1)}
        if shown != model.rowCount():  # filtered: proxy rows are not the source rows
            rows = {proxy.mapToSource(proxy.index(r, 0)).row() for r in rows}
        return [model.task(r) for r in sorted(rows) if r >= 0]


class HoverHold(QObject):
    """Holds the table's live re-sorts while the pointer is over its rows, so that a row
    does not move away as the user goes to click it (sorted by progress, duration, status…);
    the rows fall into order when the pointer leaves. Sorting by a header click is at once."""

    def __init__(self, table: QTableView) -> None:
        super().__init__(table)
        self._table = table
        table.viewport().installEventFilter(self)

    def _model(self) -> TaskTableModel | None:
        return _task_model(self._table)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        kind = event.type()
        if kind in (QEvent.Type.Enter, QEvent.Type.Leave, QEvent.Type.Hide):
            model = self._model()
            if model is not None:
                model.hold_resort(kind == QEvent.Type.Enter)
        return False


class PositionRepaint(QObject):
    """Repaints the table's "#" column in sight when a queue's waiting order changes (the
    model announces it with `positionsChanged` rather than a `dataChanged` over every
    waiting row, which would make the proxy re-filter each of them)."""

    def __init__(self, table: QTableView) -> None:
        super().__init__(table)
        self._table = table
        model = _task_model(table)
        if model is not None:
            model.positionsChanged.connect(self.repaint)

    def repaint(self) -> None:
        """Repaint the "#" cells in sight."""
        table, column = self._table, Column.POSITION
        if table.isColumnHidden(column) or not table.isVisible():
            return
        viewport = table.viewport()
        x = table.columnViewportPosition(column)
        viewport.update(QRect(x, 0, table.columnWidth(column), viewport.height()))


def _task_model(table: QTableView) -> TaskTableModel | None:
    """The task model behind `table` (its model, or the source of its proxy)."""
    model = table.model()
    source = getattr(model, "sourceModel", None)
    found = source() if callable(source) else model
    return found if isinstance(found, TaskTableModel) else None
