"""Helpers of the statistics tests: the pointer over a chart's band.

The pointer's events are sent to the chart's viewport itself: QTest's go through the
offscreen screen (800×600), which cuts off the charts of the lower row."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication, QToolTip
from pytestqt.qtbot import QtBot

from qtqueue.ui.stats.charts import ChartLinks, Hit


def _send(links: ChartLinks, kind: QEvent.Type, point: QPoint, button: Qt.MouseButton) -> None:
    viewport = links.plot.viewport()
    local = QPointF(point)
    buttons = (
        Qt.MouseButton.LeftButton
        if kind == QEvent.Type.MouseButtonPress
        else Qt.MouseButton.NoButton
    )
    event = QMouseEvent(
        kind,
        local,
        QPointF(viewport.mapToGlobal(point)),
        button,
        buttons,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(viewport, event)


def move_to(links: ChartLinks, point: QPoint) -> None:
    """Move the pointer to `point` of the chart's viewport."""
    _send(links, QEvent.Type.MouseMove, point, Qt.MouseButton.NoButton)


def point_at(links: ChartLinks, hit: Hit) -> None:
    """Move the pointer over `hit` on its chart."""
    move_to(links, links.viewport_point(hit))


def hover(qtbot: QtBot, links: ChartLinks, hit: Hit) -> str:
    """Move the pointer over `hit` on its chart; the tooltip text shown."""
    point_at(links, hit)
    qtbot.waitUntil(lambda: links.hovered == hit, timeout=3000)
    return QToolTip.text()


def click(links: ChartLinks, hit: Hit) -> None:
    """Click `hit` on its chart with the left button."""
    point = links.viewport_point(hit)
    point_at(links, hit)
    _send(links, QEvent.Type.MouseButtonPress, point, Qt.MouseButton.LeftButton)
    _send(links, QEvent.Type.MouseButtonRelease, point, Qt.MouseButton.LeftButton)
