"""The status sidebar beside the task list, as qBittorrent's: the status choices (All,
Running, Waiting, Awaiting approval, Scheduled, Paused, Completed, Failed, Cancelled, Dead
letters, Questions), then the categories and the tags, each with its count; clicking one
filters the list.

The filter combos above the table stay the one source of truth: a click chooses in them
(`TaskFilters.choose`) and the sidebar follows whatever they hold (`TaskFilters.changed`).
The counts follow the model's row changes task by task (`LiveCounts`): a batch of engine
events costs only its own tasks, so 100,000 tasks never hold the window up; one pass counts
them all when the model is reset.

`SideBar.install(window)` puts it left of the task list in a splitter (collapsible, its width
remembered), adds View › Sidebar, the empty table's line, the hidden-task banner, and clears
the detail pane when the filters hide its task.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from typing import Any, Protocol

from PySide6.QtCore import QByteArray, QEvent, QModelIndex, QObject, QSettings, QSize, Qt, QTimer
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QAbstractItemView,
    QBoxLayout,
    QFrame,
    QListWidget,
    QListWidgetItem,
    QScrollArea,
    QSplitter,
    QStyle,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from qtqueue.core.task import Task
from qtqueue.ui.icons import icon
from qtqueue.ui.task_list.columns import Column
from qtqueue.ui.task_list.empty_state import EmptyState, HiddenTaskBanner
from qtqueue.ui.task_list.filters import TaskFilters
from qtqueue.ui.task_list.model import TaskTableModel
from qtqueue.ui.task_list.proxy import TaskFilterProxy
from qtqueue.ui.task_list.status_filters import (
    ALL,
    QUESTIONS,
    STATUS_FILTERS,
    LiveCounts,
    TaskCounts,
)

logger = logging.getLogger(__name__)

#: The longest wait for a scheduled task's time before counting again anyway.
MAX_DUE_WAIT_S = 3600.0
#: Where the splitter's state (the sidebar's width, or that it is collapsed) is kept.
SPLITTER_KEY = "mainWindow/sidebarSplitter"
#: Where whether it is shown (View › Sidebar) is kept.
SHOWN_KEY = "mainWindow/sidebarShown"
#: The sidebar's width until the user sets one.
DEFAULT_WIDTH = 190
#: The label of the categories' and tags' "every one" row.
ALL_LABEL = "All"


class SideBarWindow(Protocol):
    """What the sidebar needs of the main window."""

    form: Any
    model: TaskTableModel
    proxy: TaskFilterProxy
    filters: TaskFilters
    table: QTableView
    detail: Any
    questions: Any
    queue: Any
    settings: QSettings

    def select_task(self, task_id: str) -> None: ...
    def selected_tasks(self) -> list[Task]: ...
    def update_actions(self) -> None: ...
    def show_message(self, text: str, timeout_ms: int = ...) -> None: ...


def _label(text: str, count: int) -> str:
    return f"{text} ({count:,})"


class _Section(QWidget):
    """A titled, collapsible list of choices: its header button folds it."""

    def __init__(self, title: str, name: str, parent: QWidget) -> None:
        super().__init__(parent)
        self.header = QToolButton(self)
        self.header.setObjectName(f"{name}Header")
        self.header.setText(title)
        self.header.setAutoRaise(True)
        self.header.setToolTip(f"Fold or unfold the {title.lower()}")
        self.header.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.header.setArrowType(Qt.ArrowType.DownArrow)
        font = self.header.font()
        font.setBold(True)
        self.header.setFont(font)
        self.list = QListWidget(self)
        self.list.setObjectName(name)
        self.list.setFrameShape(QFrame.Shape.NoFrame)
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.list.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.setIconSize(QSize(16, 16))
        self.list.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 6)
        layout.setSpacing(0)
        layout.addWidget(self.header)
        layout.addWidget(self.list)
        self.header.clicked.connect(lambda: self._fold(self.list.isHidden()))

    def _fold(self, shown: bool) -> None:
        self.list.setVisible(shown)
        self.header.setArrowType(Qt.ArrowType.DownArrow if shown else Qt.ArrowType.RightArrow)

    def fit(self) -> None:
        """As tall as its rows (the sidebar scrolls, not each list)."""
        rows = self.list.count()
        row = self.list.sizeHintForRow(0) if rows else 0
        self.list.setFixedHeight(rows * row + 2 * self.list.frameWidth() + 2)

    def select_data(self, data: object) -> None:
        """Select the row holding `data` (none if no row does), without emitting."""
        self.list.blockSignals(True)
        try:
            self.list.clearSelection()
            for i in range(self.list.count()):
                item = self.list.item(i)
                if item.data(Qt.ItemDataRole.UserRole) == data:
                    item.setSelected(True)
                    self.list.setCurrentItem(item)
                    break
        finally:
            self.list.blockSignals(False)


class SideBar(QScrollArea):
    """The status, category and tag choices with their counts (see the module docstring)."""

    def __init__(self, filters: TaskFilters, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("sideBar")
        self.filters = filters
        self.counts = TaskCounts()
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        body = QWidget(self)
        layout = QVBoxLayout(body)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(0)
        self.status = _Section("Status", "statusList", body)
        self.categories = _Section("Categories", "categoryList", body)
        self.tags = _Section("Tags", "tagList", body)
        for section in (self.status, self.categories, self.tags):
            layout.addWidget(section)
        layout.addStretch(1)
        self.setWidget(body)
        question_icon = self.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxQuestion)
        for choice in STATUS_FILTERS:
            if not choice.in_sidebar:
                continue
            item = QListWidgetItem(_label(choice.label, 0), self.status.list)
            item.setData(Qt.ItemDataRole.UserRole, choice.key)
            item.setToolTip(choice.tooltip)
            if choice.icon:
                item.setIcon(icon(choice.icon))
            elif choice.key == QUESTIONS:
                item.setIcon(question_icon)
            else:
                item.setIcon(icon("app"))
        self.status.fit()
        self._fill(self.categories, Counter(), "filterCategory")
        self._fill(self.tags, Counter(), "filterTag")
        self.status.list.itemSelectionChanged.connect(
            lambda: self._chosen(self.status, "filterStatus", ALL)
        )
        self.categories.list.itemSelectionChanged.connect(
            lambda: self._chosen(self.categories, "filterCategory", None)
        )
        self.tags.list.itemSelectionChanged.connect(
            lambda: self._chosen(self.tags, "filterTag", None)
        )
        filters.changed.connect(self.follow_filters)
        self.follow_filters()

    # ------------------------------------------------------------------ reading

    def count_text(self, section: str, data: object) -> str:
        """The text of a row: `section` is "status", "categories" or "tags"; `data` the
        status choice's key, the category or the tag (None: the "All" row)."""
        found: _Section = getattr(self, section)
        for i in range(found.list.count()):
            item = found.list.item(i)
            if item.data(Qt.ItemDataRole.UserRole) == data:
                return item.text()
        raise KeyError(data)

    # ------------------------------------------------------------------ changing

    def show_counts(self, counts: TaskCounts) -> None:
        """Show new counts (the category and tag rows follow the values the queue holds)."""
        self.counts = counts
        for i in range(self.status.list.count()):
            item = self.status.list.item(i)
            key = item.data(Qt.ItemDataRole.UserRole)
            label = next(c.label for c in STATUS_FILTERS if c.key == key)
            item.setText(_label(label, counts.statuses[key]))
        self._fill(self.categories, counts.categories, "filterCategory")
        self._fill(self.tags, counts.tags, "filterTag")

    def _fill(self, section: _Section, counts: Counter[str], combo: str) -> None:
        chosen = getattr(self.filters.form, combo).currentData()
        values = sorted(
            {v for v, n in counts.items() if n > 0} | ({chosen} if chosen else set()),
            key=str.casefold,
        )
        total = sum(counts.values()) if section is self.categories else None
        rows: list[tuple[str, object]] = [
            (ALL_LABEL if total is None else _label(ALL_LABEL, total), None)
        ]
        rows += [(_label(v, counts[v]), v) for v in values]
        lst = section.list
        same = lst.count() == len(rows) and all(
            lst.item(i).data(Qt.ItemDataRole.UserRole) == data
            for i, (_text, data) in enumerate(rows)
        )
        lst.blockSignals(True)
        try:
            if same:
                for i, (text, _data) in enumerate(rows):
                    lst.item(i).setText(text)
            else:
                lst.clear()
                for text, data in rows:
                    item = QListWidgetItem(text, lst)
                    item.setData(Qt.ItemDataRole.UserRole, data)
                    item.setToolTip(str(text))
        finally:
            lst.blockSignals(False)
        if not same:
            section.fit()
            section.select_data(chosen)
        section.setVisible(section is self.categories or len(rows) > 1)

    def _chosen(self, section: _Section, combo: str, default: object) -> None:
        items = section.list.selectedItems()
        data = items[0].data(Qt.ItemDataRole.UserRole) if items else default
        self.filters.choose(combo, data)
        self.follow_filters()  # a choice the combo lacks shows as "All"

    def follow_filters(self) -> None:
        """Select the rows the filter combos hold."""
        form = self.filters.form
        self.status.select_data(form.filterStatus.currentData())
        self.categories.select_data(form.filterCategory.currentData())
        self.tags.select_data(form.filterTag.currentData())

    # ------------------------------------------------------------------ the window

    @classmethod
    def install(cls, window: SideBarWindow) -> SideBarHost:
        """Put a sidebar left of `window`'s task list, with the empty-table line, the
        hidden-task banner and the detail pane's following of the filters."""
        return SideBarHost(window, cls(window.filters))


def _list_area(table: QWidget, page: QWidget | None) -> QWidget:
    """The widget that holds the task list and what shares its place (the detail pane):
    the tasks page's child above the list, else the splitters around the list."""
    holder, parent = table, table.parentWidget()
    if page is not None and page.isAncestorOf(table):
        while parent is not None and parent is not page:
            holder, parent = parent, parent.parentWidget()
        return holder
    while isinstance(parent, QSplitter):
        holder, parent = parent, parent.parentWidget()
    return holder


def _replace_in_layout(widget: QWidget, by: QWidget) -> QBoxLayout | None:
    """Put `by` where the widget holding `widget` sits in a layout (`widget` itself, or the
    splitter around it); returns that layout."""
    child = widget
    parent = child.parentWidget()
    while parent is not None:
        layout = parent.layout()
        if layout is not None and layout.indexOf(child) >= 0:
            index = layout.indexOf(child)
            if isinstance(layout, QBoxLayout):
                layout.insertWidget(index, by, 1)
                layout.removeWidget(child)
                return layout
            layout.replaceWidget(child, by)
            return None
        child, parent = parent, parent.parentWidget()
    return None


class SideBarHost(QObject):
    """The sidebar in the window: the splitter, View › Sidebar, the counts' timing, the
    empty-table line, the hidden-task banner and the detail pane's following of the filters.
    Reach it as `window.sidebar`."""

    def __init__(self, window: SideBarWindow, bar: SideBar) -> None:
        super().__init__(bar)
        self.window = window
        self.bar = bar
        self.filters = window.filters
        self._asking: frozenset[str] = frozenset()
        self._watched: str | None = None
        table = window.table
        # The list (with whatever shares its place, e.g. the detail pane) goes right of it.
        holder = _list_area(table, getattr(window.form, "tasksTab", None))
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setObjectName("sideBarSplitter")
        layout = _replace_in_layout(holder, self.splitter)
        self.splitter.addWidget(bar)
        self.splitter.addWidget(holder)
        self.splitter.setCollapsible(0, True)
        self.splitter.setCollapsible(1, False)
        self.splitter.setStretchFactor(0, 0)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([DEFAULT_WIDTH, 1000])
        bar.setMinimumWidth(120)
        self.banner = HiddenTaskBanner()
        if layout is not None:
            layout.insertWidget(layout.indexOf(self.splitter), self.banner)
        self.banner.showRequested.connect(self._show_hidden)
        self.empty = EmptyState(table)
        self.empty.clearRequested.connect(self.filters.clear_all)
        self.empty.newTaskRequested.connect(window.form.actionNewTask.trigger)
        self.action = QAction("Side&bar", window.form.menuView)
        self.action.setObjectName("actionSideBar")
        self.action.setCheckable(True)
        self.action.setChecked(True)
        self.action.setToolTip("Show the status, category and tag choices beside the list")
        self.action.toggled.connect(self._set_shown)
        window.form.menuView.addAction(self.action)
        self._restore()
        self.splitter.splitterMoved.connect(self._moved)
        bar.installEventFilter(self)

        self.live = LiveCounts()
        self._due_timer = QTimer(bar)
        self._due_timer.setSingleShot(True)
        self._due_timer.timeout.connect(self._time_came)
        self._detail_timer = QTimer(bar)
        self._detail_timer.setSingleShot(True)
        self._detail_timer.setInterval(0)
        self._detail_timer.timeout.connect(self._follow_detail)
        model, proxy = window.model, window.proxy
        model.modelReset.connect(self.recount)
        model.rowsInserted.connect(self._rows_in)
        model.rowsAboutToBeRemoved.connect(self._rows_out)
        model.dataChanged.connect(self._rows_changed)
        model.batchApplied.connect(self._after_batch)
        window.questions.refreshed.connect(self._questions_changed)
        self.filters.changed.connect(self._filters_changed)
        self.filters.set_titles(window.queue.registry.titles())
        for signal in (proxy.layoutChanged, proxy.rowsRemoved, proxy.modelReset):
            signal.connect(self._detail_timer.start)
        for signal in (
            proxy.layoutChanged,
            proxy.rowsRemoved,
            proxy.rowsInserted,
            proxy.modelReset,
        ):
            signal.connect(self._update_empty)
        self.recount()
        self._update_empty()

    # ------------------------------------------------------------------ counts

    def recount(self) -> None:
        """Count every task anew (one pass over the rows) and show it."""
        self.live.reset(self.window.model.tasks(), self._asking)
        self._show_counts()

    def _show_counts(self) -> None:
        """Show the counts; count again when the first scheduled task's time comes (it moves
        to Waiting, though no event says so)."""
        counts = self.live.counts
        self.bar.show_counts(counts)
        self._due_timer.stop()
        if counts.next_due is not None:
            delay_s = max(0.0, counts.next_due - time.time()) + 0.05
            self._due_timer.start(int(min(delay_s, MAX_DUE_WAIT_S) * 1000))

    def _time_came(self) -> None:
        choice = self.window.proxy.choice
        if choice is not None and choice.test is not None:
            self.window.proxy.invalidate()
        self.live.due_now(self.window.model.task_by_id)
        self._show_counts()
        self.window.table.viewport().update()  # its Status cell: no longer "Scheduled"

    def _rows_in(self, _parent: QModelIndex, first: int, last: int) -> None:
        model = self.window.model
        self.live.update(model.task(r) for r in range(first, last + 1))

    def _rows_out(self, _parent: QModelIndex, first: int, last: int) -> None:
        model = self.window.model
        self.live.remove(model.task(r).id for r in range(first, last + 1))

    def _rows_changed(self, top_left: QModelIndex, bottom_right: QModelIndex, *_: object) -> None:
        if top_left.column() == bottom_right.column() == Column.DURATION:
            return  # the running time ticked: nothing counted changed
        model = self.window.model
        self.live.update(model.task(r) for r in range(top_left.row(), bottom_right.row() + 1))

    def _after_batch(self) -> None:
        self._show_counts()
        self._update_empty()
        self._check_watched()

    def _questions_changed(self, *_args: object) -> None:
        self._asking = frozenset(q.task_id for q in self.window.questions.questions)
        self.window.proxy.set_asking(self._asking)
        self.live.set_asking(self._asking, self.window.model.task_by_id)
        self._show_counts()

    # ------------------------------------------------------------------ the list

    def _filters_changed(self) -> None:
        self._update_empty()
        task_id = self.banner.task_id
        if task_id is not None and self._is_shown(task_id):
            self.banner.dismiss()

    def _update_empty(self, *_args: object) -> None:
        self.empty.update_for(self.window.model.rowCount(), self.window.proxy.rowCount())

    def _is_shown(self, task_id: str) -> bool:
        model = self.window.model
        row = model.row_of(task_id)
        if row is None:
            return False
        return self.window.proxy.mapFromSource(model.index(row, 0)).isValid()

    def _follow_detail(self) -> None:
        """The filters hid the task the detail pane shows: show a shown selected one, or
        nothing."""
        detail = self.window.detail
        shown = detail.task
        if shown is None or self._is_shown(shown.id):
            return
        visible = [t for t in self.window.selected_tasks() if self._is_shown(t.id)]
        detail.show_task(visible[0] if visible else None)
        self.window.update_actions()

    # ------------------------------------------------------------------ hidden tasks

    def watch(self, task_id: str) -> None:
        """The user asked to see this task (just added, or opened from a question or a
        notification): if the filters hide it, say so with a "Show it" link."""
        self._watched = task_id
        self._check_watched()

    def _check_watched(self) -> None:
        task_id = self._watched
        if task_id is None:
            return
        task = self.window.model.task_by_id(task_id)
        if task is None:
            return  # not here yet: the next batch brings it
        self._watched = None
        if self._is_shown(task_id):
            self.banner.dismiss()
            return
        self.banner.show_for(task_id, task.name)
        self.window.show_message(f"“{task.name}” is hidden by the filters", 8000)

    def _show_hidden(self, task_id: str) -> None:
        self.filters.clear_all()
        self.window.select_task(task_id)

    # ------------------------------------------------------------------ layout

    def _set_shown(self, shown: bool) -> None:
        self.bar.setVisible(shown)
        if shown and self.splitter.sizes()[0] == 0:
            self.splitter.setSizes([DEFAULT_WIDTH, max(1, self.splitter.width() - DEFAULT_WIDTH)])
        self.window.settings.setValue(SHOWN_KEY, shown)
        self._save()

    def _moved(self, *_args: object) -> None:
        collapsed = self.splitter.sizes()[0] == 0
        if collapsed == self.action.isChecked():
            self.action.blockSignals(True)
            self.action.setChecked(not collapsed)
            self.action.blockSignals(False)
            self.window.settings.setValue(SHOWN_KEY, not collapsed)
        self._save()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """The sidebar was resized (a drag, or the splitter set anew): remember its width."""
        if event.type() == QEvent.Type.Resize and self.bar.isVisible():
            self._save()
        return False

    def _save(self) -> None:
        if self.bar.isVisible() and self.splitter.sizes()[0] > 0:
            self.window.settings.setValue(SPLITTER_KEY, self.splitter.saveState())

    def _restore(self) -> None:
        state = self.window.settings.value(SPLITTER_KEY)
        if isinstance(state, QByteArray):
            self.splitter.restoreState(state)
        shown = str(self.window.settings.value(SHOWN_KEY, "true")).lower() != "false"
        self.bar.setVisible(shown)
        self.action.blockSignals(True)
        self.action.setChecked(shown)
        self.action.blockSignals(False)
