"""When a waiting task starts: "as soon as it can" or "at" a date and time, the control of the
task form's Scheduling group (`StartTimeEdit`). The Edit dialog uses it to change a scheduled
task's start time; the engine's edit path reschedules the task (`engine.editing`)."""

from __future__ import annotations

import logging
import math

from PySide6.QtCore import QDateTime
from PySide6.QtWidgets import QCheckBox, QDateTimeEdit, QHBoxLayout, QWidget

logger = logging.getLogger(__name__)

__all__ = ["DEFAULT_LATER_S", "StartTimeEdit"]

#: Where "at" starts when the task has no start time yet: this long from now (a round minute).
DEFAULT_LATER_S = 3600.0


class StartTimeEdit(QWidget):
    """A check box "At" and the date and time it names; unchecked: as soon as it can.

    `set_start(run_at, now)` fills it from a task (checked where the task waits for a time
    still to come); `start_at()` is the chosen UNIX time or None; `changed()` whether the user
    changed it since it was filled."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("taskStart")
        self.at_box = QCheckBox("&At")
        self.at_box.setObjectName("taskStartLater")
        self.at_box.setToolTip("Unchecked: the task starts as soon as it can")
        self.when = QDateTimeEdit()
        self.when.setObjectName("taskStartAt")
        self.when.setCalendarPopup(True)
        self.when.setDisplayFormat("yyyy-MM-dd HH:mm:ss")
        self.when.setToolTip("The task waits until then (a time already past: at once)")
        self.at_box.toggled.connect(self.when.setEnabled)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.at_box)
        layout.addWidget(self.when, 1)
        self._filled: tuple[bool, int] = (False, 0)
        self.set_start(None, 0.0)

    def set_start(self, run_at: float | None, now: float) -> None:
        """Show `run_at` (checked where it is later than `now`); without one, unchecked with
        a round minute `DEFAULT_LATER_S` from `now` ready to be checked."""
        later = run_at is not None and run_at > now
        shown = run_at if run_at is not None else math.ceil((now + DEFAULT_LATER_S) / 60) * 60
        self.when.setDateTime(QDateTime.fromMSecsSinceEpoch(round(shown * 1000)))
        self.at_box.setChecked(later)
        self.when.setEnabled(later)
        self._filled = self._state()

    def set_at(self, when: float) -> None:
        """Choose "at" `when` (a UNIX time)."""
        self.when.setDateTime(QDateTime.fromMSecsSinceEpoch(round(when * 1000)))
        self.at_box.setChecked(True)

    def start_at(self) -> float | None:
        """The chosen start time (UNIX seconds), or None: as soon as it can."""
        if not self.at_box.isChecked():
            return None
        return self.when.dateTime().toMSecsSinceEpoch() / 1000

    def changed(self) -> bool:
        """Whether the user changed the choice since `set_start`."""
        return self._state() != self._filled

    def _state(self) -> tuple[bool, int]:
        return self.at_box.isChecked(), self.when.dateTime().toMSecsSinceEpoch()
