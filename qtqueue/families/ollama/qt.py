"""The ollama family's widget in the detail pane: the layers of a model pull.

The window loads this module through the family descriptor (`Family.qt_module`) and asks
`detail_widget(parent)` for the widget; nothing else imports it. It lists each layer's latest
state, read from the `layer <digest>: <state> <completed>/<total> bytes` lines of the task's
log as the log grows (each chunk parsed once), and follows the detail pane's family-widget
contract: `shows(task)`, `reset()`, `feed(task_id, chunk)`, `finish(task_id)` and the
`updated(task id)` signal.
"""

from __future__ import annotations

import logging

from PySide6.QtWidgets import QWidget

from qtqueue.core.log_lines import LineFeed
from qtqueue.core.task import Task, TaskType
from qtqueue.families.ollama.progress import PullLayer, parse_pull_lines
from qtqueue.ui.family_widgets import KeyedRowsBox
from qtqueue.ui.task_list.columns import format_size

logger = logging.getLogger(__name__)

__all__ = ["PullFeed", "PullLayerView", "detail_widget", "transferred_text"]

TITLE = "Model layers"


class PullFeed(LineFeed[dict[str, PullLayer]]):
    """The layers of a pull, fed the log chunk by chunk: only complete lines are parsed (an
    unfinished last one waits for the next chunk), each chunk once."""

    def __init__(self) -> None:
        self.layers: dict[str, PullLayer] = {}
        super().__init__()

    def _parse(self, text: str) -> dict[str, PullLayer]:
        if "layer " not in text:
            return {}
        changed = parse_pull_lines(text)
        self.layers.update(changed)
        return changed


def transferred_text(layer: PullLayer) -> str:
    """'31 % · 12.3 MB / 40.0 MB'."""
    return f"{layer.percent:.0f} % · {format_size(layer.completed)} / {format_size(layer.total)}"


class PullLayerView(KeyedRowsBox):
    """'Model layers (N)': one row per layer (digest, state, transferred), updated in place;
    `updated(task id)` is emitted after rows changed."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(
            TITLE, ("ollamaLayersBox", "ollamaLayerView"), ["Layer", "State", "Transferred"], parent
        )

    def shows(self, task: Task) -> bool:
        """Whether the widget has something to say about `task` (a model pull)."""
        return task.type_name == TaskType.OLLAMA_PULL.value

    def new_feed(self) -> PullFeed:
        return PullFeed()

    def cells(self, name: str, state: PullLayer) -> list[str]:
        return [name, state.state, transferred_text(state)]


def detail_widget(parent: QWidget | None = None) -> PullLayerView:
    """The widget the detail pane hosts for this family."""
    return PullLayerView(parent)
