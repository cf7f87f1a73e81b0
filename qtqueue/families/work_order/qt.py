"""The work-order family's widget in the detail pane: where the work is and what it changed.

The window loads this module through the family descriptor (`Family.qt_module`) and asks
`detail_widget(parent)` for the widget; nothing else imports it. It follows the detail pane's
family-widget contract (`shows(task)`, `reset()`, `feed(task_id, chunk)`, `finish(task_id)`,
the `updated(task id)` signal); what it shows comes from the task itself, which the pane hands
to `shows` each time it renders it: the result's files changed, branches and worktree, or the
worktree a failed attempt kept for a look.
"""

from __future__ import annotations

import logging
from typing import Any

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFormLayout,
    QGroupBox,
    QLabel,
    QSizePolicy,
    QTreeWidget,
    QTreeWidgetItem,
    QWidget,
)

from qtqueue.core.task import Task
from qtqueue.ui.family_widgets import fit_rows
from qtqueue.work_orders import WORK_ORDER_TYPE

logger = logging.getLogger(__name__)

__all__ = ["WorkOrderView", "detail_widget", "work_order_facts"]

TITLE = "Work order"


def work_order_facts(task: Task) -> dict[str, Any] | None:
    """What the widget shows of `task`: worktree, branches and files changed from its result,
    or the worktree its failed attempt kept; None when there is nothing (another type, or a
    work order that has not got that far)."""
    if task.type_name != WORK_ORDER_TYPE:
        return None
    result = task.result if isinstance(task.result, dict) else {}
    if "files_modified" in result:
        return {
            "worktree": result.get("worktree") or "removed (Keep worktrees is off)",
            "branches": f"{result.get('branch', '?')} → {result.get('work_branch', '?')}",
            "files": [str(f) for f in result.get("files_modified") or []],
        }
    kept = task.error_details.get("worktree") if task.error_details else None
    if kept:
        return {"worktree": str(kept), "branches": "", "files": None}
    return None


class WorkOrderView(QGroupBox):
    """'Work order': the worktree (selectable, to open it), the branches, the files changed."""

    updated = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(TITLE, parent)
        self.setObjectName("workOrderBox")
        self.worktree = QLabel()
        self.worktree.setObjectName("workOrderWorktree")
        self.worktree.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.branches = QLabel()
        self.branches.setObjectName("workOrderBranches")
        self.files = QTreeWidget()
        self.files.setObjectName("workOrderFiles")
        self.files.setHeaderLabels(["Files changed"])
        self.files.setRootIsDecorated(False)
        self.files.setUniformRowHeights(True)
        self.files.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.files.setMaximumSize(QSize(16777215, 220))
        for label in (self.worktree, self.branches):
            label.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        layout = QFormLayout(self)
        layout.addRow("Worktree", self.worktree)
        layout.addRow("Branch", self.branches)
        layout.addRow(self.files)
        self._shown: dict[str, Any] | None = None

    def shows(self, task: Task) -> bool:
        """Whether there is something to show about `task`; shows it."""
        facts = work_order_facts(task)
        if facts is not None and facts != self._shown:
            self._show(facts)
            self.updated.emit(task.id)
        self._shown = facts
        return facts is not None

    def _show(self, facts: dict[str, Any]) -> None:
        self.worktree.setText(facts["worktree"])
        self.worktree.setToolTip(facts["worktree"])
        self.branches.setText(facts["branches"])
        self.branches.setVisible(bool(facts["branches"]))
        files: list[str] | None = facts["files"]
        self.files.clear()
        self.files.setVisible(files is not None)
        if files is not None:
            self.files.addTopLevelItems([QTreeWidgetItem([f]) for f in files])
            self.files.setHeaderLabels([f"Files changed ({len(files)})"])
            fit_rows(self.files)

    def reset(self) -> None:
        """Another task comes next: forget what was shown."""
        self._shown = None

    def feed(self, task_id: str, chunk: str) -> None:
        """The log is not read: everything shown comes from the task."""

    def finish(self, task_id: str) -> None:
        """See `feed`."""


def detail_widget(parent: QWidget | None = None) -> WorkOrderView:
    """The widget the detail pane hosts for this family."""
    return WorkOrderView(parent)
