"""Paints the progress column as a real progress bar: the percentage, a busy bar for a
running task that has not said how far it is, nothing for a task that is not under way."""

from __future__ import annotations

import logging

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QSize, Qt
from PySide6.QtGui import QPainter
from PySide6.QtWidgets import (
    QApplication,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionProgressBar,
    QStyleOptionViewItem,
)

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
    (`view.setItemDelegateForColumn`)."""

    MARGIN = 2

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
        bar.maximum = 0 if busy else 100
        bar.progress = 0 if busy else round(max(0.0, min(100.0, float(value))))
        bar.text = "" if busy else f"{float(value):.0f} %"
        bar.textVisible = not busy
        bar.textAlignment = Qt.AlignmentFlag.AlignCenter
        bar.state = option.state | QStyle.StateFlag.State_Horizontal
        bar.fontMetrics = option.fontMetrics
        painter.save()
        style.drawControl(QStyle.ControlElement.CE_ProgressBar, bar, painter, widget)
        painter.restore()

    def sizeHint(self, option: QStyleOptionViewItem, index: _AnyIndex) -> QSize:
        hint = super().sizeHint(option, index)
        return QSize(max(hint.width(), 70), hint.height())
