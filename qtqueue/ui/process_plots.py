"""The detail pane's two small charts of a task's CPU and memory (pyqtgraph): imported by
`process_graph.py` only when there is something to draw, so the window starts without
pyqtgraph."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QHBoxLayout, QWidget

from qtqueue.ui.stats.charts import style_plot

logger = logging.getLogger(__name__)

_BLUE = "#2563eb"
_ORANGE = "#ea580c"
_AXIS = "#666666"


def _small_plot(
    parent: QWidget, left: str, colour: str, window_s: int
) -> tuple[pg.PlotWidget, pg.PlotDataItem]:
    plot = pg.PlotWidget(parent, background="w")
    for name in ("left", "bottom"):
        axis = plot.getAxis(name)
        axis.setPen(pg.mkPen(_AXIS))
        axis.setTextPen(pg.mkPen("#222222"))
        axis.enableAutoSIPrefix(False)
    plot.setLabel("left", left, color="#222222")
    plot.showGrid(x=True, y=True, alpha=0.2)
    plot.setMouseEnabled(x=False, y=False)
    plot.hideButtons()
    plot.setXRange(-window_s, 0, padding=0)
    plot.setFixedHeight(100)
    plot.setYRange(0, 1, padding=0)
    curve = plot.plot(pen=pg.mkPen(colour, width=2), fillLevel=0, brush=pg.mkBrush(colour + "33"))
    return plot, curve


class ProcessPlots:
    """CPU (%) and memory (MiB) charts side by side in `row`, over the last `window_s` s."""

    def __init__(self, parent: QWidget, row: QHBoxLayout, palette: QPalette, window_s: int) -> None:
        self.cpu_plot, self.cpu_curve = _small_plot(parent, "CPU (%)", _BLUE, window_s)
        self.memory_plot, self.memory_curve = _small_plot(parent, "Memory (MiB)", _ORANGE, window_s)
        row.addWidget(self.cpu_plot)
        row.addWidget(self.memory_plot)
        self.restyle(palette)

    def restyle(self, palette: QPalette) -> None:
        """Follow the window's light or dark palette."""
        for plot in (self.cpu_plot, self.memory_plot):
            style_plot(plot, palette)

    def draw(self, cpu: Sequence[float], memory_mib: Sequence[float]) -> None:
        """The samples, oldest first, the newest at 0 s."""
        ages = np.arange(-len(cpu) + 1, 1, dtype=float)
        self.cpu_curve.setData(ages, np.array(cpu, dtype=float))
        self.memory_curve.setData(ages, np.array(memory_mib, dtype=float))
        # From zero up: a flat line at 0 % is idle, not the middle of an autoscaled range.
        self.cpu_plot.setYRange(0, max(100.0, max(cpu) * 1.1), padding=0)
        self.memory_plot.setYRange(0, max(1.0, max(memory_mib) * 1.2), padding=0)
