"""The data family's widget in the detail pane: DATA_ANALYZE's profile as a table — one row per
column (type, nulls, distinct, min, max, mean, quartiles, top values) — read from the task's
log as it grows (one `profile: {...}` line per column, see profile.py).

It follows the detail pane's family-widget contract: `shows(task)`, `reset()`,
`feed(task_id, chunk)`, `finish(task_id)` and the `updated(task id)` signal.
"""

from __future__ import annotations

import logging
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QGroupBox, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget

from qtqueue.core.task import Task, TaskType
from qtqueue.families.data.profile import PROFILE_COLUMNS, parse_profile_line

logger = logging.getLogger(__name__)

__all__ = ["ProfileView", "detail_widget"]

TITLE = "Data profile"


def _cell(key: str, value: Any) -> str:
    if value is None:
        return ""
    if key == "top" and isinstance(value, list):
        return ", ".join(f"{v[0]} ({v[1]})" for v in value if isinstance(v, list) and len(v) == 2)
    if isinstance(value, float):
        return f"{value:.6g}"
    text = str(value)
    if isinstance(value, str) and "." in text:  # duckdb's SUMMARIZE gives numbers as text
        try:
            short = f"{float(text):.6g}"
        except ValueError:
            return text
        return short if "e" not in short else text
    return text


class ProfileView(QGroupBox):
    """'Data profile': the analyzed columns, one row each, as the log tells them."""

    updated = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(TITLE, parent)
        self.setObjectName("dataProfileBox")
        self.table = QTableWidget(0, len(PROFILE_COLUMNS), self)
        self.table.setObjectName("dataProfileTable")
        self.table.setHorizontalHeaderLabels(list(PROFILE_COLUMNS))
        self.table.verticalHeader().setVisible(False)
        QVBoxLayout(self).addWidget(self.table)
        self._pending = ""

    def shows(self, task: Task) -> bool:
        """Whether the widget has something to say about `task` (an analysis)."""
        return task.type_name == TaskType.DATA_ANALYZE.value

    def reset(self) -> None:
        """Forget the rows shown: another task (or its log from the start) comes next."""
        self.table.setRowCount(0)
        self._pending = ""

    def feed(self, task_id: str, chunk: str) -> None:
        """The next piece of `task_id`'s log."""
        *lines, self._pending = (self._pending + chunk).split("\n")
        if self._add(lines):
            self.updated.emit(task_id)

    def finish(self, task_id: str) -> None:
        """`task_id`'s log ended."""
        lines, self._pending = [self._pending], ""
        if self._add(lines):
            self.updated.emit(task_id)

    def rows(self) -> list[list[str]]:
        """The table's text, row by row."""
        return [
            [
                (item.text() if (item := self.table.item(r, c)) is not None else "")
                for c in range(self.table.columnCount())
            ]
            for r in range(self.table.rowCount())
        ]

    def _add(self, lines: list[str]) -> bool:
        added = False
        for line in lines:
            row = parse_profile_line(line)
            if row is None:
                continue
            r = self.table.rowCount()
            self.table.insertRow(r)
            for c, key in enumerate(PROFILE_COLUMNS):
                self.table.setItem(r, c, QTableWidgetItem(_cell(key, row.get(key))))
            added = True
        if added:
            self.table.resizeColumnsToContents()
        return added


def detail_widget(parent: QWidget | None = None) -> ProfileView:
    """The widget the detail pane hosts for this family."""
    return ProfileView(parent)
