"""The margin left of the log: when each line arrived (for lines seen live).

The time is kept in the line's block as its user state (`encode_time`): seconds since a base
the view picks, so 32 bits last decades; -1 (Qt's default) is a line loaded from the file, whose
arrival time the log does not record, and shows nothing.
"""

from __future__ import annotations

import logging
import time

from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QPainter, QPaintEvent, QPalette, QTextBlock
from PySide6.QtWidgets import QPlainTextEdit, QWidget

logger = logging.getLogger(__name__)

NO_TIME = -1


def encode_time(at: float, base: float) -> int:
    """The block state for a line that arrived at `at` (seconds since the epoch)."""
    return max(0, int(at - base))


def decode_time(state: int, base: float) -> float | None:
    """When a line with block state `state` arrived, or None when it was loaded."""
    return None if state < 0 else base + state


class TimeGutter(QWidget):
    """Paints `HH:MM:SS` beside each visible line that has a time; lives inside `edit`, in
    the viewport margin it reserves while shown."""

    def __init__(self, edit: QPlainTextEdit, base: float) -> None:
        super().__init__(edit)
        self.setObjectName("logTimes")
        self._edit = edit
        self.base = base
        edit.updateRequest.connect(self._scrolled)
        self.hide()

    def width_needed(self) -> int:
        """Pixels the gutter takes: a time and some room."""
        return self._edit.fontMetrics().horizontalAdvance("00:00:00") + 10

    def set_shown(self, shown: bool) -> None:
        """Show or hide the times, giving the text its room back."""
        width = self.width_needed() if shown else 0
        self._edit.setViewportMargins(width, 0, 0, 0)
        self.setVisible(shown)
        self.place()

    def place(self) -> None:
        """Follow the edit's size (call from its resize)."""
        rect = self._edit.contentsRect()
        self.setGeometry(QRect(rect.left(), rect.top(), self.width_needed(), rect.height()))

    def _scrolled(self, rect: QRect, dy: int) -> None:
        if self.isVisible():
            if dy:
                self.scroll(0, dy)
            else:
                self.update(0, rect.y(), self.width(), rect.height())

    def visible_times(self) -> list[tuple[int, str]]:
        """(block number, text) of the visible lines that show a time."""
        out = []
        block = self._edit.firstVisibleBlock()
        offset = self._edit.contentOffset()
        bottom = self._edit.viewport().height()
        while block.isValid():
            top = self._edit.blockBoundingGeometry(block).translated(offset).top()
            if top > bottom:
                break
            if block.isVisible():
                text = self._label(block)
                if text:
                    out.append((block.blockNumber(), text))
            block = block.next()
        return out

    def _label(self, block: QTextBlock) -> str:
        at = decode_time(block.userState(), self.base)
        return "" if at is None else time.strftime("%H:%M:%S", time.localtime(at))

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        palette = self.palette()
        painter.fillRect(event.rect(), palette.color(QPalette.ColorRole.AlternateBase))
        painter.setPen(palette.color(QPalette.ColorRole.PlaceholderText))
        painter.setFont(self._edit.font())
        block = self._edit.firstVisibleBlock()
        offset = self._edit.contentOffset()
        height = self._edit.fontMetrics().height()
        while block.isValid():
            top = int(self._edit.blockBoundingGeometry(block).translated(offset).top())
            if top > event.rect().bottom():
                break
            text = self._label(block)
            if text and block.isVisible():
                painter.drawText(
                    QRect(0, top, self.width() - 5, height),
                    int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter),
                    text,
                )
            block = block.next()
        painter.end()
