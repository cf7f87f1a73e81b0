"""The filter bar above the task table: the status, type, category and tag choices and the
search box, applied to `TaskFilterProxy` (the search after a short pause in typing)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer

from qtqueue.core.task import ACTIVE, TERMINAL, UNFINISHED, TaskStatus
from qtqueue.ui.forms.main_window_ui import Ui_MainWindow
from qtqueue.ui.icons import icon
from qtqueue.ui.task_list.model import TaskTableModel
from qtqueue.ui.task_list.proxy import TaskFilterProxy

logger = logging.getLogger(__name__)

#: The status filter's choice that shows dead letters (failed for good after their retries).
DEAD_LETTERS = "dead_letters"

#: The status filter's choices: label, statuses (None: all), icon.
STATUS_FILTERS: tuple[tuple[str, frozenset[TaskStatus] | None, str | None], ...] = (
    ("All tasks", None, None),
    ("Unfinished", UNFINISHED, None),
    ("Running", ACTIVE, "status-running"),
    ("Waiting", frozenset({TaskStatus.PENDING}), "status-pending"),
    ("Paused", frozenset({TaskStatus.PAUSED}), "status-paused"),
    ("Finished", TERMINAL, None),
    ("Completed", frozenset({TaskStatus.COMPLETED}), "status-completed"),
    ("Failed or timed out", frozenset({TaskStatus.FAILED, TaskStatus.TIMEOUT}), "status-failed"),
    ("Cancelled", frozenset({TaskStatus.CANCELLED}), "status-cancelled"),
)
#: After those: (label, data, icon) of the dead-letter choice.
DEAD_LETTER_FILTER = ("Dead letters", DEAD_LETTERS, "dead-letter")

#: How long typing pauses before the search applies.
SEARCH_DELAY_MS = 150


class TaskFilters(QObject):
    """Wires the window's filter widgets (`form`) to `proxy`; the type, category and tag
    choices follow the values `model` holds. Choosing dead letters calls
    `show_dead_letter_column` (what a dead letter died of is what one looks at them for)."""

    def __init__(
        self,
        form: Ui_MainWindow,
        model: TaskTableModel,
        proxy: TaskFilterProxy,
        show_dead_letter_column: Callable[[], None],
        parent: QObject,
    ) -> None:
        super().__init__(parent)
        self.form = form
        self.model = model
        self.proxy = proxy
        self._show_dead_letter_column = show_dead_letter_column
        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(SEARCH_DELAY_MS)
        self._search_timer.timeout.connect(self.apply_search)
        f = form
        for label, statuses, icon_name in STATUS_FILTERS:
            if icon_name:
                f.filterStatus.addItem(icon(icon_name), label, statuses)
            else:
                f.filterStatus.addItem(label, statuses)
        label, data, icon_name = DEAD_LETTER_FILTER
        f.filterStatus.insertSeparator(f.filterStatus.count())
        f.filterStatus.addItem(icon(icon_name), label, data)
        for combo in (f.filterType, f.filterCategory, f.filterTag):
            combo.addItem("All", None)
        model.valuesChanged.connect(self.refresh_choices)
        f.filterStatus.currentIndexChanged.connect(self.apply_status)
        f.filterType.currentIndexChanged.connect(self.apply_values)
        f.filterCategory.currentIndexChanged.connect(self.apply_values)
        f.filterTag.currentIndexChanged.connect(self.apply_values)
        f.searchBox.textChanged.connect(lambda _text: self._search_timer.start())
        f.searchBox.returnPressed.connect(self.apply_search)

    def apply_status(self) -> None:
        """Filter by the chosen status set (or dead letters)."""
        data = self.form.filterStatus.currentData()
        dead_letters = data == DEAD_LETTERS
        self.proxy.set_dead_letters(dead_letters)
        self.proxy.set_statuses(None if dead_letters else data)
        if dead_letters:
            self._show_dead_letter_column()

    def apply_values(self) -> None:
        """Filter by the chosen type, category and tag."""
        f = self.form
        self.proxy.set_task_type(f.filterType.currentData())
        self.proxy.set_category(f.filterCategory.currentData())
        self.proxy.set_tag(f.filterTag.currentData())

    def apply_search(self) -> None:
        """Filter by the search box's words now."""
        self._search_timer.stop()
        self.proxy.set_search_text(self.form.searchBox.text())

    def refresh_choices(self) -> None:
        """Offer the types, categories and tags the table holds, keeping each choice."""
        f = self.form
        for combo, values in (
            (f.filterType, self.model.known_types()),
            (f.filterCategory, self.model.known_categories()),
            (f.filterTag, self.model.known_tags()),
        ):
            current = combo.currentData()
            combo.blockSignals(True)
            combo.clear()
            combo.addItem("All", None)
            for value in values:
                combo.addItem(value, value)
            combo.setCurrentIndex(max(0, combo.findData(current)) if current else 0)
            combo.blockSignals(False)

    def stop(self) -> None:
        """Stop the search timer (the window is closing)."""
        self._search_timer.stop()
