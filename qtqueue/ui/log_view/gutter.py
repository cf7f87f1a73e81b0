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
from collections.abc import Iterator

from PySide6.QtCore import QRect, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent, QPalette, QTextBlock, QTextFormat
from PySide6.QtWidgets import QPlainTextEdit, QWidget

logger = logging.getLogger(__name__)

NO_TIME = -1
#: The character format property set on text from stderr.
STDERR_PROPERTY = int(QTextFormat.Property.UserProperty) + 7733
#: The bar beside stderr lines: its width (pixels) and colour (reads on light and dark).
BAR_WIDTH = 4
BAR_COLOR = "#dc2626"


def visible_blocks(edit: QPlainTextEdit, bottom: int) -> Iterator[tuple[QTextBlock, QRectF]]:
    """The visible lines of `edit` down to `bottom` (viewport pixels), with where each is."""
    block = edit.firstVisibleBlock()
    offset = edit.contentOffset()
    while block.isValid():
        geometry = edit.blockBoundingGeometry(block).translated(offset)
        if geometry.top() > bottom:
            break
        if block.isVisible():
            yield block, geometry
        block = block.next()


def follow_scroll(widget: QWidget, rect: QRect, dy: int) -> None:
    """Keep a margin `widget` in step with its edit's `updateRequest(rect, dy)`."""
    if widget.isVisible():
        if dy:
            widget.scroll(0, dy)
        else:
            widget.update(0, rect.y(), widget.width(), rect.height())


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
        edit.updateRequest.connect(lambda rect, dy: follow_scroll(self, rect, dy))
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

    def visible_times(self) -> list[tuple[int, str]]:
        """(block number, text) of the visible lines that show a time."""
        out = []
        for block, _ in visible_blocks(self._edit, self._edit.viewport().height()):
            text = self._label(block)
            if text:
                out.append((block.blockNumber(), text))
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
        height = self._edit.fontMetrics().height()
        for block, geometry in visible_blocks(self._edit, event.rect().bottom()):
            text = self._label(block)
            if text:
                painter.drawText(
                    QRect(0, int(geometry.top()), self.width() - 5, height),
                    int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter),
                    text,
                )
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
        edit.updateRequest.connect(lambda rect, dy: follow_scroll(self, rect, dy))
        self.hide()

    def width_needed(self) -> int:
        """Pixels the bar takes (none until the log has stderr output)."""
        return BAR_WIDTH if self.active else 0

    def marked_lines(self) -> list[int]:
        """The block numbers of the visible lines that have the bar."""
        bottom = self._edit.viewport().height()
        return [b.blockNumber() for b, _ in visible_blocks(self._edit, bottom) if has_stderr(b)]

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        color = QColor(BAR_COLOR)
        for block, geometry in visible_blocks(self._edit, event.rect().bottom()):
            if has_stderr(block):
                top, height = int(geometry.top()), int(geometry.height())
                painter.fillRect(QRect(0, top, BAR_WIDTH - 1, height), color)
        painter.end()
