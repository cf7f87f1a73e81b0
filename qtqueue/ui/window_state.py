"""What the main window remembers between sessions: geometry, the task table's header
(column order, visibility, widths, sort) and its splitters, in `QSettings`."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from PySide6.QtCore import QByteArray, QSettings
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMainWindow, QSplitter, QTableView

from qtqueue.ui.task_list.columns import Column

logger = logging.getLogger(__name__)

#: (splitter, settings key) pairs.
Splitters = Sequence[tuple[QSplitter, str]]


def restore_window_state(
    s: QSettings,
    window: QMainWindow,
    table: QTableView,
    splitters: Splitters,
    column_actions: Mapping[Column, QAction],
) -> None:
    """Bring back what `save_window_state` kept; the column actions follow the header. A
    header saved with another number of columns is ignored."""
    geometry = s.value("mainWindow/geometry")
    if isinstance(geometry, QByteArray):
        window.restoreGeometry(geometry)
    header = s.value("taskTable/header")
    if isinstance(header, QByteArray) and s.value("taskTable/columns") == str(len(Column)):
        table.horizontalHeader().restoreState(header)
    for splitter, key in splitters:
        state = s.value(key)
        if isinstance(state, QByteArray):
            splitter.restoreState(state)
    header_view = table.horizontalHeader()
    for column, action in column_actions.items():
        action.blockSignals(True)
        action.setChecked(not header_view.isSectionHidden(column))
        action.blockSignals(False)


def save_header(s: QSettings, table: QTableView) -> None:
    """Keep the task table's header (order, visibility, widths, sort)."""
    s.setValue("taskTable/header", table.horizontalHeader().saveState())
    s.setValue("taskTable/columns", str(len(Column)))


def save_window_state(
    s: QSettings, window: QMainWindow, table: QTableView, splitters: Splitters
) -> None:
    """Keep geometry, the table's header and the splitters, and write them out."""
    s.setValue("mainWindow/geometry", window.saveGeometry())
    save_header(s, table)
    for splitter, key in splitters:
        s.setValue(key, splitter.saveState())
    s.sync()
