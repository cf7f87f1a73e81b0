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

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QGroupBox,
    QTreeWidgetItem,
    QWidget,
)

from qtqueue.core.log_lines import LineFeed
from qtqueue.core.task import Task, TaskType
from qtqueue.families.ollama.progress import PullLayer, parse_pull_lines
from qtqueue.ui.family_widgets import fit_rows, hosted_list
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


class PullLayerView(QGroupBox):
    """'Model layers (N)': one row per layer (digest, state, transferred), updated in place;
    `updated(task id)` is emitted after rows changed."""

    updated = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(TITLE, parent)
        self.setObjectName("ollamaLayersBox")
        self.view = hosted_list(self, "ollamaLayerView", ["Layer", "State", "Transferred"])
        self._feed = PullFeed()
        self._items: dict[str, QTreeWidgetItem] = {}

    def shows(self, task: Task) -> bool:
        """Whether the widget has something to say about `task` (a model pull)."""
        return task.type_name == TaskType.OLLAMA_PULL.value

    def reset(self) -> None:
        """Forget the layers shown: another task (or its log from the start) comes next."""
        self._feed = PullFeed()
        self._items.clear()
        self.view.clear()
        fit_rows(self.view)
        self.setTitle(TITLE)

    def feed(self, task_id: str, chunk: str) -> None:
        """The next piece of `task_id`'s log."""
        self._show(task_id, self._feed.feed(chunk))

    def finish(self, task_id: str) -> None:
        """`task_id`'s log ended."""
        self._show(task_id, self._feed.finish())

    def _show(self, task_id: str, changed: dict[str, PullLayer]) -> None:
        if not changed:
            return
        for digest, layer in changed.items():
            item = self._items.get(digest)
            if item is None:
                item = QTreeWidgetItem([digest, "", ""])
                self.view.addTopLevelItem(item)
                self._items[digest] = item
            item.setText(1, layer.state)
            item.setText(2, transferred_text(layer))
        self.view.resizeColumnToContents(0)
        self.view.resizeColumnToContents(1)
        fit_rows(self.view)
        self.setTitle(f"{TITLE} ({len(self._items)})")
        self.updated.emit(task_id)


def detail_widget(parent: QWidget | None = None) -> PullLayerView:
    """The widget the detail pane hosts for this family."""
    return PullLayerView(parent)
