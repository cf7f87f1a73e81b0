"""What the task list says when it shows nothing or hides what the user looks for: the line
over an empty table (`EmptyState`: "No tasks match these filters — Clear filters", or "No
tasks yet — New task…") and the banner over it when a task the user just added or opened is
hidden by the filters (`HiddenTaskBanner`, with a "Show it" link)."""

from __future__ import annotations

import html
import logging

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtWidgets import QAbstractItemView, QFrame, QHBoxLayout, QLabel, QToolButton, QWidget

logger = logging.getLogger(__name__)

#: The links' targets.
CLEAR_LINK = "clear-filters"
NEW_LINK = "new-task"
SHOW_LINK = "show-it"

#: The empty table's lines.
NO_MATCH_TEXT = f'No tasks match these filters — <a href="{CLEAR_LINK}">Clear filters</a>'
NO_TASKS_TEXT = f'No tasks yet — <a href="{NEW_LINK}">New task…</a>'


class EmptyState(QLabel):
    """A line centred near the top of an empty table (`view`'s viewport). `update_for(total,
    shown)` shows the right words, or hides it when rows show. Its links emit
    `clearRequested` and `newTaskRequested`."""

    clearRequested = Signal()
    newTaskRequested = Signal()

    def __init__(self, view: QAbstractItemView) -> None:
        super().__init__(view.viewport())
        self.setObjectName("emptyStateLabel")
        self.setTextFormat(Qt.TextFormat.RichText)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.LinksAccessibleByMouse)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setStyleSheet("QLabel { color: palette(placeholder-text); padding: 16px; }")
        font = self.font()
        font.setPointSizeF(font.pointSizeF() * 1.15)
        self.setFont(font)
        self.linkActivated.connect(self._follow)
        view.viewport().installEventFilter(self)
        self.hide()

    def update_for(self, total: int, shown: int) -> None:
        """Say why the table is empty (`total` tasks, `shown` of them), or hide."""
        if shown:
            self.hide()
            return
        self.setText(NO_TASKS_TEXT if total == 0 else NO_MATCH_TEXT)
        self._place()
        self.show()
        self.raise_()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Resize and self.isVisible():
            self._place()
        return super().eventFilter(watched, event)

    def _place(self) -> None:
        parent = self.parentWidget()
        if parent is None:
            return
        self.adjustSize()
        width = min(self.width(), parent.width())
        self.setGeometry((parent.width() - width) // 2, 24, width, self.height())

    def _follow(self, link: str) -> None:
        if link == CLEAR_LINK:
            self.clearRequested.emit()
        elif link == NEW_LINK:
            self.newTaskRequested.emit()


class HiddenTaskBanner(QFrame):
    """A bar saying that a task is hidden by the filters, with "Show it" (emits
    `showRequested(task_id)`) and a close button."""

    showRequested = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("hiddenTaskBanner")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setStyleSheet(
            "#hiddenTaskBanner { background: rgba(37, 99, 235, 0.12);"
            " border: 1px solid rgba(37, 99, 235, 0.45); border-radius: 4px; }"
        )
        self.task_id: str | None = None
        self.label = QLabel(self)
        self.label.setObjectName("hiddenTaskLabel")
        self.label.setTextFormat(Qt.TextFormat.RichText)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.LinksAccessibleByMouse)
        self.label.linkActivated.connect(self._follow)
        close = QToolButton(self)
        close.setObjectName("hiddenTaskClose")
        close.setText("✕")
        close.setAutoRaise(True)
        close.setToolTip("Hide this message")
        close.clicked.connect(self.dismiss)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 2, 2, 2)
        layout.addWidget(self.label, 1)
        layout.addWidget(close)
        self.hide()

    def show_for(self, task_id: str, name: str) -> None:
        """Say that the task `name` is hidden by the filters."""
        self.task_id = task_id
        self.label.setText(
            f'“{html.escape(name)}” is hidden by the filters. <a href="{SHOW_LINK}">Show it</a>'
        )
        self.show()

    def dismiss(self) -> None:
        """Hide the banner."""
        self.task_id = None
        self.hide()

    def _follow(self, link: str) -> None:
        task_id = self.task_id
        if link == SHOW_LINK and task_id is not None:
            self.dismiss()
            self.showRequested.emit(task_id)
