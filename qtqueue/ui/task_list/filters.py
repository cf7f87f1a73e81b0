"""The filter bar above the task table: the status, type, category and tag choices and the
search box, applied to `TaskFilterProxy` (the search after a short pause in typing), and the
period the tasks finished in that a statistics chart's time bucket sets (`set_period`)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QKeyEvent

from qtqueue.core.type_titles import type_title
from qtqueue.ui.forms.main_window_ui import Ui_MainWindow
from qtqueue.ui.icons import icon
from qtqueue.ui.task_list.model import TaskTableModel
from qtqueue.ui.task_list.proxy import TaskFilterProxy
from qtqueue.ui.task_list.status_filters import BY_KEY, DEAD_LETTERS, STATUS_FILTERS

logger = logging.getLogger(__name__)

__all__ = ["DEAD_LETTERS", "SEARCH_DELAY_MS", "TaskFilters"]

#: How long typing pauses before the search applies.
SEARCH_DELAY_MS = 150


class TaskFilters(QObject):
    """Wires the window's filter widgets (`form`) to `proxy`; the type, category and tag
    choices follow the values `model` holds. Choosing dead letters calls
    `show_dead_letter_column` (what a dead letter died of is what one looks at them for).
    The type choice reads each type's name in words (`set_titles`). Esc in the search box
    clears it, then the period (`set_period`). `changed` is emitted whenever a filter was
    applied (the sidebar follows)."""

    changed = Signal()

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
        self._titles: Mapping[str, str] = {}
        self._period_label = ""
        f = form
        for choice in STATUS_FILTERS:
            if choice.key == DEAD_LETTERS:
                f.filterStatus.insertSeparator(f.filterStatus.count())
            if choice.icon:
                f.filterStatus.addItem(icon(choice.icon), choice.combo_label, choice.key)
            else:
                f.filterStatus.addItem(choice.combo_label, choice.key)
            f.filterStatus.setItemData(
                f.filterStatus.count() - 1, choice.tooltip, Qt.ItemDataRole.ToolTipRole
            )
        for combo in (f.filterType, f.filterCategory, f.filterTag):
            combo.addItem("All", None)
        model.valuesChanged.connect(self.refresh_choices)
        f.filterStatus.currentIndexChanged.connect(self.apply_status)
        f.filterType.currentIndexChanged.connect(self.apply_values)
        f.filterCategory.currentIndexChanged.connect(self.apply_values)
        f.filterTag.currentIndexChanged.connect(self.apply_values)
        f.searchBox.textChanged.connect(lambda _text: self._search_timer.start())
        f.searchBox.returnPressed.connect(self.apply_search)
        f.searchBox.setPlaceholderText("Search names, tags, errors… (Esc clears)")
        f.searchBox.setToolTip(
            "Finds tasks by name, id, parameters, category, tags, error code and error"
            " message; every word must match. Esc clears it."
        )
        f.searchBox.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if (
            watched is self.form.searchBox
            and event.type() == QEvent.Type.KeyPress
            and isinstance(event, QKeyEvent)
            and event.key() == Qt.Key.Key_Escape
        ):
            if self.form.searchBox.text():
                self.form.searchBox.clear()
                self.apply_search()
                return True
            if self.period is not None:
                self.set_period(None)
                return True
        return super().eventFilter(watched, event)

    def set_titles(self, titles: Mapping[str, str]) -> None:
        """Each task type's name in words, by type name (the type choice shows them)."""
        self._titles = dict(titles)
        self.refresh_choices()

    def title_of(self, type_name: str) -> str:
        """A type's name in words."""
        return self._titles.get(type_name) or type_title(type_name)

    @property
    def filtering(self) -> bool:
        """Whether any filter is set."""
        return self.proxy.filtering

    def clear_all(self) -> None:
        """Every choice back to "All" and the search box emptied: every task shows."""
        f = self.form
        widgets = (f.filterStatus, f.filterType, f.filterCategory, f.filterTag, f.searchBox)
        for widget in widgets:
            widget.blockSignals(True)
        try:
            for combo in (f.filterStatus, f.filterType, f.filterCategory, f.filterTag):
                combo.setCurrentIndex(0)
            f.searchBox.clear()
        finally:
            for widget in widgets:
                widget.blockSignals(False)
        self._search_timer.stop()
        self._period_label = ""
        self.proxy.clear_filters()
        self.changed.emit()

    def choose(self, combo_name: str, data: object) -> None:
        """Choose `data` in the filter combo `combo_name` ("filterStatus", "filterCategory",
        "filterTag", "filterType"); an unknown value chooses "All"."""
        combo = getattr(self.form, combo_name)
        combo.setCurrentIndex(max(0, combo.findData(data)))

    def apply_status(self) -> None:
        """Filter by the chosen status choice (dead letters also show what they died of)."""
        choice = BY_KEY.get(self.form.filterStatus.currentData())
        self.proxy.set_choice(choice)
        if choice is not None and choice.key == DEAD_LETTERS:
            self._show_dead_letter_column()
        self.changed.emit()

    def apply_values(self) -> None:
        """Filter by the chosen type, category and tag."""
        f = self.form
        self.proxy.set_task_type(f.filterType.currentData())
        self.proxy.set_category(f.filterCategory.currentData())
        self.proxy.set_tag(f.filterTag.currentData())
        self.changed.emit()

    def set_period(self, period: tuple[float, float] | None, label: str = "") -> None:
        """Show only the tasks that finished in `period` (start, end: UNIX times), said as
        `label` ("14:00–15:00"); None: any time. The other filters stay as they are."""
        self._period_label = label if period is not None else ""
        self.proxy.set_finished(period)
        self.changed.emit()

    @property
    def period(self) -> tuple[float, float] | None:
        """The period the list shows the tasks finished in, or None."""
        return self.proxy.finished

    @property
    def period_label(self) -> str:
        """The period in words, as `set_period` was given it ("" without a period)."""
        return self._period_label if self.proxy.finished is not None else ""

    def apply_search(self) -> None:
        """Filter by the search box's words now."""
        self._search_timer.stop()
        self.proxy.set_search_text(self.form.searchBox.text())
        self.changed.emit()

    def refresh_choices(self) -> None:
        """Offer the types, categories and tags the table holds, keeping each choice."""
        f = self.form
        types = sorted(
            ((self.title_of(t), t) for t in self.model.known_types()),
            key=lambda pair: pair[0].casefold(),
        )
        for combo, values in (
            (f.filterType, types),
            (f.filterCategory, [(c, c) for c in self.model.known_categories()]),
            (f.filterTag, [(t, t) for t in self.model.known_tags()]),
        ):
            current = combo.currentData()
            combo.blockSignals(True)
            combo.clear()
            combo.addItem("All", None)
            for text, value in values:
                combo.addItem(text, value)
            combo.setCurrentIndex(max(0, combo.findData(current)) if current else 0)
            combo.blockSignals(False)

    def stop(self) -> None:
        """Stop the search timer (the window is closing)."""
        self._search_timer.stop()
