"""The system family's widget in the detail pane: the table a backup, update or cleanup wrote
to its log (`table.py`): the packages an update would change (from → to), the files a cleanup
removes or would remove, a backup's or restore's summary.

The window loads this module through the family descriptor (`Family.qt_module`); nothing else
imports it. It follows the detail pane's family-widget contract: `shows(task)`, `reset()`,
`feed(task_id, chunk)`, `finish(task_id)` and the `updated(task id)` signal.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QGroupBox, QTreeWidgetItem, QWidget

from qtqueue.core.log_lines import LogLines
from qtqueue.core.task import Task, TaskType
from qtqueue.families.system.table import Table, parse_table
from qtqueue.ui.family_widgets import fit_rows, hosted_list

logger = logging.getLogger(__name__)

__all__ = ["SystemTableView", "detail_widget"]

SHOWN_TYPES = frozenset(
    {TaskType.SYSTEM_BACKUP.value, TaskType.SYSTEM_UPDATE.value, TaskType.SYSTEM_CLEANUP.value}
)
DEFAULT_TITLE = "System"


class SystemTableView(QGroupBox):
    """One row per item the task listed, under the title and columns it gave."""

    updated = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(DEFAULT_TITLE, parent)
        self.setObjectName("systemBox")
        self.view = hosted_list(self, "systemView")
        self._lines = LogLines()
        self._table: Table | None = None
        self._shown = 0
        self.reset()

    def shows(self, task: Task) -> bool:
        """Whether the widget has something to say about `task` (a backup, update, cleanup)."""
        return task.type_name in SHOWN_TYPES

    def reset(self) -> None:
        """Forget what is shown."""
        self._lines = LogLines()
        self._table = None
        self._shown = 0
        self.view.clear()
        self.setTitle(DEFAULT_TITLE)
        fit_rows(self.view)

    def feed(self, task_id: str, chunk: str) -> None:
        """The next piece of `task_id`'s log."""
        self._show(task_id, self._lines.feed(chunk))

    def finish(self, task_id: str) -> None:
        """`task_id`'s log ended."""
        self._show(task_id, self._lines.finish())

    def _show(self, task_id: str, lines: list[str]) -> None:
        before = self._table
        table = parse_table(lines, self._table)
        if table is None:
            return
        if table is not before:  # a new table: new columns
            self._table, self._shown = table, 0
            self.view.clear()
            self.view.setColumnCount(len(table.columns))
            self.view.setHeaderLabels(table.columns)
        new = table.rows[self._shown :]
        if not new and table is before:
            return
        self.view.addTopLevelItems([QTreeWidgetItem(row) for row in new])
        self._shown = len(table.rows)
        self.setTitle(f"{table.title} ({self._shown})")
        for column in range(self.view.columnCount() - 1):
            self.view.resizeColumnToContents(column)
        fit_rows(self.view)
        self.updated.emit(task_id)


def detail_widget(parent: QWidget | None = None) -> SystemTableView:
    """The widget the detail pane hosts for this family."""
    return SystemTableView(parent)
