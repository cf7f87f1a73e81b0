"""Paints the progress column as a real progress bar: the percentage, a busy bar for a
running task that has not said how far it is (a chunk that slides along, moved by
`busy.BusyAnimation`), nothing for a task that is not under way."""

from __future__ import annotations

import logging

from PySide6.QtCore import QModelIndex, QObject, QPersistentModelIndex, QRect, QSize, Qt
from PySide6.QtGui import QPainter
from PySide6.QtWidgets import (
    QApplication,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionProgressBar,
    QStyleOptionViewItem,
    QTableView,
    QWidget,
)

from qtqueue.ui.task_list.busy import BusyAnimation
from qtqueue.ui.task_list.columns import BUSY, Role

logger = logging.getLogger(__name__)

_AnyIndex = QModelIndex | QPersistentModelIndex


def progress_label(percent: float, step: str) -> str:
    """'42 %', or '42 % · step' when there is a current step (the detail pane's bar)."""
    text = f"{percent:.0f} %"
    return f"{text} · {step}" if step else text


class ProgressDelegate(QStyledItemDelegate):
    """Draws `Role.BAR` as a progress bar via the widget's style (a percentage, or a busy
    bar for `BUSY`); no bar where it is None. Set it on the progress column only
    (`view.setItemDelegateForColumn`). Built with a table view as its parent (once the
    view has its model), it moves the busy bars (`self.busy`)."""

    MARGIN = 2
    #: The busy chunk's share of the bar's width.
    CHUNK = 0.3

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.busy = BusyAnimation(parent) if isinstance(parent, QTableView) else None

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: _AnyIndex) -> None:
        value = index.data(Role.BAR)
        if not isinstance(value, (int, float)):
            super().paint(painter, option, index)
            return
        widget = option.widget
        style = widget.style() if widget is not None else QApplication.style()
        # The cell's own background first (selection, alternating rows).
        item = QStyleOptionViewItem(option)
        self.initStyleOption(item, index)
        item.text = ""
        style.drawPrimitive(QStyle.PrimitiveElement.PE_PanelItemViewItem, item, painter, widget)

        bar = QStyleOptionProgressBar()
        if widget is not None:
            bar.initFrom(widget)
        m = self.MARGIN
        bar.rect = option.rect.adjusted(m, m, -m, -m)
        busy = value == BUSY
        bar.minimum = 0
        bar.maximum = 100
        bar.progress = 0 if busy else round(max(0.0, min(100.0, float(value))))
        bar.text = "" if busy else f"{float(value):.0f} %"
        bar.textVisible = not busy
        bar.textAlignment = Qt.AlignmentFlag.AlignCenter
        bar.state = option.state | QStyle.StateFlag.State_Horizontal
        bar.fontMetrics = option.fontMetrics
        painter.save()
        if busy:  # the groove alone (an empty bar draws a start mark), then the chunk
            style.drawControl(QStyle.ControlElement.CE_ProgressBarGroove, bar, painter, widget)
            self._paint_chunk(painter, bar, style, widget)
        else:
            style.drawControl(QStyle.ControlElement.CE_ProgressBar, bar, painter, widget)
        painter.restore()

    def _paint_chunk(
        self,
        painter: QPainter,
        bar: QStyleOptionProgressBar,
        style: QStyle,
        widget: QWidget | None,
    ) -> None:
        """The busy bar's chunk, where the animation's phase puts it (clipped to the bar)."""
        inner = bar.rect.adjusted(1, 1, -1, -1)
        width = max(8, round(inner.width() * self.CHUNK))
        phase = self.busy.phase if self.busy is not None else 0.5
        left = inner.left() - width // 2 + round(phase * inner.width())  # never all gone
        chunk = QStyleOptionProgressBar(bar)
        chunk.rect = QRect(left, bar.rect.top(), width, bar.rect.height())
        chunk.progress = 100
        painter.setClipRect(inner)
        style.drawControl(QStyle.ControlElement.CE_ProgressBarContents, chunk, painter, widget)

    def sizeHint(self, option: QStyleOptionViewItem, index: _AnyIndex) -> QSize:
        hint = super().sizeHint(option, index)
        return QSize(max(hint.width(), 70), hint.height())
