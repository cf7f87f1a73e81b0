"""The detail pane's dependency list: the shown task's dependencies with their live statuses.

Looked up once per shown task (`get_task`), then kept current from the engine's events through
a subscription held only while a task with dependencies is shown. It also names the dependency
whose failure failed the task (`culprit_text`), once that one was looked up. Each dependency
is listed by name as a link: clicking it (or Enter on it) emits `linkActivated(task id)`, for
the window to select that task.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

from PySide6.QtCore import QObject, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QCursor, QFont, QPalette
from PySide6.QtWidgets import QTreeWidgetItem

from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.core.task import Task
from qtqueue.engine.events import EventKind, Subscriber, TaskEvent
from qtqueue.ui.engine_bridge import BackgroundTasks
from qtqueue.ui.family_widgets import fit_rows
from qtqueue.ui.forms.detail_pane_ui import Ui_DetailPane
from qtqueue.ui.icons import status_color
from qtqueue.ui.task_list.columns import status_text

logger = logging.getLogger(__name__)

#: The most dependencies the pane looks up and lists; the rest are counted.
MAX_DEPENDENCIES_SHOWN = 30

#: How a dependency ended, as `error_details["dependency_status"]` says it.
_ENDED = {
    "failed": "failed",
    "cancelled": "was cancelled",
    "timeout": "timed out",
    "removed": "was removed",
}


class DependencySource(Protocol):
    """What the list needs of the engine (`TaskQueue` fits)."""

    async def get_task(self, task_id: str) -> Task: ...

    def subscribe(self, fn: Subscriber) -> Callable[[], None]: ...


def short_id(task_id: str) -> str:
    """The first eight characters of a task id, as lists show it."""
    return task_id[:8]


class DependencyList(QObject):
    """Fills the pane's `dependencyView` (and `culpritValue`) for the task given to `show`.

    `updated(task id)` is emitted whenever the view shows newer statuses; `linkActivated(task
    id)` when the user clicks a dependency (or presses Enter on it).
    """

    updated = Signal(str)
    linkActivated = Signal(str)

    def __init__(
        self,
        source: DependencySource | None,
        form: Ui_DetailPane,
        background: BackgroundTasks,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._source = source
        self._form = form
        self._background = background
        self._task: Task | None = None
        # Fetched snapshots (None: removed), whose task they belong to, and the subscription.
        self._deps: dict[str, Task | None] = {}
        self._deps_of: str | None = None
        self._dep_ids: frozenset[str] = frozenset()
        self._unsubscribe: Callable[[], None] | None = None
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self._render)
        view = form.dependencyView
        view.setCursor(QCursor(Qt.CursorShape.PointingHandCursor))
        view.setToolTip("Click a dependency to select it in the list")
        view.itemClicked.connect(self._activated)
        view.itemActivated.connect(self._activated)

    @Slot(QTreeWidgetItem, int)
    def _activated(self, item: QTreeWidgetItem, _column: int) -> None:
        dep_id = item.data(0, Qt.ItemDataRole.UserRole)
        if isinstance(dep_id, str) and dep_id:
            self.linkActivated.emit(dep_id)

    def show(self, t: Task) -> None:
        """List `t`'s dependencies (looked up when `t` is another task than before)."""
        self._task = t
        if not t.depends_on or self._source is None:
            self.forget()
            return
        if self._deps_of != t.id:
            self.forget()
            self._task = t
            self._deps_of = t.id
            shown = t.depends_on[:MAX_DEPENDENCIES_SHOWN]
            self._dep_ids = frozenset(shown)
            # Subscribed before the look-ups, so no change falls between the two.
            self._unsubscribe = self._source.subscribe(self._on_events)
            self._background.spawn(self._fetch(t.id, shown), f"look up dependencies of {t.id}")
        self._render()

    def forget(self) -> None:
        """Stop following; the view is emptied."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self._task = None
        self._deps = {}
        self._deps_of = None
        self._dep_ids = frozenset()
        self._timer.stop()
        self._form.dependencyView.clear()
        fit_rows(self._form.dependencyView)

    def culprit_text(self, t: Task) -> str:
        """The dependency whose failure failed `t`, named once it was looked up; ''."""
        if t.error_code != TaskErrorCode.QUEUE_DEPENDENCY_FAILED:
            return ""
        dep_id = str(t.error_details.get("dependency_id") or "")
        if not dep_id:
            return ""
        ended = str(t.error_details.get("dependency_status") or "failed")
        dep = self._deps.get(dep_id)
        who = f"{dep.name} ({short_id(dep_id)})" if dep is not None else short_id(dep_id)
        return f"{who}: {_ENDED.get(ended, ended)}"

    async def _fetch(self, task_id: str, dep_ids: list[str]) -> None:
        assert self._source is not None
        for dep_id in dep_ids:
            try:
                dep: Task | None = await self._source.get_task(dep_id)
            except QueueError:
                dep = None  # removed
            if self._deps_of != task_id:
                return
            self._keep(dep_id, dep)
        self._render()

    def _keep(self, dep_id: str, dep: Task | None) -> None:
        """Keep the newer of what is known and `dep` (an event may beat a look-up)."""
        known = self._deps.get(dep_id)
        if dep is None or known is None or dep.updated_at >= known.updated_at:
            self._deps[dep_id] = dep

    def _on_events(self, events: list[TaskEvent]) -> None:
        """The engine's subscriber: note what happened to a shown dependency; the list is
        redrawn once for the batch."""
        changed = False
        for e in events:
            if e.task_id not in self._dep_ids:
                continue
            if e.kind == EventKind.REMOVED:
                self._deps[e.task_id] = None
            elif e.task is not None:
                self._keep(e.task_id, e.task)
            else:
                continue
            changed = True
        if changed and not self._timer.isActive():
            self._timer.start()

    @Slot()
    def _render(self) -> None:
        t = self._task
        if t is None or not t.depends_on or self._deps_of != t.id:
            return
        f = self._form
        culprit = (
            t.error_details.get("dependency_id")
            if t.error_code == TaskErrorCode.QUEUE_DEPENDENCY_FAILED
            else None
        )
        link = f.dependencyView.palette().color(QPalette.ColorRole.Link)
        items = []
        for dep_id in t.depends_on[:MAX_DEPENDENCIES_SHOWN]:
            item = QTreeWidgetItem([short_id(dep_id), "…", short_id(dep_id)])
            item.setToolTip(2, dep_id)
            if dep_id in self._deps:
                dep = self._deps[dep_id]
                if dep is None:
                    item.setText(1, "removed")
                else:
                    item.setText(1, status_text(dep.status))
                    item.setText(0, dep.name)
                    item.setForeground(1, status_color(dep.status))
                    # A link to the dependency, which selects it in the list.
                    item.setData(0, Qt.ItemDataRole.UserRole, dep_id)
                    item.setToolTip(0, f"Select {dep.name} in the list")
                    underlined = QFont(item.font(0))
                    underlined.setUnderline(True)
                    item.setFont(0, underlined)
                    item.setForeground(0, link)
            if dep_id == culprit:
                for column in range(3):
                    bold = QFont(item.font(column))
                    bold.setBold(True)
                    item.setFont(column, bold)
            items.append(item)
        more = len(t.depends_on) - MAX_DEPENDENCIES_SHOWN
        if more > 0:
            items.append(QTreeWidgetItem([f"+{more} more", "", ""]))
        view = f.dependencyView
        view.clear()
        view.addTopLevelItems(items)
        view.resizeColumnToContents(0)
        view.resizeColumnToContents(1)
        fit_rows(view)
        text = self.culprit_text(t)
        f.culpritValue.setText(text)
        f.schedulingForm.setRowVisible(f.culpritValue, bool(text))
        self.updated.emit(t.id)
