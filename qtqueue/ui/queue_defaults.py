"""The new-task dialog's queue, retries and timeout controls, which can leave each to the named
queue's defaults: "By priority (→ high_priority)" sends no queue (the engine picks it from the
priority), "queue's default (3)" no retry count and "queue's default (2 h)" no timeout, and the
defaults shown follow the queue chosen or picked (`TaskQueue.list_queues()`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from PySide6.QtGui import QValidator
from PySide6.QtWidgets import QComboBox, QSpinBox, QWidget

from qtqueue.core.task import Priority
from qtqueue.engine import named_queues
from qtqueue.engine.validation import MAX_RETRIES
from qtqueue.ui.task_list.columns import format_duration

logger = logging.getLogger(__name__)

#: The spin boxes' value for "leave it to the queue" (sent as None).
QUEUE_DEFAULT = -1
_MAX_TIMEOUT_S = 30 * 86400


def short_duration(seconds: float) -> str:
    """'2 h', '1 h 30 m', '90 s' → as the task list writes durations, without ' 00 m'."""
    return format_duration(seconds).removesuffix(" 00 m")


class LabelledSpinBox(QSpinBox):
    """A spin box whose special values show as words ({-1: "queue's default (3)", 0: "none"});
    typing a word (or its start) picks its value."""

    def __init__(
        self, labels: Mapping[int, str], unit: str = "", parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.labels = dict(labels)
        self.unit = unit  # after numbers only (a suffix would follow the words too)

    def set_label(self, value: int, text: str) -> None:
        """Show `value` as `text` (the shown text changes at once if it is the value now)."""
        self.labels[value] = text
        self.lineEdit().setText(self.textFromValue(self.value()))

    def textFromValue(self, value: int) -> str:
        """The word for a special value, else the number."""
        return self.labels.get(value) or f"{super().textFromValue(value)}{self.unit}"

    def valueFromText(self, text: str) -> int:
        """The special value whose word starts with `text`, else the number typed."""
        word = self._word(text)
        if word is not None:
            return word
        return super().valueFromText(text.strip().removesuffix(self.unit.strip()).strip())

    def validate(self, text: str, pos: int) -> tuple[QValidator.State, str, int]:
        """A word (or its start) is acceptable as well as a number."""
        if self._word(text) is not None:
            return QValidator.State.Acceptable, text, pos
        bare = text.strip().removesuffix(self.unit.strip()).strip()
        if bare.isdigit() and self.minimum() <= int(bare) <= self.maximum():
            return QValidator.State.Acceptable, text, pos
        return QValidator.State.Intermediate, text, pos

    def _word(self, text: str) -> int | None:
        bare = text.strip().lower()
        if not bare or bare.lstrip("-").isdigit():
            return None
        return next((v for v, w in self.labels.items() if w.lower().startswith(bare)), None)


class QueueDefaults:
    """Keeps the queue picker's first entry and the retries/timeout "queue's default" words in
    step with the queue a task would land in. `queues` are `list_queues()` rows (name,
    max_retries, timeout_s); without them the built-in queues with their documented defaults."""

    def __init__(
        self,
        queue_combo: QComboBox,
        priority_combo: QComboBox,
        retries: LabelledSpinBox,
        timeout: LabelledSpinBox,
        queues: Iterable[Mapping[str, Any]] | None = None,
    ) -> None:
        self.queue_combo, self.priority_combo = queue_combo, priority_combo
        self.retries, self.timeout = retries, timeout
        builtin = [q.to_dict() for q in named_queues.BUILTIN_DEFAULTS.values()]
        rows = list(queues) if queues is not None else builtin
        self.settings: dict[str, Mapping[str, Any]] = {str(q["name"]): q for q in rows}
        queue_combo.addItem("", None)  # "By priority (→ …)": filled by refresh()
        for name in self.settings:
            queue_combo.addItem(name, name)
        queue_combo.currentIndexChanged.connect(self.refresh)
        priority_combo.currentIndexChanged.connect(self.refresh)
        self.refresh()

    def add_queue(self, name: str) -> None:
        """Offer a queue the engine did not list (a duplicated task's), with no defaults known."""
        if self.queue_combo.findData(name) < 0:
            self.settings.setdefault(name, named_queues.defaults(name).to_dict())
            self.queue_combo.addItem(name, name)

    def target(self) -> str:
        """The queue the task would land in: the one chosen, or the one its priority picks."""
        chosen = self.queue_combo.currentData()
        if chosen is not None:
            return str(chosen)
        return named_queues.queue_for_priority(Priority(self.priority_combo.currentData()))

    def refresh(self) -> None:
        """Show the picked queue and the target queue's defaults."""
        picked = named_queues.queue_for_priority(Priority(self.priority_combo.currentData()))
        self.queue_combo.setItemText(0, f"By priority (→ {picked})")
        queue = self.settings.get(self.target(), {})
        retries = queue.get("max_retries")
        timeout = queue.get("timeout_s")
        self.retries.set_label(QUEUE_DEFAULT, f"queue's default ({retries or 0})")
        self.timeout.set_label(
            QUEUE_DEFAULT, f"queue's default ({short_duration(timeout) if timeout else 'none'})"
        )


def retries_box() -> LabelledSpinBox:
    """Max retries: the queue's default (sent as None) or a number (0: run once)."""
    box = LabelledSpinBox({QUEUE_DEFAULT: "queue's default"})
    box.setRange(QUEUE_DEFAULT, MAX_RETRIES)
    box.setValue(QUEUE_DEFAULT)
    box.setToolTip("Automatic retries when the error is one a retry can fix (0: run once)")
    return box


def timeout_box() -> LabelledSpinBox:
    """Timeout: the queue's default (None), none (0) or seconds."""
    box = LabelledSpinBox({QUEUE_DEFAULT: "queue's default", 0: "none"}, unit=" s")
    box.setRange(QUEUE_DEFAULT, _MAX_TIMEOUT_S)
    box.setValue(QUEUE_DEFAULT)
    box.setToolTip("Seconds of running time before the task times out")
    return box


def sent(value: int) -> int | None:
    """A spin box's value as the task field: None for the queue's default."""
    return None if value == QUEUE_DEFAULT else value
