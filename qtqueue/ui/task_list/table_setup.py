"""How the main window's task table starts: a movable, sortable header with default widths,
the default hidden columns, newest first, and one checkable action per column (View ›
Columns and the header's context menu) that shows or hides it; while the pointer is over the
rows, live changes do not re-sort them (`HoverHold`)."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable

from PySide6.QtCore import QEvent, QItemSelectionModel, QObject, Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QHeaderView, QMenu, QTableView

from qtqueue.ui.task_list.columns import DEFAULT_WIDTHS, HEADERS, HIDDEN_BY_DEFAULT, Column
from qtqueue.ui.task_list.model import TaskTableModel
from qtqueue.ui.task_list.proxy import selection_ranges

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
    HoverHold(table)
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


class HoverHold(QObject):
    """Holds the table's live re-sorts while the pointer is over its rows, so that a row
    does not move away as the user goes to click it (sorted by progress, duration, status…);
    the rows fall into order when the pointer leaves. Sorting by a header click is at once."""

    def __init__(self, table: QTableView) -> None:
        super().__init__(table)
        self._table = table
        table.viewport().installEventFilter(self)

    def _model(self) -> TaskTableModel | None:
        model = self._table.model()
        source = getattr(model, "sourceModel", None)
        found = source() if callable(source) else model
        return found if isinstance(found, TaskTableModel) else None

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        kind = event.type()
        if kind in (QEvent.Type.Enter, QEvent.Type.Leave, QEvent.Type.Hide):
            model = self._model()
            if model is not None:
                model.hold_resort(kind == QEvent.Type.Enter)
        return False
