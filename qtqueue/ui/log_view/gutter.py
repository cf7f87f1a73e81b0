"""The margin left of the log: when each line arrived (for lines seen live), and a red bar
beside lines with stderr output.

The time is kept in the line's block as its user state (`encode_time`): seconds since a base
the view picks, so 32 bits last decades; -1 (Qt's default) is a line loaded from the file, whose
arrival time the log does not record, and shows nothing. Whether a line holds stderr output is
in its text's format (`STDERR_PROPERTY`); the bar (`StreamBar`) takes its few pixels only once
the log has some.
"""

from __future__ import annotations

import logging
import time

from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent, QPalette, QTextBlock, QTextFormat
from PySide6.QtWidgets import QPlainTextEdit, QWidget

logger = logging.getLogger(__name__)

NO_TIME = -1
#: The character format property set on text from stderr.
STDERR_PROPERTY = int(QTextFormat.Property.UserProperty) + 7733
#: The bar beside stderr lines: its width (pixels) and colour (reads on light and dark).
BAR_WIDTH = 4
BAR_COLOR = "#dc2626"


def has_stderr(block: QTextBlock) -> bool:
    """Whether any text of `block` (a line) came from stderr."""
    it = block.begin()
    while not it.atEnd():
        if it.fragment().charFormat().boolProperty(STDERR_PROPERTY):
            return True
        it += 1
    return False


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
        self.bar = StreamBar(edit)
        edit.updateRequest.connect(self._scrolled)
        self.hide()

    def width_needed(self) -> int:
        """Pixels the gutter takes: a time and some room."""
        return self._edit.fontMetrics().horizontalAdvance("00:00:00") + 10

    def set_shown(self, shown: bool) -> None:
        """Show or hide the times, giving the text its room back."""
        self.setVisible(shown)
        self.place()

    def set_streams(self, marked: bool) -> None:
        """Show the bar beside stderr lines (the log has some) or take its room back."""
        if marked != self.bar.active:
            self.bar.active = marked
            self.place()

    def place(self) -> None:
        """Follow the edit's size (call from its resize), with room for what is shown."""
        width = self.width_needed() if not self.isHidden() else 0
        self._edit.setViewportMargins(width + self.bar.width_needed(), 0, 0, 0)
        rect = self._edit.contentsRect()
        self.setGeometry(QRect(rect.left(), rect.top(), self.width_needed(), rect.height()))
        self.bar.setGeometry(QRect(rect.left() + width, rect.top(), BAR_WIDTH, rect.height()))
        self.bar.setVisible(self.bar.active)

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


class StreamBar(QWidget):
    """A red bar beside each visible line with stderr output; lives inside the edit, right of
    the times, once `active`."""

    def __init__(self, edit: QPlainTextEdit) -> None:
        super().__init__(edit)
        self.setObjectName("logStreams")
        self.setToolTip("Red: the command wrote this line to stderr")
        self._edit = edit
        self.active = False
        edit.updateRequest.connect(self._scrolled)
        self.hide()

    def width_needed(self) -> int:
        """Pixels the bar takes (none until the log has stderr output)."""
        return BAR_WIDTH if self.active else 0

    def _scrolled(self, rect: QRect, dy: int) -> None:
        if self.isVisible():
            if dy:
                self.scroll(0, dy)
            else:
                self.update(0, rect.y(), self.width(), rect.height())

    def marked_lines(self) -> list[int]:
        """The block numbers of the visible lines that have the bar."""
        return [number for number, _top, _height in self._visible_marked()]

    def _visible_marked(self) -> list[tuple[int, int, int]]:
        out = []
        block = self._edit.firstVisibleBlock()
        offset = self._edit.contentOffset()
        bottom = self._edit.viewport().height()
        while block.isValid():
            geometry = self._edit.blockBoundingGeometry(block).translated(offset)
            if geometry.top() > bottom:
                break
            if block.isVisible() and has_stderr(block):
                out.append((block.blockNumber(), int(geometry.top()), int(geometry.height())))
            block = block.next()
        return out

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        color = QColor(BAR_COLOR)
        for _number, top, height in self._visible_marked():
            painter.fillRect(QRect(0, top, BAR_WIDTH - 1, height), color)
        painter.end()
