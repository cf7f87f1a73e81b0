"""The docker family's widget in the detail pane: the image layers of a pull or push.

The window loads this module through the family descriptor (`Family.qt_module`) and asks
`detail_widget(parent)` for the widget; nothing else imports it. The widget lists each layer's
latest state, read from the `layer <id>: ...` lines of the task's log as the log grows (each
chunk parsed once). It follows the detail pane's family-widget contract: `shows(task)`,
`reset()`, `feed(task_id, chunk)`, `finish(task_id)` and the `updated(task id)` signal.
"""

from __future__ import annotations

import logging

from PySide6.QtWidgets import QWidget

from qtqueue.core.log_lines import LineFeed
from qtqueue.core.task import Task, TaskType
from qtqueue.families.docker.progress import LayerState, parse_layer_lines
from qtqueue.ui.family_widgets import KeyedRowsBox
from qtqueue.ui.task_list.columns import format_size

logger = logging.getLogger(__name__)

__all__ = ["LayerFeed", "LayerView", "detail_widget", "layer_transfer_text"]

#: Task types whose log carries `layer <id>: ...` lines.
LAYERED_TYPES = frozenset({TaskType.DOCKER_PULL.value, TaskType.DOCKER_PUSH.value})
TITLE = "Image layers"


class LayerFeed(LineFeed[dict[str, LayerState]]):
    """The layers of a pull or push, fed the log chunk by chunk as it grows.

    Each chunk is parsed once: only its complete lines (an unfinished last line waits for the
    next chunk), and only if it names a layer at all. `layers` keeps each layer's latest
    state in the order layers first appeared, as `parse_layer_lines` over the whole log would.
    """

    def __init__(self) -> None:
        self.layers: dict[str, LayerState] = {}
        super().__init__()

    def _parse(self, text: str) -> dict[str, LayerState]:
        if "layer " not in text:
            return {}
        changed = parse_layer_lines(text)
        self.layers.update(changed)
        return changed


def layer_transfer_text(state: LayerState) -> str:
    """'31 % · 12.3 MB / 40.0 MB', or '—' when the daemon gave no byte count."""
    pct = state.percent
    if pct is None or state.current is None or state.total is None:
        return "—"
    return f"{pct:.0f} % · {format_size(state.current)} / {format_size(state.total)}"


class LayerView(KeyedRowsBox):
    """'Image layers (N)': one row per layer (id, status, transferred), updated in place.

    `updated(task id)` is emitted after the rows changed.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(
            TITLE, ("layersBox", "layerView"), ["Layer", "Status", "Transferred"], parent
        )

    def shows(self, task: Task) -> bool:
        """Whether the widget has something to say about `task` (a pull or a push)."""
        return task.type_name in LAYERED_TYPES

    def new_feed(self) -> LayerFeed:
        return LayerFeed()

    def cells(self, name: str, state: LayerState) -> list[str]:
        return [name, state.status, layer_transfer_text(state)]


def detail_widget(parent: QWidget | None = None) -> LayerView:
    """The widget the detail pane hosts for this family."""
    return LayerView(parent)
