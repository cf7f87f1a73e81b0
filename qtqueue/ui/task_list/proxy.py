"""The proxy that filters the task table (by status, type, category, tag, dead letters and a
text search); sorting stays in `TaskTableModel` (see its module docstring)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from PySide6.QtCore import (
    QAbstractItemModel,
    QItemSelection,
    QItemSelectionRange,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
)

from qtqueue.core.task import TaskStatus
from qtqueue.ui.task_list.columns import Role
from qtqueue.ui.task_list.model import TaskTableModel

logger = logging.getLogger(__name__)

_AnyIndex = QModelIndex | QPersistentModelIndex


class TaskFilterProxy(QSortFilterProxyModel):
    """Filters a `TaskTableModel` by status set, type, category, tag and a text search over
    name, id and params; `sort()` is forwarded to the model (see the module docstring).

    All filters are combined with AND; None (or "") means "any".
    """

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.setSortRole(Role.SORT)
        self.setDynamicSortFilter(True)
        self._model: TaskTableModel | None = None
        self._statuses: frozenset[TaskStatus] | None = None
        self._task_type: str | None = None
        self._category: str | None = None
        self._tag: str | None = None
        self._words: tuple[str, ...] = ()
        self._dead_letters = False
        self._active = False

    def setSourceModel(self, model: QAbstractItemModel) -> None:
        self._model = model if isinstance(model, TaskTableModel) else None
        super().setSourceModel(model)

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        if self._model is None:
            super().sort(column, order)
        else:
            self._model.sort(column, order)

    # ------------------------------------------------------------------ filters

    @property
    def filtering(self) -> bool:
        """Whether any filter is set."""
        return self._active

    def set_statuses(self, statuses: Iterable[TaskStatus | str] | None) -> None:
        value = None if statuses is None else frozenset(TaskStatus(s) for s in statuses)
        self._set("_statuses", value)

    def set_task_type(self, task_type: str | None) -> None:
        self._set("_task_type", task_type or None)

    def set_category(self, category: str | None) -> None:
        self._set("_category", category or None)

    def set_tag(self, tag: str | None) -> None:
        self._set("_tag", tag or None)

    def set_dead_letters(self, only: bool) -> None:
        """Only dead-lettered tasks (failed for good after their retries), or any."""
        self._set("_dead_letters", bool(only))

    def set_search_text(self, text: str) -> None:
        """Rows whose name, id or params contain every word of `text` (any case)."""
        self._set("_words", tuple(text.casefold().split()))

    def _set(self, name: str, value: object) -> None:
        if getattr(self, name) == value:
            return
        setattr(self, name, value)
        self._active = bool(
            self._statuses is not None
            or self._task_type
            or self._category
            or self._tag
            or self._words
            or self._dead_letters
        )
        # A full re-filter (one layout change) is ~10x faster than Qt's incremental
        # `endFilterChange` when many rows come back (100,000 rows: 0.2 s against 1.4 s).
        self.invalidate()

    def filterAcceptsRow(self, source_row: int, source_parent: _AnyIndex) -> bool:
        if not self._active:
            return True
        model = self._model
        if model is None:
            return super().filterAcceptsRow(source_row, source_parent)
        t = model.task(source_row)
        if self._statuses is not None and t.status not in self._statuses:
            return False
        if self._dead_letters and not t.dead_letter:
            return False
        if self._task_type is not None and t.type_name != self._task_type:
            return False
        if self._category is not None and t.category != self._category:
            return False
        if self._tag is not None and self._tag not in t.tags:
            return False
        if self._words:
            text = model.search_text(source_row)
            return all(w in text for w in self._words)
        return True


def selection_ranges(selection: QItemSelection) -> list[QItemSelectionRange]:
    """The ranges of a view's selection (of the proxy's rows), as a list."""
    return [selection.at(i) for i in range(selection.count())]
