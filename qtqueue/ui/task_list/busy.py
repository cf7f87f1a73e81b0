"""The busy bar's motion: a running task that has not said how far it is shows a chunk that
slides along its progress cell, as qBittorrent's and Windows' busy bars do.

`BusyAnimation` advances a phase (0–1) on a timer and repaints just the progress cells of
the busy rows in sight; `ProgressDelegate` paints the chunk where the phase says. The timer
runs only while the model has a busy task (`TaskTableModel.busyChanged`) and the view is
shown with its progress column: a window left open all day with nothing busy wakes for
nothing. Hidden, minimised or with the column hidden, the next frame stops the timer; the
model's one-second tick (which runs while anything runs) starts it again once the bars can
be seen. No event filter on the view: one called while the view is being destroyed (at
exit) crashed the process.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, QRect, QTimer
from PySide6.QtWidgets import QTableView

from qtqueue.ui.task_list.columns import BUSY, Column, Role
from qtqueue.ui.task_list.model import TaskTableModel

logger = logging.getLogger(__name__)

#: One frame every this many ms (25 frames a second).
FRAME_MS = 40
#: The chunk crosses the cell once in this many ms.
PERIOD_MS = 1_600


class BusyAnimation(QObject):
    """The phase of `view`'s busy bars and the timer that moves it (see the module
    docstring). Build it once the view has its model (a `TaskTableModel`, or a proxy over
    one)."""

    def __init__(self, view: QTableView, column: int = Column.PROGRESS) -> None:
        super().__init__(view)
        self._view = view
        self._column = column
        #: Where the chunk is: 0 (entering on the left) to 1 (left on the right).
        self.phase = 0.0
        self.timer = QTimer(self)
        self.timer.setInterval(FRAME_MS)
        self.timer.timeout.connect(self.advance)
        self._model: TaskTableModel | None = None
        self._busy = False
        view.horizontalHeader().sectionResized.connect(self._on_section_resized)
        model = view.model()
        source = getattr(model, "sourceModel", None)
        found = source() if callable(source) else model
        if isinstance(found, TaskTableModel):
            self._model = found
            found.busyChanged.connect(self._on_busy)
            found.durationsTicked.connect(self.update_timer)
            self._busy = bool(found.busy_ids)
        self.update_timer()

    def _on_section_resized(self, logical: int, _old: int, _new: int) -> None:
        if logical == self._column:  # hidden (0 px) or shown again
            self.update_timer()

    def _on_busy(self, busy: bool) -> None:
        self._busy = busy
        self.update_timer()

    @property
    def wanted(self) -> bool:
        """Whether the bars should move: a busy task, and a progress column in sight."""
        view = self._view
        return (
            self._busy
            and view.isVisible()
            and not view.window().isMinimized()
            and view.columnWidth(self._column) > 0  # 0: hidden (set before the flag)
        )

    def update_timer(self) -> None:
        """Start or stop the timer as `wanted` says."""
        if self.wanted:
            if not self.timer.isActive():
                self.timer.start()
        elif self.timer.isActive():
            self.timer.stop()

    def advance(self) -> None:
        """One frame: move the phase on and repaint the busy cells in sight."""
        if not self.wanted:  # hidden or minimised: the model's next tick looks again
            self.timer.stop()
            return
        self.phase = (self.phase + FRAME_MS / PERIOD_MS) % 1.0
        for rect in self.busy_cells():
            self._view.viewport().update(rect)

    def busy_cells(self) -> list[QRect]:
        """The viewport rectangles of the busy progress cells in sight."""
        view, column = self._view, self._column
        model = view.model()
        if model is None:
            return []
        height = view.viewport().height()
        top = view.rowAt(0)
        if top < 0:
            return []
        bottom = view.rowAt(height - 1)
        if bottom < 0:
            bottom = model.rowCount() - 1
        cells: list[QRect] = []
        for row in range(top, bottom + 1):
            index = model.index(row, column)
            if index.data(Role.BAR) == BUSY:
                cells.append(view.visualRect(index))
        return cells
