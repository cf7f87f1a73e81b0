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
from PySide6.QtCore import QEvent, QTimer, Signal
from PySide6.QtGui import QHideEvent, QShowEvent
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
from qtqueue.core.errors import QueueError, error_info
from qtqueue.core.task import TERMINAL, TaskStatus
from qtqueue.core.type_titles import type_title
from qtqueue.ui.engine_bridge import BackgroundTasks, EngineBridge
from qtqueue.ui.forms.main_window_ui import Ui_MainWindow
from qtqueue.ui.single_flight import SingleFlight
from qtqueue.ui.stats.charts import (
    BLUE,
    GREEN,
    ORANGE,
    PURPLE,
    RED,
    SLATE,
    TEXT,
    ChartLinks,
    Hit,
    horizontal_bars,
    key,
    make_plot,
    name_rows,
    set_bars,
    style_plot,
)
from qtqueue.ui.stats.figures import STATUS_ROWS, bucket_hit, time_unit
from qtqueue.ui.stats.links import FilterRequest
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

#: How many error codes the top-errors chart shows.
TOP_ERRORS = 8


class StatsView(QWidget):
    """Success rate, durations by type, throughput and queue depth, machine load.

    `summary` is the widget of `get_queue_stats()` labels (the main window fills it); it is
    shown beside the charts. Every chart's point or bar has a tooltip with its figures, and
    a click on one emits `filterRequested(FilterRequest)`: the tasks behind it (the window
    shows them, `stats.links`). `history_queries` counts `get_history()` calls, and
    `historyShown(dict)` is emitted with each history drawn. Call `await stop()` before the
    engine closes: it cancels the view's own tasks.
    """

    historyShown = Signal(dict)
    filterRequested = Signal(object)

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
        self.type_titles: list[str] = []
        self._min_interval_s = min_interval_ms / 1000
        self._background = BackgroundTasks()
        self._last_refresh = -math.inf
        self._stale = True
        self._flight = SingleFlight(self._background.spawn, self._load_again)
        self._stopped = False
        self._samples: deque[tuple[float, float, float]] = deque(maxlen=SYSTEM_WINDOW_S)

        self.text_colour = TEXT
        self._build(summary)
        self._restyle()
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

        self.success_plot = make_plot(self, "Success rate", "Success (%)")
        self.success_plot.setYRange(0, 100, padding=0.05)
        self.success_curve = self.success_plot.plot(
            pen=pg.mkPen(GREEN, width=2),
            symbol="o",
            symbolSize=6,
            symbolBrush=GREEN,
            symbolPen=None,
            connect="finite",  # an empty bucket (NaN) is a gap, not a line across it
        )

        # Horizontal bars: one row per task type, its name on the left axis, so that a dozen
        # types stay readable (names under vertical bars overlapped and were hidden).
        self.duration_plot = make_plot(
            self,
            key("Duration", ("median", BLUE), ("p95", ORANGE)),
            "",
        )
        self.duration_plot.setLabel("bottom", "Duration", units="s", color=self.text_colour)
        self.duration_plot.invertY(True)  # the first type at the top
        self.median_bars = pg.BarGraphItem(
            x0=[], y=[], width=[], height=0.38, brush=BLUE, pen=None, name="median"
        )
        self.p95_bars = pg.BarGraphItem(
            x0=[], y=[], width=[], height=0.38, brush=ORANGE, pen=None, name="p95"
        )
        self.duration_plot.addItem(self.median_bars)
        self.duration_plot.addItem(self.p95_bars)

        self.throughput_plot = make_plot(
            self,
            key("Throughput", ("finished", SLATE), ("waiting", PURPLE)),
            "Tasks",
        )
        self.throughput_bars = pg.BarGraphItem(
            x=[], height=[], width=1.0, brush=SLATE, pen=None, name="finished per bucket"
        )
        self.throughput_plot.addItem(self.throughput_bars)
        self.depth_curve = self.throughput_plot.plot(
            pen=pg.mkPen(PURPLE, width=2), name="waiting to start"
        )

        self.system_plot = make_plot(
            self, key("Machine load", ("CPU", BLUE), ("memory", ORANGE)), "Use (%)"
        )
        self.system_plot.setLabel("bottom", "seconds ago", color=self.text_colour)
        self.system_plot.setYRange(0, 100, padding=0.05)
        self.system_plot.setXRange(-SYSTEM_WINDOW_S, 0, padding=0)
        self.cpu_curve = self.system_plot.plot(pen=pg.mkPen(BLUE, width=2), name="CPU")
        self.memory_curve = self.system_plot.plot(pen=pg.mkPen(ORANGE, width=2), name="memory")

        self.status_plot = make_plot(self, "Tasks by status", "")
        self.status_plot.setLabel("bottom", "Tasks", color=self.text_colour)
        self.status_bars = horizontal_bars(self.status_plot, SLATE)
        self.errors_plot = make_plot(self, "Top errors", "")
        self.errors_plot.setLabel("bottom", "Tasks", color=self.text_colour)
        # Codes are long (DOCKER_AUTHENTICATION_FAILED): each is written above its bar, not
        # on an axis that would leave the bars no room.
        self.errors_plot.hideAxis("left")
        self.errors_bars = horizontal_bars(self.errors_plot, RED, height=0.45)
        self._error_labels: list[pg.TextItem] = []
        self.error_codes: list[str] = []
        self.status_counts: dict[str, int] = {}

        self.links: dict[str, ChartLinks] = {
            "success": ChartLinks(self.success_plot, "x", self),
            "throughput": ChartLinks(self.throughput_plot, "x", self),
            "duration": ChartLinks(self.duration_plot, "y", self),
            "status": ChartLinks(self.status_plot, "y", self),
            "errors": ChartLinks(self.errors_plot, "y", self),
            "system": ChartLinks(self.system_plot, "x", self),
        }
        for links in self.links.values():
            links.clicked.connect(self.filterRequested)

        charts = QGridLayout()
        charts.addWidget(self.success_plot, 0, 0)
        charts.addWidget(self.throughput_plot, 0, 1)
        charts.addWidget(self.status_plot, 0, 2)
        charts.addWidget(self.duration_plot, 1, 0)
        charts.addWidget(self.errors_plot, 1, 1)
        charts.addWidget(self.system_plot, 1, 2)

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
        since_s, bucket_s = self.current_range()
        if self._flight.start(lambda: self._load(since_s, bucket_s), "refresh the statistics"):
            self._stale = False
            self._last_refresh = time.monotonic()

    def _load_again(self) -> None:
        """More was asked for while a history read ran: read once more (debounced)."""
        self._stale = True
        self._schedule()

    async def _load(self, since_s: float, bucket_s: float) -> None:
        self.history_queries += 1
        try:
            history = await self.queue.get_history(since_s, bucket_s)
        except QueueError as exc:
            logger.debug("no history: %s", exc)
            return
        if (since_s, bucket_s) != self.current_range():
            self.mark_stale()  # the range changed meanwhile: this one is not worth drawing
            return
        self.show_history(history)

    def show_history(self, history: dict[str, Any]) -> None:
        """Draw one `TaskQueue.get_history()` result."""
        buckets = history["buckets"]
        bucket_s = float(history["bucket_s"])
        until = float(history["until"])
        unit_s, unit = time_unit(until - float(history["since"]))
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
            plot.setLabel("bottom", f"{unit} ago", color=self.text_colour)
        span_s = until - float(history["since"])
        hits = [bucket_hit(b, bucket_s, until, unit_s, span_s) for b in buckets]
        self.links["success"].set_hits(hits)
        self.links["throughput"].set_hits(hits)

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
        titles = self.queue.registry.titles()
        self.type_titles = [type_title(name, titles.get(name, "")) for name in self.type_names]
        name_rows(self.duration_plot, self.type_titles, self.font())
        self.links["duration"].set_hits(
            [
                Hit(
                    i - 0.5,
                    i + 0.5,
                    f"{self.type_titles[i]}: median {format_duration(d['median_s']) or '0s'}, "
                    f"p95 {format_duration(d['p95_s']) or '0s'} over {d['count']:,} "
                    "completed runs\nClick: list the tasks of this type",
                    FilterRequest(f"type {name}", task_type=name),
                )
                for i, (name, d) in enumerate(durations.items())
            ]
        )
        self.updated_label.setText(f"Updated {time.strftime('%H:%M:%S')}")
        self.historyShown.emit(history)

    def show_queue_stats(self, stats: dict[str, Any]) -> None:
        """Draw the status and top-errors charts from one `get_queue_stats()` result."""
        dist = stats.get("status_distribution", {})
        dead = int(stats.get("summary", {}).get("dead_letters", 0))
        counts: list[float] = []
        hits: list[Hit] = []
        for i, (label, choice, _colour) in enumerate(STATUS_ROWS):
            n = dead
            if isinstance(choice, frozenset):
                n = sum(int(dist.get(s.value, 0)) for s in choice)
            counts.append(float(n))
            hits.append(
                Hit(
                    i - 0.5,
                    i + 0.5,
                    f"{label}: {n:,} tasks\nClick: list them",
                    FilterRequest(label, status=choice),
                )
            )
        self.status_counts = {
            label: int(n) for (label, _s, _c), n in zip(STATUS_ROWS, counts, strict=True)
        }
        set_bars(self.status_bars, counts, [c for _l, _s, c in STATUS_ROWS])
        name_rows(self.status_plot, [label for label, _s, _c in STATUS_ROWS], self.font())
        self.links["status"].set_hits(hits)

        errors = sorted(
            stats.get("error_distribution", {}).items(), key=lambda kv: (-int(kv[1]), kv[0])
        )[:TOP_ERRORS]
        self.error_codes = [code for code, _n in errors]
        set_bars(self.errors_bars, [float(n) for _c, n in errors])
        for label in self._error_labels:
            self.errors_plot.removeItem(label)
        self._error_labels = []
        for i, code in enumerate(self.error_codes):
            label = pg.TextItem(code, color=self.text_colour, anchor=(0, 1))
            label.setPos(0, i - 0.2)
            self.errors_plot.addItem(label)
            self._error_labels.append(label)
        self.errors_plot.setYRange(-0.9, max(len(errors), 1) - 0.6, padding=0)
        error_hits = []
        for i, (code, n) in enumerate(errors):
            info = error_info(code)
            error_hits.append(
                Hit(
                    i - 0.5,
                    i + 0.5,
                    f"{code}: {int(n):,} tasks\n{info.description}\nFix: {info.suggestion}"
                    "\nClick: list them",
                    FilterRequest(f"error {code}", status=TERMINAL, error_code=code),
                )
            )
        self.links["errors"].set_hits(error_hits)

    def finished_count(self) -> int:
        """How many finished tasks the status chart counts (completed, failed, cancelled)."""
        finished = ("Completed", "Failed or timed out", "Cancelled")
        return sum(n for label, n in self.status_counts.items() if label in finished)

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
        self.links["system"].set_hits(
            [
                Hit(
                    age - 0.5,
                    age + 0.5,
                    f"{-age:.0f} s ago: CPU {cpu:.0f} %, memory {memory:.0f} %",
                )
                for age, (_t, cpu, memory) in zip(ages.tolist(), self._samples, strict=True)
            ]
        )

    # ------------------------------------------------------------------ Qt events, closing

    def _restyle(self) -> None:
        """Colour the charts for the palette (light or dark theme)."""
        for plot in (
            self.success_plot,
            self.duration_plot,
            self.throughput_plot,
            self.system_plot,
            self.status_plot,
            self.errors_plot,
        ):
            self.text_colour = style_plot(plot, self.palette())
        for label in self._error_labels:
            label.setColor(self.text_colour)

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:
            self._restyle()

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
