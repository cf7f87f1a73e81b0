"""The vast family's widget in the detail pane: the instance of a create or destroy, its
phase, its price per hour and its GPU — read from the task's log as it grows (progress.py).

A price is what a person watching a rented GPU needs most, and the progress bar cannot show
it; the phase says whether the instance is still loading its image, runs, or is gone (or,
loudly, was left running). It follows the detail pane's family-widget contract: `shows(task)`,
`reset()`, `feed(task_id, chunk)`, `finish(task_id)` and the `updated(task id)` signal.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFormLayout, QGroupBox, QLabel, QWidget

from qtqueue.core.task import Task, TaskType
from qtqueue.families.vast.progress import InstanceFacts, InstanceFeed

logger = logging.getLogger(__name__)

__all__ = ["InstanceView", "detail_widget"]

#: Task types whose log tells of one instance.
INSTANCE_TYPES = frozenset({TaskType.VAST_CREATE.value, TaskType.VAST_DESTROY.value})
TITLE = "Vast.ai instance"


class InstanceView(QGroupBox):
    """'Vast.ai instance': id, phase, $/hour and GPU, updated as the log grows."""

    updated = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(TITLE, parent)
        self.setObjectName("vastInstanceBox")
        layout = QFormLayout(self)
        self.labels: dict[str, QLabel] = {}
        for key, heading in (
            ("instance", "Instance"),
            ("phase", "Phase"),
            ("price", "Price"),
            ("gpu", "GPU"),
        ):
            label = QLabel("—", self)
            label.setObjectName(f"vast_{key}")
            layout.addRow(heading, label)
            self.labels[key] = label
        self._feed = InstanceFeed()

    def shows(self, task: Task) -> bool:
        """Whether the widget has something to say about `task` (a create or a destroy)."""
        return task.type_name in INSTANCE_TYPES

    def reset(self) -> None:
        """Forget the instance shown: another task (or its log from the start) comes next."""
        self._feed = InstanceFeed()
        self._show(self._feed.facts)

    def feed(self, task_id: str, chunk: str) -> None:
        """The next piece of `task_id`'s log."""
        if self._feed.feed(chunk):
            self._show(self._feed.facts)
            self.updated.emit(task_id)

    def finish(self, task_id: str) -> None:
        """`task_id`'s log ended."""
        if self._feed.finish():
            self._show(self._feed.facts)
            self.updated.emit(task_id)

    def _show(self, f: InstanceFacts) -> None:
        self.labels["instance"].setText("—" if f.instance is None else str(f.instance))
        self.labels["phase"].setText(f.phase or "—")
        price = "—" if f.price_per_hour is None else f"${f.price_per_hour:.4f} per hour"
        self.labels["price"].setText(price)
        self.labels["gpu"].setText(f.gpu or "—")


def detail_widget(parent: QWidget | None = None) -> InstanceView:
    """The widget the detail pane hosts for this family."""
    return InstanceView(parent)
