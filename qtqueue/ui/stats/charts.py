"""Chart helpers of the statistics tab: the common look, bars named on the left axis, and
`ChartLinks` — the tooltip over a chart's point or bar and what clicking it asks for."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QObject, QPoint, QPointF, QSizeF, Qt, Signal
from PySide6.QtGui import QFontMetrics, QMouseEvent, QPalette
from PySide6.QtWidgets import QToolTip, QWidget

logger = logging.getLogger(__name__)

TEXT = "#222222"
AXIS = "#666666"
GREEN = "#15803d"
BLUE = "#2563eb"
ORANGE = "#ea580c"
PURPLE = "#7c3aed"
SLATE = "#94a3b8"
RED = "#dc2626"
AMBER = "#d97706"


class ShrinkingLabel(pg.LabelItem):  # type: ignore[misc]  # pyqtgraph is untyped
    """A label whose minimum width is 0 (pyqtgraph's is its text's): cut, not widening."""

    def updateMin(self) -> None:
        """As pyqtgraph's, less the minimum width."""
        super().updateMin()
        self.setMinimumWidth(0)

    def sizeHint(self, which: Qt.SizeHint, constraint: Any = None) -> QSizeF:
        """pyqtgraph's size hints, less the minimum width."""
        size: QSizeF = super().sizeHint(which, constraint)
        if which == Qt.SizeHint.MinimumSize:
            size.setWidth(0)
        return size


def make_plot(parent: QWidget, title: str, left: str, *, units: str | None = None) -> pg.PlotWidget:
    """A white, read-only chart with dark, labelled axes, owned by `parent` from the start."""
    plot = pg.PlotWidget(parent, background="w")
    item = plot.getPlotItem()
    # pyqtgraph's title is as wide as its text at least, and the plot as wide as its title:
    # in a narrow column the scene grew past the widget and cut off the chart's right side
    # (the latest buckets). This title may be cut instead.
    item.layout.removeItem(item.titleLabel)
    item.titleLabel.setParentItem(None)
    item.titleLabel = ShrinkingLabel("", size="11pt", parent=item)
    item.layout.addItem(item.titleLabel, 0, 1)
    plot.setTitle(title, color=TEXT, size="11pt")
    style_plot(plot)
    for name in ("left", "bottom"):
        axis = plot.getAxis(name)
        axis.setPen(pg.mkPen(AXIS))
        axis.setTextPen(pg.mkPen(TEXT))
    plot.setLabel("left", left, units=units, color=TEXT)
    plot.showGrid(x=True, y=True, alpha=0.2)
    plot.setMouseEnabled(x=False, y=False)
    # Not setMenuEnabled(False): with PySide6 it frees the view menu's widgets while
    # pyqtgraph still updates them whenever a plot is made or deleted, which crashed a later
    # window's creation (cf. pyqtgraph issue #2737). The menu stays.
    plot.hideButtons()
    plot.setMinimumSize(200, 160)  # three columns and the summary fit a 1,000 px window
    return plot


def chart_colours(palette: QPalette) -> tuple[str, str, str]:
    """(background, text, axis) colours of a chart on `palette`: white, dark grey and grey
    on a light palette; the palette's base and text on a dark one (the dark theme)."""
    if palette.color(QPalette.ColorRole.Window).lightness() >= 128:
        return "#ffffff", TEXT, AXIS
    text = palette.color(QPalette.ColorRole.Text).name()
    return palette.color(QPalette.ColorRole.Base).name(), text, "#9ca3af"


def style_plot(plot: pg.PlotWidget, palette: QPalette | None = None) -> str:
    """Colour `plot` (background, axes, their labels, the title) for `palette` (default: its
    own; a parent's palette change reaches the parent before its children); returns the text
    colour (for text drawn on it)."""
    background, text, axis_colour = chart_colours(palette or plot.palette())
    plot.setBackground(background)
    for name in ("left", "bottom"):
        axis = plot.getAxis(name)
        axis.setPen(pg.mkPen(axis_colour))
        axis.setTextPen(pg.mkPen(text))
        if axis.labelText or axis.labelUnits:
            style = {**axis.labelStyle, "color": text}
            axis.setLabel(axis.labelText, units=axis.labelUnits or None, **style)
    title = plot.getPlotItem().titleLabel
    if title.text:
        title.setText(title.text, color=text)
    return text


def key(title: str, *series: tuple[str, str]) -> str:
    """A chart title naming its series in their colours (keeps the plot area clear); the
    key in a smaller size, so that it fits a column of a 1280-pixel window."""
    keys = "&nbsp;".join(
        f'<span style="color:{c}; font-size:9pt">&#9632;&nbsp;{name}</span>' for name, c in series
    )
    return f"{title}&nbsp;&nbsp;{keys}"


def name_rows(plot: pg.PlotWidget, names: Sequence[str], font: Any) -> None:
    """Name the rows 0, 1, … of a horizontal bar chart on its left axis (the first at the
    top), widening the axis for the longest name (it does not grow for tick text itself)."""
    left = plot.getAxis("left")
    left.setTicks([[(float(i), name) for i, name in enumerate(names)]])
    metrics = QFontMetrics(left.style["tickFont"] or font)
    widest = max((metrics.horizontalAdvance(n) for n in names), default=0)
    left.setWidth(widest + 14)
    if names:
        plot.setYRange(-0.6, len(names) - 0.4, padding=0)


def horizontal_bars(plot: pg.PlotWidget, brush: str, *, height: float = 0.6) -> pg.BarGraphItem:
    """An empty horizontal bar series on `plot` (rows from the top, `height` of a row)."""
    plot.invertY(True)
    bars = pg.BarGraphItem(x0=[], y=[], width=[], height=height, brush=brush, pen=None)
    plot.addItem(bars)
    return bars


def set_bars(
    bars: pg.BarGraphItem, values: Sequence[float], brushes: Sequence[str] | None = None
) -> None:
    """Show `values` as bars in rows 0, 1, … (optionally each in its own colour)."""
    opts: dict[str, Any] = {
        "x0": np.zeros(len(values)),
        "y": np.arange(len(values), dtype=float),
        "width": np.array(values, dtype=float),
    }
    if brushes is not None:
        opts["brushes"] = [pg.mkBrush(b) for b in brushes]
    bars.setOpts(**opts)


@dataclass(frozen=True)
class Hit:
    """A band of a chart — a bucket's column (along x) or a bar's row (along y) — from
    `low` to `high` in data coordinates, its tooltip `text`, and what clicking it asks for
    (`request`: a `links.FilterRequest`, or None when a click leads nowhere)."""

    low: float
    high: float
    text: str
    request: Any = None

    @property
    def middle(self) -> float:
        """The band's middle (data coordinates)."""
        return (self.low + self.high) / 2


class ChartLinks(QObject):
    """Tooltips and clicks over one chart: the pointer over a band (`set_hits`) shows its
    text as a tooltip at once; a left click on a band that has a request emits
    `clicked(request)`. `axis` is "x" for bands along the bottom axis (time buckets), "y"
    for rows (horizontal bars). `hovered` is the band under the pointer, if any."""

    clicked = Signal(object)

    def __init__(self, plot: pg.PlotWidget, axis: str, parent: QObject | None = None) -> None:
        super().__init__(parent or plot)
        if axis not in ("x", "y"):
            raise ValueError(f"axis must be 'x' or 'y', not {axis!r}")
        self.plot = plot
        self.axis = axis
        self.hits: list[Hit] = []
        self.hovered: Hit | None = None
        # The viewport's own moves, not the scene's sigMouseMoved: that one drops moves that
        # come within 16 ms of the last, so the pointer could stop on a stale tooltip.
        plot.viewport().setMouseTracking(True)
        plot.viewport().installEventFilter(self)
        plot.scene().sigMouseClicked.connect(self._clicked)

    def set_hits(self, hits: Sequence[Hit]) -> None:
        """The chart's bands now (after each redraw)."""
        self.hits = list(hits)
        self.hovered = None

    def hit_at(self, scene_pos: QPointF) -> Hit | None:
        """The band under a point of the chart's scene, if any."""
        box = self.plot.getViewBox()
        if not box.sceneBoundingRect().contains(scene_pos):
            return None
        point = box.mapSceneToView(scene_pos)
        value = point.x() if self.axis == "x" else point.y()
        return next((h for h in self.hits if h.low <= value < h.high), None)

    def viewport_point(self, hit: Hit) -> QPoint:
        """Where `hit`'s middle is on the chart's viewport (for the pointer)."""
        box = self.plot.getViewBox()
        view = box.viewRect()
        x = hit.middle if self.axis == "x" else view.center().x()
        y = view.center().y() if self.axis == "x" else hit.middle
        point: QPoint = self.plot.mapFromScene(box.mapViewToScene(QPointF(x, y)))
        return point

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Follow the pointer over the chart's viewport (the event goes on as it was)."""
        if event.type() == QEvent.Type.MouseMove and isinstance(event, QMouseEvent):
            self._moved(self.plot.mapToScene(event.position().toPoint()))
        elif event.type() == QEvent.Type.Leave:
            self._left()
        return False

    def _left(self) -> None:
        if self.hovered is not None:
            self.hovered = None
            QToolTip.hideText()
            self.plot.unsetCursor()

    def _moved(self, scene_pos: QPointF) -> None:
        hit = self.hit_at(scene_pos)
        if hit is None:
            self._left()
            return
        self.hovered = hit
        where = self.plot.mapToGlobal(self.plot.mapFromScene(scene_pos))
        QToolTip.showText(where, hit.text, self.plot)
        if hit.request is not None:
            self.plot.setCursor(Qt.CursorShape.PointingHandCursor)
        else:
            self.plot.unsetCursor()

    def _clicked(self, event: Any) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            return
        hit = self.hit_at(event.scenePos())
        if hit is not None and hit.request is not None:
            logger.debug("chart click: %s", hit.request)
            self.clicked.emit(hit.request)
