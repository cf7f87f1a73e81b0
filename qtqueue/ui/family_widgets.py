"""What the window takes from a family's `qt.py`: its detail widget, its form editors; and
list sizing.

A family's `Family.qt_module` may define `detail_widget(parent)`, which the pane loads through
the descriptor (never by importing the family) and drives through `FamilyWidget`, and
`editors(registry)`, which adds its own editors to a copy of the window's `EditorRegistry` for
the forms of its own task types and its settings page (`family_editors`).
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Mapping, Sequence
from typing import Any, Protocol, cast

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGridLayout,
    QGroupBox,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from qtqueue.core.log_lines import LineFeed
from qtqueue.core.task import Task
from qtqueue.executors.family import Family
from qtqueue.ui.paramform.editors import EditorRegistry

logger = logging.getLogger(__name__)

__all__ = [
    "LIST_ROWS_SHOWN",
    "FamilyWidget",
    "KeyedRowsBox",
    "family_editors",
    "find_family_widget",
    "fit_rows",
    "host_family_widgets",
    "hosted_list",
    "load_family_widgets",
]

#: Rows a list (dependencies, a family's list) grows to before it scrolls.
LIST_ROWS_SHOWN = 8


class FamilyWidget(Protocol):
    """What a family's `qt.py` returns from `detail_widget(parent)`: a QWidget that also has
    these methods and an `updated(task id)` signal, emitted after it showed something new."""

    def shows(self, task: Task) -> bool:
        """Whether it has something to say about `task` (it is hidden otherwise)."""

    def reset(self) -> None:
        """Forget what it shows: another task, or this one's log from the start, comes next."""

    def feed(self, task_id: str, chunk: str) -> None:
        """The next piece of the shown task's log."""

    def finish(self, task_id: str) -> None:
        """The shown task's log ended."""


def load_family_widgets(families: Sequence[Family], parent: QWidget) -> list[FamilyWidget]:
    """Each family's detail widget, from the `qt_module` its descriptor names; a module that
    cannot be loaded is logged and skipped (the pane works without it)."""
    widgets: list[FamilyWidget] = []
    for family in families:
        if family.qt_module is None:
            continue
        try:
            module = importlib.import_module(family.qt_module)
            make = getattr(module, "detail_widget", None)
            widget = make(parent) if make is not None else None
        except Exception:
            logger.exception("could not load the %s family's widget", family.name)
            continue
        if widget is not None:
            widgets.append(cast(FamilyWidget, widget))
    return widgets


def family_editors(family: Family | None, base: EditorRegistry) -> EditorRegistry:
    """The editors of a form of `family`'s (its task types' params, its settings page): a copy
    of `base` to which its `qt_module`'s `editors(registry)` added its own; `base` itself for
    no family or one that offers none. A module that cannot be loaded, or whose `editors`
    raises, is logged, and the form gets `base`."""
    if family is None or family.qt_module is None:
        return base
    try:
        add = getattr(importlib.import_module(family.qt_module), "editors", None)
        if add is None:
            return base
        registry = base.copy()
        add(registry)
    except Exception:
        logger.exception("could not load the %s family's form editors", family.name)
        return base
    return registry


def hosted_list(
    box: QGroupBox, object_name: str, headers: Sequence[str] = (), *, nested: bool = False
) -> QTreeWidget:
    """The read-only list a family's detail box shows (layers, a rollout, git phases): one row
    per line, not editable, not wrapped, last column stretched; `nested` rows have children
    (pods under their workload). It fills `box`; `fit_rows` sizes it to its rows."""
    view = QTreeWidget(box)
    view.setObjectName(object_name)
    view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    view.setRootIsDecorated(nested)
    view.setUniformRowHeights(True)
    view.setWordWrap(False)
    if headers:
        view.setHeaderLabels(list(headers))
    view.header().setStretchLastSection(True)
    QVBoxLayout(box).addWidget(view)
    return view


class KeyedRowsBox(QGroupBox):
    """A family's detail box whose log tells the state of named things (image layers, model
    layers): one row per name, updated in place, 'TITLE (N)'. A subclass gives `new_feed()`
    (a LineFeed returning {name: state} of what changed), `cells(name, state)`, `shows(task)`;
    this class follows the family-widget contract (`reset`, `feed`, `finish`, `updated`)."""

    updated = Signal(str)

    def __init__(
        self, title: str, names: tuple[str, str], headers: Sequence[str], parent: QWidget | None
    ) -> None:
        super().__init__(title, parent)
        self._title = title
        self.setObjectName(names[0])
        self.view = hosted_list(self, names[1], headers)
        self._feed = self.new_feed()
        self._items: dict[str, QTreeWidgetItem] = {}

    def new_feed(self) -> LineFeed[Any]:
        """A fresh reader of the task's log."""
        raise NotImplementedError

    def cells(self, name: str, state: Any) -> list[str]:
        """The row of `name` in its latest `state`, one text per column."""
        raise NotImplementedError

    def reset(self) -> None:
        """Forget the rows shown: another task (or its log from the start) comes next."""
        self._feed = self.new_feed()
        self._items.clear()
        self.view.clear()
        fit_rows(self.view)
        self.setTitle(self._title)

    def feed(self, task_id: str, chunk: str) -> None:
        """The next piece of `task_id`'s log."""
        self._show(task_id, self._feed.feed(chunk))

    def finish(self, task_id: str) -> None:
        """`task_id`'s log ended."""
        self._show(task_id, self._feed.finish())

    def _show(self, task_id: str, changed: Mapping[str, Any]) -> None:
        if not changed:
            return
        for name, state in changed.items():
            item = self._items.get(name)
            if item is None:
                item = QTreeWidgetItem([name])
                self.view.addTopLevelItem(item)
                self._items[name] = item
            for column, text in enumerate(self.cells(name, state)):
                item.setText(column, text)
        for column in range(self.view.columnCount() - 1):
            self.view.resizeColumnToContents(column)
        fit_rows(self.view)
        self.setTitle(f"{self._title} ({len(self._items)})")
        self.updated.emit(task_id)


def fit_rows(view: QTreeWidget) -> None:
    """Make a list as tall as its rows (at least one, at most `LIST_ROWS_SHOWN`, children of
    expanded items counted): no empty space below a short list."""
    count = 0
    for i in range(view.topLevelItemCount()):
        item = view.topLevelItem(i)
        if item is not None:
            count += 1 + (item.childCount() if item.isExpanded() else 0)
    rows = min(max(count, 1), LIST_ROWS_SHOWN)
    row = view.sizeHintForRow(0) if count else view.fontMetrics().height() + 4
    view.setFixedHeight(view.header().sizeHint().height() + rows * row + 2 * view.frameWidth() + 2)


def host_family_widgets(
    families: Sequence[Family], grid: QGridLayout, row: int, parent: QWidget
) -> list[FamilyWidget]:
    """The families' widgets in one column across row `row` of `grid`, each hidden until the
    pane shows a task it `shows`."""
    column = QWidget(parent)
    column.setObjectName("familyWidgets")
    layout = QVBoxLayout(column)
    layout.setContentsMargins(0, 0, 0, 0)
    grid.addWidget(column, row, 0, 1, 2)
    widgets = load_family_widgets(families, column)
    for widget in widgets:
        layout.addWidget(cast(QWidget, widget))
        cast(QWidget, widget).hide()
    return widgets


def find_family_widget(widgets: Sequence[FamilyWidget], name: str) -> QWidget | None:
    """The widget whose object name or class name is `name`, or None."""
    for widget in widgets:
        w = cast(QWidget, widget)
        if name in (w.objectName(), type(w).__name__):
            return w
    return None
