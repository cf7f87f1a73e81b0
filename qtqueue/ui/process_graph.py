"""The detail pane's live graph of a running task's CPU and memory: its process and all the
processes it started (psutil), sampled once a second.

The charts (pyqtgraph, `process_plots.py`) are made the first time there is something to
draw, not with the window. It samples only while it is shown, for a task that is running
with a process id, and only where this window runs the engine (`owns_engine`): a window
attached to another engine may sit on another machine, where that process id names something
else. Otherwise it says, in one grey line, why there is no graph.
"""

from __future__ import annotations

import logging
from collections import deque
from typing import Any

import psutil
from PySide6.QtCore import QEvent, QTimer, Signal
from PySide6.QtGui import QHideEvent, QShowEvent
from PySide6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget

from qtqueue.core.task import ACTIVE, Task

logger = logging.getLogger(__name__)

#: How many samples (seconds) the graph keeps.
WINDOW_S = 60
#: How often it samples (ms).
SAMPLE_INTERVAL_MS = 1000
_MIB = 1024 * 1024


#: The reasons shown instead of the graph.
NOT_OWNER = "CPU and memory are shown only in the window that runs the engine."
NOT_RUNNING = "CPU and memory are shown while the task runs."
NO_PROCESS = "CPU and memory: this task runs no process of its own."
ENDED = "CPU and memory: the task's process has ended."
NO_ACCESS = "CPU and memory: the task's process cannot be read (no permission)."


class ProcessGraph(QWidget):
    """CPU (% of one core, summed over the tree) and resident memory (MiB) of the shown task's
    process tree over the last minute. `show_task(task)` follows the detail pane;
    `owns_engine` is set by the window. `reason` is the line shown instead of the graph
    ("" while the graph shows); `sampled()` is emitted after each sample."""

    sampled = Signal()

    def __init__(
        self, parent: QWidget | None = None, *, interval_ms: int = SAMPLE_INTERVAL_MS
    ) -> None:
        super().__init__(parent)
        self.setObjectName("processGraph")
        self.owns_engine = False
        self._task: Task | None = None
        self._pid: int | None = None
        self._procs: dict[int, psutil.Process] = {}
        self.cpu: deque[float] = deque(maxlen=WINDOW_S)
        self.memory_mib: deque[float] = deque(maxlen=WINDOW_S)
        self.reason = NOT_RUNNING

        self.reason_label = QLabel(self.reason, self)
        self.reason_label.setObjectName("processGraphReason")
        self.reason_label.setStyleSheet("color: #666;")
        self.reason_label.setWordWrap(True)
        self.figures_label = QLabel(self)
        self.figures_label.setObjectName("processGraphFigures")
        self.graphs = QWidget(self)
        self._row = QHBoxLayout(self.graphs)
        self._row.setContentsMargins(0, 0, 0, 0)
        self._plots: Any = None  # process_plots.ProcessPlots, made when first needed
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.reason_label)
        layout.addWidget(self.figures_label)
        layout.addWidget(self.graphs)
        self.graphs.hide()
        self.figures_label.hide()

        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.sample)

    def plots(self) -> Any:
        """The two charts (`ProcessPlots`: cpu_plot, cpu_curve, memory_plot, memory_curve),
        made on first use."""
        if self._plots is None:
            from qtqueue.ui.process_plots import ProcessPlots

            self._plots = ProcessPlots(self.graphs, self._row, self.palette(), WINDOW_S)
        return self._plots

    @property
    def sampling(self) -> bool:
        """Whether it samples now (shown, a running task with a process, engine owned)."""
        return self._timer.isActive()

    def show_task(self, task: Task | None) -> None:
        """Follow `task` (a newer snapshot of the same task keeps the samples)."""
        pid = self._pid_of(task)
        same = (
            task is not None
            and self._task is not None
            and task.id == self._task.id
            and pid == self._pid
        )
        self._task = task
        if not same:
            self._pid = pid
            self._procs.clear()
            self.cpu.clear()
            self.memory_mib.clear()
        if pid is None:
            self._say(self._why_not(task))
        elif not same or self.reason:
            self._say("")
        self._update_timer()

    def _pid_of(self, task: Task | None) -> int | None:
        if task is None or not self.owns_engine or task.status not in ACTIVE:
            return None
        return task.pid

    def _why_not(self, task: Task | None) -> str:
        if not self.owns_engine:
            return NOT_OWNER
        if task is None or task.status not in ACTIVE:
            return NOT_RUNNING
        return NO_PROCESS

    def _say(self, reason: str) -> None:
        self.reason = reason
        self.reason_label.setText(reason)
        self.reason_label.setVisible(bool(reason))
        if not reason:
            self.plots()
        self.graphs.setVisible(not reason)
        self.figures_label.setVisible(not reason)
        if reason:
            self.figures_label.clear()

    def _update_timer(self) -> None:
        if self._pid is not None and not self.reason and self.isVisible():
            if not self._timer.isActive():
                self._timer.start()
                self.sample()
        else:
            self._timer.stop()

    def sample(self) -> None:
        """Read the process tree's CPU and memory once and draw them."""
        pid = self._pid
        if pid is None:
            return
        try:
            root = self._procs.get(pid) or psutil.Process(pid)
            tree = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            self._lost(ENDED)
            return
        except psutil.AccessDenied:
            self._lost(NO_ACCESS)
            return
        cpu = 0.0
        rss = 0
        alive: dict[int, psutil.Process] = {}
        for proc in tree:
            known = self._procs.get(proc.pid, proc)  # the same object: cpu_percent's delta
            try:
                # A process's first reading only starts its measurement (0.0).
                cpu += known.cpu_percent(interval=None)
                rss += known.memory_info().rss
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
            alive[proc.pid] = known
        self._procs = alive
        self.cpu.append(cpu)
        self.memory_mib.append(rss / _MIB)
        self._draw(len(alive))
        self.sampled.emit()

    def _lost(self, reason: str) -> None:
        logger.debug("process %s: %s", self._pid, reason)
        self._pid = None
        self._procs.clear()
        self._timer.stop()
        self._say(reason)

    def _draw(self, processes: int) -> None:
        self.plots().draw(self.cpu, self.memory_mib)
        noun = "process" if processes == 1 else "processes"
        self.figures_label.setText(
            f"CPU {self.cpu[-1]:.0f} %   memory {self.memory_mib[-1]:,.0f} MiB   "
            f"({processes} {noun})"
        )

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange and self._plots is not None:
            self._plots.restyle(self.palette())

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self._update_timer()

    def hideEvent(self, event: QHideEvent) -> None:
        super().hideEvent(event)
        self._timer.stop()
