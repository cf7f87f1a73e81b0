"""The kubernetes family's widget in the detail pane: the rollout of a deploy or scale.

The window loads this module through the family descriptor (`Family.qt_module`) and asks
`detail_widget(parent)` for the widget; nothing else imports it. The widget shows each
workload's replicas (desired, updated, ready, available) and outcome, and under it its pods
and their states, read from the `rollout ...` lines of the task's log as the log grows (each
chunk parsed once). It follows the detail pane's family-widget contract: `shows(task)`,
`reset()`, `feed(task_id, chunk)`, `finish(task_id)` and the `updated(task id)` signal.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QGroupBox,
    QTreeWidgetItem,
    QWidget,
)

from qtqueue.core.log_lines import LineFeed
from qtqueue.core.task import Task, TaskType
from qtqueue.families.kubernetes.rollout import (
    POD_FAILURE_REASONS,
    RolloutView,
    apply_rollout_line,
)
from qtqueue.ui.family_widgets import fit_rows, hosted_list

logger = logging.getLogger(__name__)

__all__ = ["RolloutFeed", "RolloutPane", "detail_widget", "rollout_status_text"]

#: Task types whose log carries `rollout ...` lines.
ROLLOUT_TYPES = frozenset({TaskType.K8S_DEPLOY.value, TaskType.K8S_SCALE.value})
TITLE = "Rollout"
COLUMNS = ["Workload / pod", "Desired", "Updated", "Ready", "Available", "Status"]
_FAILED = QColor(190, 40, 40)
_DONE = QColor(30, 130, 60)


class RolloutFeed(LineFeed[set[str]]):
    """The rollouts of a deploy or scale, fed the log chunk by chunk as it grows: only
    complete lines (an unfinished last line waits for the next chunk). `views` keeps each
    workload's latest state, as `parse_rollout_lines` over the whole log would."""

    def __init__(self) -> None:
        self.views: dict[str, RolloutView] = {}
        super().__init__()

    def _parse(self, text: str) -> set[str]:
        if "rollout " not in text:
            return set()
        changed = {apply_rollout_line(self.views, line) for line in text.splitlines()}
        return {name for name in changed if name}


def rollout_status_text(view: RolloutView) -> str:
    """'complete', 'failed', 'cancelled', or while it runs 'rolling out (2/3 ready)'."""
    if view.outcome:
        return view.outcome
    return f"rolling out ({view.ready}/{view.desired} ready)"


class RolloutPane(QGroupBox):
    """'Rollout': one row per workload (replica counts, status) with its pods under it,
    updated in place. `updated(task id)` is emitted after the rows changed."""

    updated = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(TITLE, parent)
        self.setObjectName("rolloutBox")
        self.view = hosted_list(self, "rolloutView", COLUMNS, nested=True)
        self._feed = RolloutFeed()
        self._items: dict[str, QTreeWidgetItem] = {}

    def shows(self, task: Task) -> bool:
        """Whether the widget has something to say about `task` (a deploy or a scale)."""
        return task.type_name in ROLLOUT_TYPES

    def reset(self) -> None:
        """Forget the rollouts shown: another task (or its log from the start) comes next."""
        self._feed = RolloutFeed()
        self._items.clear()
        self.view.clear()
        fit_rows(self.view)
        self.setTitle(TITLE)

    def feed(self, task_id: str, chunk: str) -> None:
        """The next piece of `task_id`'s log."""
        self._show(task_id, self._feed.feed(chunk))

    def finish(self, task_id: str) -> None:
        """`task_id`'s log ended."""
        self._show(task_id, self._feed.finish())

    def _show(self, task_id: str, changed: set[str]) -> None:
        if not changed:
            return
        for name in sorted(changed, key=list(self._feed.views).index):
            view = self._feed.views[name]
            item = self._items.get(name)
            if item is None:
                item = QTreeWidgetItem([name, *[""] * (len(COLUMNS) - 1)])
                self.view.addTopLevelItem(item)
                item.setExpanded(True)
                self._items[name] = item
            for column, value in enumerate(
                (view.desired, view.updated, view.ready, view.available), 1
            ):
                item.setText(column, str(value))
            item.setText(5, rollout_status_text(view))
            color = {"failed": _FAILED, "complete": _DONE}.get(view.outcome)
            item.setForeground(5, QBrush(color) if color else QBrush())
            self._show_pods(item, view)
        for column in range(len(COLUMNS) - 1):
            self.view.resizeColumnToContents(column)
        fit_rows(self.view)
        self.setTitle(f"{TITLE} ({len(self._items)})")
        self.updated.emit(task_id)

    def _show_pods(self, item: QTreeWidgetItem, view: RolloutView) -> None:
        item.takeChildren()
        for pod, state in view.pods.items():
            child = QTreeWidgetItem([pod, "", "", "", "", state])
            if state in POD_FAILURE_REASONS:
                child.setForeground(5, QBrush(_FAILED))
            item.addChild(child)


def detail_widget(parent: QWidget | None = None) -> RolloutPane:
    """The widget the detail pane hosts for this family."""
    return RolloutPane(parent)
