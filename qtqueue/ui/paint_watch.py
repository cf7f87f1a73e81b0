"""`PaintWatch`: wait until Qt has painted a widget — the frame before the engine is imported,
the loaded rows before the charts' library is."""

from __future__ import annotations

import asyncio
import logging

from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QWidget

logger = logging.getLogger(__name__)


class PaintWatch(QObject):
    """Watches `widget` for its next paint from now on (create it before the change that
    makes Qt paint, e.g. `show()`); `await wait(timeout_s)` returns whether it came."""

    def __init__(self, widget: QWidget) -> None:
        super().__init__(widget)
        self._painted: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._widget = widget
        widget.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint and not self._painted.done():
            self._painted.set_result(None)
        return False

    async def wait(self, timeout_s: float) -> bool:
        """True once the widget was painted; False after `timeout_s` without a paint (a
        window the window manager keeps unmapped is never painted)."""
        try:
            await asyncio.wait_for(asyncio.shield(self._painted), timeout_s)
            return True
        except TimeoutError:
            return False
        finally:
            self._widget.removeEventFilter(self)
            self.deleteLater()
