"""The detail pane's waiting banner: why a pending task has not started.

For a pending task whose start checks failed, the engine's overview (`TaskQueue.overview`)
says why it could not start the last time, how many times it was checked, and since when:
the banner reads "Waiting: Insufficient CPU: 4.00 available, task requires 8.00", then
"checked 12 times · waiting for 3 m 04 s · needs 8 CPU cores, 2 GB of memory". Those records
change without an event (each dispatch pass), so while such a task is shown the banner is
redrawn once a second (display only). Other pending tasks get `waiting_in_words`.
"""

from __future__ import annotations

import html
import logging
import time
from collections.abc import Callable
from typing import Protocol

from PySide6.QtCore import QObject, Qt, QTimer, Slot
from PySide6.QtWidgets import QLabel

from qtqueue.core.task import Task, TaskStatus
from qtqueue.ui.task_in_words import resources_in_words, waiting_in_words
from qtqueue.ui.task_list.columns import format_duration

logger = logging.getLogger(__name__)

#: How often the banner of a task held by its start checks is redrawn.
TICK_MS = 1000


class StartChecks(Protocol):
    """What the banner reads of a task's failed start checks (`core.overview.StartChecks`)."""

    @property
    def attempts(self) -> int:
        """How many times the task was checked and could not start."""
        ...

    @property
    def last_reason(self) -> str:
        """Why it could not start the last time, in words."""
        ...

    @property
    def first_failed_at(self) -> float:
        """When (UNIX time) a check first failed."""
        ...


class StartCheckSource(Protocol):
    """What the banner needs of the engine (`TaskQueue.overview` fits)."""

    def start_checks(self, task_id: str) -> StartChecks | None: ...


def waited_in_words(seconds: float) -> str:
    """'0 s', '42 s', '3 m 04 s', '2 h 03 m': whole seconds (it counts up once a second)."""
    return f"{max(0, int(seconds))} s" if seconds < 60 else format_duration(seconds)


def start_checks_in_words(checks: StartChecks, t: Task, now: float) -> tuple[str, str]:
    """(headline, facts): 'Waiting: <last reason>' and 'checked 3 times · waiting for
    1 m 05 s · needs 8 CPU cores'."""
    times = "once" if checks.attempts == 1 else f"{checks.attempts} times"
    facts = [
        f"checked {times} and could not start",
        f"waiting for {waited_in_words(now - t.created_at)}",
    ]
    needs = resources_in_words(t.resources)
    if needs:
        facts.append(f"needs {needs}")
    reason = checks.last_reason
    if reason.lower().startswith(("waiting", "awaiting")):  # it says so already
        return reason[:1].upper() + reason[1:], " · ".join(facts)
    return f"Waiting: {reason}", " · ".join(facts)


class WaitBanner(QObject):
    """Fills the pane's `waitBanner` label for the task given to `show`."""

    def __init__(
        self,
        label: QLabel,
        overview: StartCheckSource | None,
        clock: Callable[[], float] = time.time,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.label = label
        self.label.setWordWrap(True)
        self._overview = overview
        self._clock = clock
        self._task: Task | None = None
        #: The start checks shown, or None.
        self.checks: StartChecks | None = None
        self._tick = QTimer(self)
        self._tick.setInterval(TICK_MS)
        self._tick.timeout.connect(self._render)

    def show(self, t: Task | None) -> None:
        """Say why `t` waits (hidden for a task that does not wait, or None)."""
        self._task = t
        self._render()

    def stop(self) -> None:
        """Stop redrawing."""
        self._task = None
        self._tick.stop()

    @Slot()
    def _render(self) -> None:
        t = self._task
        checks = None
        if t is not None and t.status == TaskStatus.PENDING and self._overview is not None:
            checks = self._overview.start_checks(t.id)
        self.checks = checks
        if checks is not None and t is not None:
            headline, facts = start_checks_in_words(checks, t, self._clock())
            text = (
                f"{html.escape(headline)}<br><span style='font-weight: normal;'>"
                f"{html.escape(facts)}</span>"
            )
            self.label.setTextFormat(Qt.TextFormat.RichText)
            if not self._tick.isActive():
                self._tick.start()
        else:
            self._tick.stop()
            text = waiting_in_words(t, self._clock()) if t is not None else ""
            self.label.setTextFormat(Qt.TextFormat.PlainText)
        self.label.setText(text)
        self.label.setVisible(bool(text))
