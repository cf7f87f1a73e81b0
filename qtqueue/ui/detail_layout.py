"""The detail pane's boxes side by side where they fit, one above the other where they do not.

The pane sits beside the task table, where it is often narrower than its facts in two columns
(Task | Timing, Parameters | Retries): `SideBySide` puts each such pair in one box layout whose
direction follows the width of the scroll area's viewport, so the facts never need a
horizontal scroll bar.
"""

from __future__ import annotations

import logging
from typing import cast

from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QBoxLayout, QGridLayout, QScrollArea, QWidget

logger = logging.getLogger(__name__)

__all__ = ["SideBySide"]

_ACROSS = QBoxLayout.Direction.LeftToRight
_DOWN = QBoxLayout.Direction.TopToBottom


class SideBySide(QObject):
    """Pairs of widgets of `grid` (each pair on one row, one per column), side by side while
    `scroll`'s viewport is wide enough for both, else stacked."""

    def __init__(
        self, grid: QGridLayout, scroll: QScrollArea, pairs: list[tuple[QWidget, QWidget]]
    ) -> None:
        super().__init__(scroll)
        self._scroll = scroll
        self._pairs: list[tuple[QBoxLayout, QWidget, QWidget]] = []
        for left, right in pairs:
            position = cast(tuple[int, int, int, int], grid.getItemPosition(grid.indexOf(left)))
            row = position[0]
            grid.removeWidget(left)
            grid.removeWidget(right)
            box = QBoxLayout(_ACROSS)
            box.setContentsMargins(0, 0, 0, 0)
            box.addWidget(left, 1)
            box.addWidget(right, 1)
            grid.addLayout(box, row, 0, 1, 2)
            self._pairs.append((box, left, right))
        scroll.viewport().installEventFilter(self)

    def stacked(self) -> bool:
        """Whether the pairs are one above the other now."""
        return any(box.direction() == _DOWN for box, _l, _r in self._pairs)

    def reflow(self) -> None:
        """Lay each pair out for the viewport's width now."""
        width = self._scroll.viewport().width()
        for box, left, right in self._pairs:
            needed = left.minimumSizeHint().width() + right.minimumSizeHint().width()
            needed += box.spacing() + 24  # the grid's margins
            direction = _ACROSS if needed <= width else _DOWN
            if box.direction() != direction:
                box.setDirection(direction)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Reflow when the viewport is resized."""
        if event.type() == QEvent.Type.Resize:
            self.reflow()
        return False
