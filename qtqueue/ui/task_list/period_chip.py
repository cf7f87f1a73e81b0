"""The chip over the task list while it shows only the tasks that finished in a period (a
statistics chart's time bucket was clicked): "Finished 14:00–15:00 ✕". Its ✕ removes the
period; clearing the filters (the empty list's "Clear filters", "Show it", Esc in an empty
search box) removes it too, and the chip follows."""

from __future__ import annotations

import logging

from PySide6.QtWidgets import QBoxLayout, QFrame, QHBoxLayout, QLabel, QToolButton, QWidget

from qtqueue.ui.task_list.filters import TaskFilters

logger = logging.getLogger(__name__)

__all__ = ["PeriodChip"]


class PeriodChip(QWidget):
    """A row with a pill saying which period the list is filtered to, with a ✕ that removes
    it; hidden while there is none. It follows `filters` (`TaskFilters.changed`)."""

    def __init__(self, filters: TaskFilters, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("periodFilterRow")
        self.filters = filters
        self.pill = QFrame(self)
        self.pill.setObjectName("periodFilterChip")
        self.pill.setStyleSheet(
            "#periodFilterChip { background: rgba(37, 99, 235, 0.12);"
            " border: 1px solid rgba(37, 99, 235, 0.45); border-radius: 10px; }"
        )
        self.pill.setToolTip(
            "The list shows only the tasks that finished in this period (a statistics "
            "chart's bar or point was clicked)"
        )
        self.label = QLabel(self.pill)
        self.label.setObjectName("periodFilterLabel")
        self.clear_button = QToolButton(self.pill)
        self.clear_button.setObjectName("periodFilterClear")
        self.clear_button.setText("✕")
        self.clear_button.setAutoRaise(True)
        self.clear_button.setToolTip("Show the tasks of any time (Esc in the search box)")
        self.clear_button.clicked.connect(lambda: filters.set_period(None))
        pill_layout = QHBoxLayout(self.pill)
        pill_layout.setContentsMargins(10, 0, 2, 0)
        pill_layout.setSpacing(4)
        pill_layout.addWidget(self.label)
        pill_layout.addWidget(self.clear_button)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.pill)
        row.addStretch(1)
        filters.changed.connect(self.follow)
        self.follow()

    def follow(self) -> None:
        """Show the filters' period, or hide."""
        if self.filters.period is None:
            self.hide()
            return
        label = self.filters.period_label
        self.label.setText(f"Finished {label}" if label else "Finished in a period")
        self.show()

    @classmethod
    def install(cls, filters: TaskFilters, beside: QWidget) -> PeriodChip:
        """A chip placed in the layout that holds `beside` (the hidden-task banner over the
        list), just after it; left unplaced (and said so in the log) where there is none."""
        parent = beside.parentWidget()
        layout = parent.layout() if parent is not None else None
        chip = cls(filters, parent)
        if isinstance(layout, QBoxLayout):
            layout.insertWidget(layout.indexOf(beside) + 1, chip)
        else:
            logger.warning("the period chip has no place beside %s", beside.objectName())
        return chip
