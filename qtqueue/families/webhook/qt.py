"""The webhook family's widget in the detail pane: the attempts of a CUSTOM_WEBHOOK call.

The window loads this module through the family descriptor (`Family.qt_module`) and asks
`detail_widget(parent)` for the widget; nothing else imports it. It lists each attempt's
outcome (status and time, or the error and the wait before the next try), read from the
`attempt N/M: ...` lines of the task's log as it grows, and follows the detail pane's
family-widget contract: `shows(task)`, `reset()`, `feed(task_id, chunk)`, `finish(task_id)`
and the `updated(task id)` signal. The response itself (status, headers, body) is the result.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QGroupBox, QTreeWidgetItem, QWidget

from qtqueue.core.log_lines import LineFeed
from qtqueue.core.task import Task, TaskType
from qtqueue.families.webhook.attempts import Attempt, parse_attempt_lines
from qtqueue.ui.family_widgets import fit_rows, hosted_list

logger = logging.getLogger(__name__)

__all__ = ["AttemptView", "detail_widget"]

TITLE = "Attempts"


class _AttemptFeed(LineFeed[list[Attempt]]):
    def _parse(self, text: str) -> list[Attempt]:
        return parse_attempt_lines(text) if "attempt " in text else []


class AttemptView(QGroupBox):
    """'Attempts (N)': one row per try (number, outcome); `updated(task id)` after rows came."""

    updated = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(TITLE, parent)
        self.setObjectName("webhookAttemptsBox")
        self.view = hosted_list(self, "webhookAttemptView", ["Attempt", "Outcome"])
        self._feed = _AttemptFeed()

    def shows(self, task: Task) -> bool:
        """Whether the widget has something to say about `task` (a webhook call)."""
        return task.type_name == TaskType.CUSTOM_WEBHOOK.value

    def reset(self) -> None:
        """Forget the attempts shown: another task (or its log from the start) comes next."""
        self._feed = _AttemptFeed()
        self.view.clear()
        fit_rows(self.view)
        self.setTitle(TITLE)

    def feed(self, task_id: str, chunk: str) -> None:
        """The next piece of `task_id`'s log."""
        self._show(task_id, self._feed.feed(chunk))

    def finish(self, task_id: str) -> None:
        """`task_id`'s log ended."""
        self._show(task_id, self._feed.finish())

    def _show(self, task_id: str, attempts: list[Attempt]) -> None:
        if not attempts:
            return
        for a in attempts:
            self.view.addTopLevelItem(QTreeWidgetItem([f"{a.number}/{a.of}", a.outcome]))
        self.view.resizeColumnToContents(0)
        fit_rows(self.view)
        self.setTitle(f"{TITLE} ({self.view.topLevelItemCount()})")
        self.updated.emit(task_id)


def detail_widget(parent: QWidget | None = None) -> AttemptView:
    """The widget the detail pane hosts for this family."""
    return AttemptView(parent)
