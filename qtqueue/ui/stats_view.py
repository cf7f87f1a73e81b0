"""The statistics tab: charts over `TaskQueue.get_history()` and live machine load, with the
summary figures of `get_queue_stats()` beside them.

The view reads the engine only while it is shown: engine events mark it stale and, while
visible, schedule a refresh at most once per `min_interval_ms`; a slow timer refreshes it
too (buckets move on even when nothing happens). CPU and memory are sampled every second
whatever the tab shows (two cheap psutil calls) and drawn only while it is shown.
"""

from __future__ import annotations

import logging
import math
import time
from collections import deque
from typing import Any

import numpy as np
import psutil
import pyqtgraph as pg
from PySide6.QtCore import QTimer, Signal
from PySide6.QtGui import QFontMetrics, QHideEvent, QShowEvent
from PySide6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLayout,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from qtqueue.api.port import EnginePort
from qtqueue.core.errors import QueueError
from qtqueue.core.task import TaskStatus
from qtqueue.ui.engine_bridge import BackgroundTasks, EngineBridge
from qtqueue.ui.forms.main_window_ui import Ui_MainWindow
from qtqueue.ui.task_list.columns import format_duration

logger = logging.getLogger(__name__)

#: The range selector's choices: label, seconds shown, bucket width (s).
RANGES: tuple[tuple[str, float, float], ...] = (
    ("Last hour", 3600.0, 60.0),
    ("Last 24 hours", 86400.0, 900.0),
    ("Last 7 days", 7 * 86400.0, 7200.0),
)
DEFAULT_RANGE = 1
#: How much machine load the live chart keeps (s).
SYSTEM_WINDOW_S = 120
#: Refreshes without engine events (ms), while shown.
REFRESH_INTERVAL_MS = 15_000

_TEXT = "#222222"
_AXIS = "#666666"
_GREEN = "#15803d"
_BLUE = "#2563eb"
_ORANGE = "#ea580c"
_PURPLE = "#7c3aed"
_SLATE = "#94a3b8"


def _plot(parent: QWidget, title: str, left: str, *, units: str | None = None) -> pg.PlotWidget:
    """A white, read-only chart with dark, labelled axes, owned by `parent` from the start."""
    plot = pg.PlotWidget(parent, background="w")
    plot.setTitle(title, color=_TEXT, size="11pt")
    for name in ("left", "bottom"):
        axis = plot.getAxis(name)
        axis.setPen(pg.mkPen(_AXIS))
        axis.setTextPen(pg.mkPen(_TEXT))
    plot.setLabel("left", left, units=units, color=_TEXT)
    plot.showGrid(x=True, y=True, alpha=0.2)
    plot.setMouseEnabled(x=False, y=False)
    # Not setMenuEnabled(False): with PySide6 it frees the view menu's widgets while
    # pyqtgraph still updates them whenever a plot is made or deleted, which crashed a later
    # window's creation (cf. pyqtgraph issue #2737). The menu stays.
    plot.hideButtons()
    plot.setMinimumSize(280, 200)
    return plot


def _time_unit(span_s: float) -> tuple[float, str]:
    """The unit (seconds, name) that time axes over `span_s` count in."""
    if span_s <= 2 * 3600:
        return 60.0, "minutes"
    if span_s <= 3 * 86400:
        return 3600.0, "hours"
    return 86400.0, "days"


def _key(title: str, *series: tuple[str, str]) -> str:
    """A chart title naming its series in their colours (keeps the plot area clear)."""
    keys = "&nbsp;&nbsp;".join(
        f'<span style="color:{c}">&#9632; {name}</span>' for name, c in series
    )
    return f"{title}&nbsp;&nbsp;&nbsp;{keys}"


class StatsView(QWidget):
    """Success rate, durations by type, throughput and queue depth, machine load.

    `summary` is the widget of `get_queue_stats()` labels (the main window fills it); it is
    shown beside the charts. `history_queries` counts `get_history()` calls, and
    `historyShown(dict)` is emitted with each history drawn. Call `await stop()` before the
    engine closes: it cancels the view's own tasks.
    """

    historyShown = Signal(dict)

    def __init__(
        self,
        queue: EnginePort,
        bridge: EngineBridge,
        *,
        summary: QWidget | None = None,
        parent: QWidget | None = None,
        min_interval_ms: int = 1000,
        sample_interval_ms: int = 1000,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("statsView")
        self.queue = queue
        self.history_queries = 0
        self.type_names: list[str] = []
        self._min_interval_s = min_interval_ms / 1000
        self._background = BackgroundTasks()
        self._last_refresh = -math.inf
        self._stale = True
        self._running = False
        self._again = False
        self._stopped = False
        self._samples: deque[tuple[float, float, float]] = deque(maxlen=SYSTEM_WINDOW_S)

        self._build(summary)
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.timeout.connect(self._refresh)
        self._periodic = QTimer(self)
        self._periodic.setInterval(REFRESH_INTERVAL_MS)
        self._periodic.timeout.connect(self.mark_stale)
        self._sampler = QTimer(self)
        self._sampler.setInterval(sample_interval_ms)
        self._sampler.timeout.connect(self._sample)
        psutil.cpu_percent(interval=None)  # the first reading only starts the measurement
        self._sampler.start()

        bridge.tasksChanged.connect(self.mark_stale)
        bridge.tasksRemoved.connect(self.mark_stale)
        bridge.queueStateChanged.connect(self.mark_stale)

    # ------------------------------------------------------------------ layout

    def _build(self, summary: QWidget | None) -> None:
        self.range_box = QComboBox(self)
        self.range_box.setObjectName("statsRange")
        for label, since_s, bucket_s in RANGES:
            self.range_box.addItem(label, (since_s, bucket_s))
        self.range_box.setCurrentIndex(DEFAULT_RANGE)
        self.range_box.currentIndexChanged.connect(self._range_changed)
        self.updated_label = QLabel(self)
        self.updated_label.setObjectName("statsUpdatedLabel")
        self.updated_label.setStyleSheet("color: #666;")
        top = QHBoxLayout()
        top.addWidget(QLabel("Range:", self))
        top.addWidget(self.range_box)
        top.addStretch(1)
        top.addWidget(self.updated_label)

        self.success_plot = _plot(self, "Success rate", "Success (%)")
        self.success_plot.setYRange(0, 100, padding=0.05)
        self.success_curve = self.success_plot.plot(
            pen=pg.mkPen(_GREEN, width=2),
            symbol="o",
            symbolSize=6,
            symbolBrush=_GREEN,
            symbolPen=None,
            connect="finite",  # an empty bucket (NaN) is a gap, not a line across it
        )

        # Horizontal bars: one row per task type, its name on the left axis, so that a dozen
        # types stay readable (names under vertical bars overlapped and were hidden).
        self.duration_plot = _plot(
            self,
            _key("Duration by task type", ("median", _BLUE), ("p95", _ORANGE)),
            "",
        )
        self.duration_plot.setLabel("bottom", "Duration", units="s", color=_TEXT)
        self.duration_plot.invertY(True)  # the first type at the top
        self.median_bars = pg.BarGraphItem(
            x0=[], y=[], width=[], height=0.38, brush=_BLUE, pen=None, name="median"
        )
        self.p95_bars = pg.BarGraphItem(
            x0=[], y=[], width=[], height=0.38, brush=_ORANGE, pen=None, name="p95"
        )
        self.duration_plot.addItem(self.median_bars)
        self.duration_plot.addItem(self.p95_bars)

        self.throughput_plot = _plot(
            self,
            _key("Throughput", ("finished per bucket", _SLATE), ("waiting to start", _PURPLE)),
            "Tasks",
        )
        self.throughput_bars = pg.BarGraphItem(
            x=[], height=[], width=1.0, brush=_SLATE, pen=None, name="finished per bucket"
        )
        self.throughput_plot.addItem(self.throughput_bars)
        self.depth_curve = self.throughput_plot.plot(
            pen=pg.mkPen(_PURPLE, width=2), name="waiting to start"
        )

        self.system_plot = _plot(
            self, _key("Machine load", ("CPU", _BLUE), ("memory", _ORANGE)), "Use (%)"
        )
        self.system_plot.setLabel("bottom", "seconds ago", color=_TEXT)
        self.system_plot.setYRange(0, 100, padding=0.05)
        self.system_plot.setXRange(-SYSTEM_WINDOW_S, 0, padding=0)
        self.cpu_curve = self.system_plot.plot(pen=pg.mkPen(_BLUE, width=2), name="CPU")
        self.memory_curve = self.system_plot.plot(pen=pg.mkPen(_ORANGE, width=2), name="memory")

        charts = QGridLayout()
        charts.addWidget(self.success_plot, 0, 0)
        charts.addWidget(self.duration_plot, 0, 1)
        charts.addWidget(self.throughput_plot, 1, 0)
        charts.addWidget(self.system_plot, 1, 1)

        self.summary_box = QGroupBox("Queue now", self)
        self.summary_box.setObjectName("statsSummaryBox")
        self._side = QVBoxLayout(self.summary_box)
        if summary is not None:
            self._side.addWidget(summary)
        self._side.addStretch(1)

        body = QHBoxLayout()
        body.addLayout(charts, 1)
        body.addWidget(self.summary_box)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addLayout(body, 1)

    @classmethod
    def in_place_of(
        cls, placeholder: QWidget, layout: QLayout, queue: EnginePort, bridge: EngineBridge
    ) -> StatsView:
        """Take the place of Designer's `placeholder` in `layout`, keeping the placeholder (the
        summary labels) as the view's side panel; spacers left in `layout` are dropped so
        the charts get the room."""
        view = cls(queue, bridge, parent=placeholder.parentWidget())
        layout.replaceWidget(placeholder, view)
        for i in range(layout.count()):
            item = layout.itemAt(i)
            spacer = item.spacerItem() if item is not None else None
            if spacer is not None:
                # Shrunk rather than taken out: a taken item's ownership is ambiguous in PySide.
                spacer.changeSize(0, 0, QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        layout.invalidate()
        placeholder.setObjectName("statsSummary")
        placeholder.setParent(view.summary_box)
        view._side.insertWidget(0, placeholder)
        return view

    # ------------------------------------------------------------------ refreshing

    def current_range(self) -> tuple[float, float]:
        """(since_s, bucket_s) of the selected range."""
        since_s, bucket_s = self.range_box.currentData()
        return float(since_s), float(bucket_s)

    def mark_stale(self, *_args: object) -> None:
        """Something changed: refresh soon if shown, else when next shown."""
        self._stale = True
        if self.isVisible():
            self._schedule()

    def _range_changed(self) -> None:
        self._last_refresh = -math.inf  # the user asked: no debounce
        self.mark_stale()

    def _schedule(self) -> None:
        if self._stopped or self._debounce.isActive():
            return
        wait_s = max(0.0, self._last_refresh + self._min_interval_s - time.monotonic())
        self._debounce.start(int(wait_s * 1000))

    def _refresh(self) -> None:
        if self._stopped or not self.isVisible():
            return
        if self._running:
            self._again = True
            return
        self._running = True
        self._stale = False
        self._last_refresh = time.monotonic()
        self._background.spawn(self._load(*self.current_range()), "refresh the statistics")

    async def _load(self, since_s: float, bucket_s: float) -> None:
        self.history_queries += 1
        try:
            history = await self.queue.get_history(since_s, bucket_s)
        except QueueError as exc:
            logger.debug("no history: %s", exc)
            return
        finally:
            self._running = False
            if self._again:
                self._again = False
                self._stale = True
                self._schedule()
        if (since_s, bucket_s) != self.current_range():
            self.mark_stale()  # the range changed meanwhile: this one is not worth drawing
            return
        self.show_history(history)

    def show_history(self, history: dict[str, Any]) -> None:
        """Draw one `TaskQueue.get_history()` result."""
        buckets = history["buckets"]
        bucket_s = float(history["bucket_s"])
        until = float(history["until"])
        unit_s, unit = _time_unit(until - float(history["since"]))
        middles = np.array([(b["start"] + bucket_s / 2 - until) / unit_s for b in buckets])
        rates = np.array(
            [math.nan if b["success_rate"] is None else b["success_rate"] for b in buckets],
            dtype=float,
        )
        if np.isnan(rates).all():  # nothing finished: no curve (pyqtgraph warns on all-NaN)
            self.success_curve.setData([], [])
        else:
            self.success_curve.setData(middles, rates)
        self.throughput_bars.setOpts(
            x=middles,
            height=np.array([b["finished"] for b in buckets], dtype=float),
            width=bucket_s * 0.8 / unit_s,
        )
        self.depth_curve.setData(middles, np.array([b["queue_depth"] for b in buckets], float))
        for plot in (self.success_plot, self.throughput_plot):
            plot.setXRange((float(history["since"]) - until) / unit_s, 0, padding=0.01)
            plot.setLabel("bottom", f"{unit} ago", color=_TEXT)

        durations = history["durations"]
        self.type_names = list(durations)
        positions = np.arange(len(self.type_names), dtype=float)
        zeros = np.zeros(len(self.type_names))
        self.median_bars.setOpts(
            x0=zeros,
            y=positions - 0.2,
            width=np.array([d["median_s"] for d in durations.values()], dtype=float),
        )
        self.p95_bars.setOpts(
            x0=zeros,
            y=positions + 0.2,
            width=np.array([d["p95_s"] for d in durations.values()], dtype=float),
        )
        left = self.duration_plot.getAxis("left")
        left.setTicks([[(float(i), name) for i, name in enumerate(self.type_names)]])
        # The axis does not grow for tick text by itself: make room for the longest name.
        metrics = QFontMetrics(left.style["tickFont"] or self.font())
        widest = max((metrics.horizontalAdvance(n) for n in self.type_names), default=0)
        left.setWidth(widest + 14)
        if self.type_names:
            self.duration_plot.setYRange(-0.6, len(self.type_names) - 0.4, padding=0)
        self.updated_label.setText(f"Updated {time.strftime('%H:%M:%S')}")
        self.historyShown.emit(history)

    # ------------------------------------------------------------------ machine load

    def _sample(self) -> None:
        self._samples.append(
            (time.monotonic(), psutil.cpu_percent(interval=None), psutil.virtual_memory().percent)
        )
        if self.isVisible():
            self._draw_samples()

    def _draw_samples(self) -> None:
        if not self._samples:
            return
        now = time.monotonic()
        ages = np.array([t - now for t, _, _ in self._samples], dtype=float)
        self.cpu_curve.setData(ages, np.array([c for _, c, _ in self._samples], dtype=float))
        self.memory_curve.setData(ages, np.array([m for _, _, m in self._samples], dtype=float))

    # ------------------------------------------------------------------ Qt events, closing

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._stopped:
            return
        self._periodic.start()
        self._draw_samples()
        if self._stale:
            self._schedule()

    def hideEvent(self, event: QHideEvent) -> None:
        super().hideEvent(event)
        self._periodic.stop()
        self._debounce.stop()

    async def stop(self) -> None:
        """Stop the timers and cancel the view's engine calls. Idempotent."""
        self._stopped = True
        for timer in (self._debounce, self._periodic, self._sampler):
            timer.stop()
        await self._background.cancel_all()


def show_summary(f: Ui_MainWindow, stats: dict[str, Any]) -> None:
    """Show `TaskQueue.get_queue_stats()` figures in the Statistics tab's summary labels
    (the window's form `f` holds them, beside the charts)."""
    summary = stats.get("summary", {})
    perf = stats.get("performance", {})
    dist = stats.get("status_distribution", {})
    f.statTotal.setText(f"{summary.get('total_tasks', 0):,}")
    f.statRunning.setText(str(summary.get("running_tasks", 0)))
    f.statQueued.setText(f"{summary.get('queue_size', 0):,}")
    f.statCompleted.setText(f"{dist.get(TaskStatus.COMPLETED.value, 0):,}")
    failed = dist.get(TaskStatus.FAILED.value, 0) + dist.get(TaskStatus.TIMEOUT.value, 0)
    f.statFailed.setText(f"{failed:,}")
    f.statSuccessRate.setText(f"{perf.get('success_rate', 0.0):.1f} %")
    f.statAverageDuration.setText(
        format_duration(perf.get("average_duration_seconds") or None) or "—"
    )
    f.statDeadLetters.setText(f"{summary.get('dead_letters', 0):,}")
    f.statConcurrency.setText(f"{summary.get('max_concurrent_tasks', 0)} tasks at once")
    f.statQueueState.setText("paused" if summary.get("queue_paused") else "running")
