"""The network family's widget in the detail pane: a monitor's latency and availability chart.

The window loads this module through the family descriptor (`Family.qt_module`) and asks
`detail_widget(parent)` for the widget. It reads the `sample <t> <target> <ms|down>` lines of
a NETWORK_MONITOR task's log as the log grows (each chunk parsed once) and draws one latency
curve per target (a gap where it was down), with each target's availability in the legend;
it follows the detail pane's family-widget contract: `shows(task)`, `reset()`,
`feed(task_id, chunk)`, `finish(task_id)` and the `updated(task id)` signal.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from typing import TYPE_CHECKING

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QGroupBox, QVBoxLayout, QWidget

from qtqueue.core.log_lines import LineFeed
from qtqueue.core.task import Task, TaskType
from qtqueue.families.network.monitor import Sample, parse_samples

if TYPE_CHECKING:  # imported with the first monitor shown: the window starts without it
    import pyqtgraph as pg

logger = logging.getLogger(__name__)

__all__ = ["MonitorChart", "SampleFeed", "detail_widget"]

TITLE = "Latency (ms)"
#: Points per target the chart keeps (the latest); availability counts every sample.
CHART_POINTS = 2000
_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b")


class SampleFeed(LineFeed[list[Sample]]):
    """A monitor's samples, fed the log chunk by chunk (only complete lines are parsed)."""

    def _parse(self, text: str) -> list[Sample]:
        return parse_samples(text) if "sample " in text else []


class MonitorChart(QGroupBox):
    """'Latency (ms)': one curve per target over time; `updated(task id)` after new samples."""

    updated = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(TITLE, parent)
        self.setObjectName("networkMonitorBox")
        self._layout = QVBoxLayout(self)
        self._plot: pg.PlotWidget | None = None
        self._legend: pg.LegendItem | None = None
        self._feed = SampleFeed()
        #: Per target: the latest CHART_POINTS times and latencies (NaN where down).
        self.series: dict[str, tuple[deque[float], deque[float]]] = {}
        #: Per target: samples seen, and how many of them were up.
        self._counts: dict[str, list[int]] = {}
        self._curves: dict[str, pg.PlotDataItem] = {}

    @property
    def plot(self) -> pg.PlotWidget:
        """The chart, built (and pyqtgraph imported) when it is first needed."""
        if self._plot is None:
            import pyqtgraph as pg

            plot = pg.PlotWidget(self)
            plot.setObjectName("networkMonitorPlot")
            plot.setLabel("bottom", "time", units="s")
            plot.setLabel("left", "latency", units="ms")
            plot.setMinimumHeight(160)
            self._legend = plot.addLegend()
            self._layout.addWidget(plot)
            self._plot = plot
        return self._plot

    @property
    def legend(self) -> pg.LegendItem:
        """The chart's legend: a target and its availability per curve."""
        legend = self._legend
        if legend is None:
            self.plot  # noqa: B018 - builds the chart and its legend
            legend = self._legend
            assert legend is not None
        return legend

    def shows(self, task: Task) -> bool:
        """Whether the widget has something to say about `task` (a monitor)."""
        return task.type_name == TaskType.NETWORK_MONITOR.value

    def reset(self) -> None:
        """Forget the samples shown: another task (or its log from the start) comes next."""
        self._feed = SampleFeed()
        self.series.clear()
        self._counts.clear()
        self._curves.clear()
        if self._plot is not None:  # nothing drawn yet: nothing to clear
            self._plot.clear()
            self.legend.clear()
        self.setTitle(TITLE)

    def feed(self, task_id: str, chunk: str) -> None:
        """The next piece of `task_id`'s log."""
        self._show(task_id, self._feed.feed(chunk))

    def finish(self, task_id: str) -> None:
        """`task_id`'s log ended."""
        self._show(task_id, self._feed.finish())

    def availability(self, target: str) -> float:
        """The % of `target`'s samples that were up (all of them, drawn or not)."""
        seen, up = self._counts.get(target, [0, 0])
        return 100.0 * up / seen if seen else 0.0

    def _show(self, task_id: str, samples: list[Sample]) -> None:
        if not samples:
            return
        for s in samples:
            ts, ms = self.series.setdefault(
                s.target, (deque(maxlen=CHART_POINTS), deque(maxlen=CHART_POINTS))
            )
            ts.append(s.t)
            ms.append(math.nan if s.latency_ms is None else s.latency_ms)
            counts = self._counts.setdefault(s.target, [0, 0])
            counts[0] += 1
            counts[1] += s.latency_ms is not None
        for target, (ts, ms) in self.series.items():
            curve = self._curves.get(target)
            if curve is None:
                import pyqtgraph as pg

                colour = _COLOURS[len(self._curves) % len(_COLOURS)]
                curve = self.plot.plot(
                    [],
                    [],
                    pen=pg.mkPen(colour, width=2),
                    symbol="o",
                    symbolSize=4,
                    connect="finite",
                    name=target,
                )
                self._curves[target] = curve
            if any(not math.isnan(v) for v in ms):
                curve.setData(list(ts), list(ms), connect="finite")
            else:  # never up: nothing to draw (pyqtgraph warns on an all-NaN series)
                curve.setData([], [])
            self.legend.getLabel(curve).setText(f"{target} · {self.availability(target):.0f} % up")
        self.setTitle(f"{TITLE} — {len(self.series)} target(s)")
        self.updated.emit(task_id)


def detail_widget(parent: QWidget | None = None) -> MonitorChart:
    """The widget the detail pane hosts for this family."""
    return MonitorChart(parent)
