"""What the main window remembers between sessions: geometry, the task table's header
(column order, visibility, widths, sort), its splitters and whether the detail pane is shown,
in `QSettings`; and the detail pane's place in the window (`install_detail_pane`)."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Protocol

from PySide6.QtCore import QByteArray, QSettings
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMainWindow, QSplitter, QTableView

from qtqueue.ui.forms.main_window_ui import Ui_MainWindow
from qtqueue.ui.task_list.columns import Column
from qtqueue.ui.task_list.table_setup import restore_header

if TYPE_CHECKING:  # the window's frame reads its geometry before the pane is imported
    from qtqueue.ui.detail_pane import DetailPane

logger = logging.getLogger(__name__)

#: (splitter, settings key) pairs.
Splitters = Sequence[tuple[QSplitter, str]]

#: Whether the detail pane is shown ("true"/"false").
DETAIL_SHOWN_KEY = "detailPane/shown"
#: The table's and the pane's widths at first (the table keeps two thirds).
FIRST_WIDTHS = (670, 410)


class _Dialogs(Protocol):
    def open_credentials(self) -> None: ...


class PaneWindow(Protocol):
    """What `install_detail_pane` needs of the main window."""

    @property
    def form(self) -> Ui_MainWindow: ...
    @property
    def detail(self) -> DetailPane: ...
    @property
    def settings(self) -> QSettings: ...
    @property
    def dialogs(self) -> _Dialogs: ...
    def select_task(self, task_id: str) -> None: ...


def install_detail_pane(window: PaneWindow) -> None:
    """Put the detail pane beside the task table (the table keeps the window's full height:
    20+ rows at 1280×720), resizable by the splitter; View › Detail pane (Ctrl+Shift+D) hides
    and shows it, remembered. Its dependency links select their task; its "Open credentials"
    opens the credentials manager."""
    form, pane = window.form, window.detail
    splitter = form.mainSplitter
    splitter.addWidget(pane)
    splitter.setStretchFactor(0, 2)
    splitter.setStretchFactor(1, 1)
    splitter.setSizes(list(FIRST_WIDTHS))
    action = form.actionDetailPane
    shown = window.settings.value(DETAIL_SHOWN_KEY, "true") != "false"
    action.setChecked(shown)
    pane.setVisible(shown)

    def toggled(on: bool) -> None:
        pane.setVisible(on)
        window.settings.setValue(DETAIL_SHOWN_KEY, "true" if on else "false")

    action.toggled.connect(toggled)
    pane.taskLinkActivated.connect(window.select_task)
    pane.credentialsRequested.connect(window.dialogs.open_credentials)


def restore_window_state(
    s: QSettings,
    window: QMainWindow,
    table: QTableView,
    splitters: Splitters,
    column_actions: Mapping[Column, QAction],
    *,
    geometry: bool = True,
) -> None:
    """Bring back what `save_window_state` kept (the size and place only if `geometry`);
    the column actions follow the header. A header saved with fewer columns gets the new
    ones at their defaults; with more, it is ignored."""
    if geometry:
        restore_geometry(s, window)
    header, columns = s.value("taskTable/header"), str(s.value("taskTable/columns", ""))
    if isinstance(header, QByteArray) and columns.isdigit():
        restore_header(table, header, int(columns))
    for splitter, key in splitters:
        state = s.value(key)
        if isinstance(state, QByteArray):
            splitter.restoreState(state)
    header_view = table.horizontalHeader()
    for column, action in column_actions.items():
        action.blockSignals(True)
        action.setChecked(not header_view.isSectionHidden(column))
        action.blockSignals(False)


def restore_geometry(s: QSettings, window: QMainWindow) -> None:
    """Bring back the window's size and place (the frame shows there before the rest)."""
    geometry = s.value("mainWindow/geometry")
    if isinstance(geometry, QByteArray):
        window.restoreGeometry(geometry)


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
