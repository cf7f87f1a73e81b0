"""The log's find bar: what to look for, next/previous, "3 of 17", every match highlighted.

Matches are found in the document's plain text (case-insensitive), positions counted as Qt
counts them (UTF-16 units), so a log with emoji still selects the right characters. While the
log grows the count is brought up to date at most four times a second.
"""

from __future__ import annotations

import bisect
import logging
import re

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QColor, QKeyEvent, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QTextEdit,
    QToolButton,
    QWidget,
)

logger = logging.getLogger(__name__)

#: Matches highlighted at most (the current one always is); more would slow the painting.
MAX_HIGHLIGHTS = 2000
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")


def find_all(text: str, query: str) -> list[int]:
    """Where `query` occurs in `text`, case-insensitive, as UTF-16 positions (Qt's)."""
    if not query:
        return []
    hay, needle = text.casefold(), query.casefold()
    if len(hay) != len(text) or len(needle) != len(query):
        # Case folding changed lengths (ß → ss): fall back to a regex on the original.
        found = [m.start() for m in re.finditer(re.escape(query), text, re.IGNORECASE)]
    else:
        found = []
        i = hay.find(needle)
        while i >= 0:
            found.append(i)
            i = hay.find(needle, i + len(needle))
    astral = [m.start() for m in _ASTRAL.finditer(text)]
    if astral:
        found = [p + bisect.bisect_left(astral, p) for p in found]
    return found


def utf16_len(text: str) -> int:
    """How many UTF-16 units `text` takes."""
    return len(text) + len(_ASTRAL.findall(text))


class FindBar(QWidget):
    """Searches `edit`; hidden until `open()` (Ctrl+F). `changed` after each new count."""

    changed = Signal()

    def __init__(self, edit: QPlainTextEdit, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("logFindBar")
        self._edit = edit
        self._matches: list[int] = []
        self._length = 0
        self.current = -1
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 2, 0, 2)
        self.query = QLineEdit(self)
        self.query.setObjectName("logFindInput")
        self.query.setPlaceholderText("Find in log")
        self.query.setClearButtonEnabled(True)
        self.count = QLabel(self)
        self.count.setObjectName("logFindCount")
        self.count.setMinimumWidth(80)
        self.previous_button = self._button("logFindPrevious", "▲", "Previous match (Shift+Enter)")
        self.next_button = self._button("logFindNext", "▼", "Next match (Enter)")
        close = self._button("logFindClose", "✕", "Close (Esc)")
        layout.addWidget(self.query, 1)
        layout.addWidget(self.count)
        layout.addWidget(self.previous_button)
        layout.addWidget(self.next_button)
        layout.addWidget(close)
        self.query.textChanged.connect(self._query_changed)
        self.query.returnPressed.connect(self.next)
        self.previous_button.clicked.connect(self.previous)
        self.next_button.clicked.connect(self.next)
        close.clicked.connect(self.close_bar)
        self._recount = QTimer(self)
        self._recount.setSingleShot(True)
        self._recount.setInterval(250)
        self._recount.timeout.connect(self._refresh)
        self.hide()

    def _button(self, name: str, text: str, tip: str) -> QToolButton:
        button = QToolButton(self)
        button.setObjectName(name)
        button.setText(text)
        button.setToolTip(tip)
        button.setAutoRaise(True)
        return button

    # ------------------------------------------------------------------ public

    def open(self) -> None:
        """Show the bar with its text selected (what is selected in the log, if one line)."""
        selected = self._edit.textCursor().selectedText()
        if selected and "\u2029" not in selected:
            self.query.setText(selected)
        self.show()
        self.query.setFocus()
        self.query.selectAll()
        self._refresh()

    def close_bar(self) -> None:
        """Hide the bar and its highlights; the log gets the focus back."""
        self.hide()
        self._edit.setExtraSelections([])
        self._edit.setFocus()

    def count_text(self) -> str:
        """What the count says: "3 of 17", "No matches", or nothing."""
        return self.count.text()

    def log_changed(self) -> None:
        """The log grew: count again soon (not on every frame)."""
        if self.isVisible() and self.query.text() and not self._recount.isActive():
            self._recount.start()

    def next(self) -> None:
        """Select the next match (after the last, the first)."""
        self._step(+1)

    def previous(self) -> None:
        """Select the previous match (before the first, the last)."""
        self._step(-1)

    # ------------------------------------------------------------------ internals

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Escape:
            self.close_bar()
        elif event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and (
            event.modifiers() & Qt.KeyboardModifier.ShiftModifier
        ):
            self.previous()
        else:
            super().keyPressEvent(event)

    def _query_changed(self) -> None:
        self.current = -1
        self._refresh()
        if self._matches:
            self._step(+1)

    def _refresh(self) -> None:
        query = self.query.text()
        self._length = utf16_len(query)
        self._matches = find_all(self._edit.toPlainText(), query) if query else []
        if self.current >= len(self._matches):
            self.current = len(self._matches) - 1
        self._show()

    def _step(self, by: int) -> None:
        if not self._matches:
            self._show()
            return
        if self.current < 0:
            # The first match after what the view shows at its top.
            top = self._edit.cursorForPosition(self._edit.viewport().rect().topLeft()).position()
            at = bisect.bisect_left(self._matches, top)
            self.current = at % len(self._matches) if by > 0 else (at - 1) % len(self._matches)
        else:
            self.current = (self.current + by) % len(self._matches)
        cursor = QTextCursor(self._edit.document())
        start = self._matches[self.current]
        cursor.setPosition(start)
        cursor.setPosition(start + self._length, QTextCursor.MoveMode.KeepAnchor)
        self._edit.setTextCursor(cursor)
        self._edit.centerCursor()
        self._show()

    def _show(self) -> None:
        if not self.query.text():
            self.count.setText("")
        elif not self._matches:
            self.count.setText("No matches")
        else:
            where = f"{self.current + 1} of " if self.current >= 0 else ""
            self.count.setText(f"{where}{len(self._matches)}")
        self.query.setStyleSheet(
            "background: #fee2e2; color: #7f1d1d;"
            if self.query.text() and not self._matches
            else ""
        )
        self._highlight()
        self.changed.emit()

    def _highlight(self) -> None:
        every = QTextCharFormat()
        every.setBackground(QColor("#fde68a"))
        every.setForeground(QColor("#111827"))
        current = QTextCharFormat()
        current.setBackground(QColor("#f97316"))
        current.setForeground(QColor("#ffffff"))
        selections = [self._selection(start, every) for start in self._matches[:MAX_HIGHLIGHTS]]
        if self.current >= 0:
            selections.append(self._selection(self._matches[self.current], current))
        self._edit.setExtraSelections(selections)

    def _selection(self, start: int, fmt: QTextCharFormat) -> QTextEdit.ExtraSelection:
        cursor = QTextCursor(self._edit.document())
        cursor.setPosition(start)
        cursor.setPosition(start + self._length, QTextCursor.MoveMode.KeepAnchor)
        selection = QTextEdit.ExtraSelection()
        selection.cursor = cursor
        selection.format = fmt
        return selection
