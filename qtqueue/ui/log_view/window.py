"""The whole log: saving it, and the pop-out window that shows and follows it.

`LogLinks` connects a `LogView` (the detail pane's) to the engine for the task it shows: Save…
writes the whole retained log as plain text; Pop out and the "Open full log" link open a
`LogWindow`, which follows the log from its first retained byte (`follow_log` without the
pane's tail limit) in a view that keeps up to `FULL_LOG_LINES` lines.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QVBoxLayout, QWidget

from qtqueue.core.errors import QueueError
from qtqueue.ui.engine_bridge import BackgroundTasks
from qtqueue.ui.log_view.ansi import strip_ansi
from qtqueue.ui.log_view.view import LogSource, LogView

logger = logging.getLogger(__name__)

__all__ = ["FULL_LOG_LINES", "LogLinks", "LogWindow"]

#: Lines the pop-out window keeps: a whole 10 MB log of short lines.
FULL_LOG_LINES = 400_000


class LogWindow(QWidget):
    """A window with one task's whole log, followed while it grows. `loaded` once the
    retained log is shown; closing it stops following."""

    loaded = Signal()

    def __init__(self, source: LogSource, task_id: str, title: str) -> None:
        super().__init__(None, Qt.WindowType.Window)
        self.setObjectName("logWindow")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, False)
        self.setWindowTitle(f"Log — {title}")
        self.task_id = task_id
        self.view = LogView(None, self, max_lines=FULL_LOG_LINES)
        self.view.popout_button.hide()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.view)
        self.resize(1000, 700)
        self._source = source
        self._background = BackgroundTasks()
        self.links = LogLinks(self.view, source, lambda: task_id, lambda: title, self)
        self._follower = self._background.spawn(
            self._follow(), f"follow the whole log of {task_id}"
        )

    async def _follow(self) -> None:
        first = True
        chunks = self._source.follow_log(self.task_id)
        try:
            async for chunk in chunks:
                self.view.append(chunk, live=not first)
                if first:
                    first = False
                    self.view.flush()
                    self.loaded.emit()
        except QueueError as exc:
            logger.debug("stopped following %s in its window: %s", self.task_id, exc)
        finally:
            close = getattr(chunks, "aclose", None)
            if close is not None:
                await close()
        if first:
            self.loaded.emit()

    async def stop(self) -> None:
        """Stop following (the window closes, or the application ends)."""
        await self._background.cancel_all()
        await self.links.stop()

    def closeEvent(self, event: QCloseEvent) -> None:
        self._follower.cancel()
        super().closeEvent(event)


class LogLinks(QObject):
    """Save… and the whole log for `view`, on the task `task_id()` names. Signals `saved(path)`
    and `saveFailed(message)` (the message also shows in the view's status line);
    `windowOpened(window)`."""

    saved = Signal(str)
    saveFailed = Signal(str)
    windowOpened = Signal(QWidget)

    def __init__(
        self,
        view: LogView,
        source: LogSource | None,
        task_id: Callable[[], str | None],
        title: Callable[[], str],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._view = view
        self._source = source
        self._task_id = task_id
        self._title = title
        self._background = BackgroundTasks()
        self.windows: list[LogWindow] = []
        for button in (view.save_button, view.popout_button):
            button.setEnabled(source is not None)
        view.saveRequested.connect(self.save)
        view.fullLogRequested.connect(self.open_window)

    def save(self, path: str) -> None:
        """Write the task's whole log to `path` (in the background)."""
        task_id = self._task_id()
        if task_id is None or self._source is None:
            return
        self._background.spawn(self._save(task_id, path), f"save the log of {task_id}")

    async def _save(self, task_id: str, path: str) -> None:
        assert self._source is not None
        try:
            text = strip_ansi(await self._source.read_log(task_id))
            Path(path).write_text(text, encoding="utf-8")
        except (OSError, QueueError) as exc:
            message = f"Could not save the log to {path}: {exc}. Choose another folder."
            self._view.show_status(message, error=True)
            self.saveFailed.emit(message)
            return
        self._view.show_status(f"Saved to {path}")
        self.saved.emit(path)

    def open_window(self) -> LogWindow | None:
        """Open the task's whole log in its own window (raised if it is open already)."""
        task_id = self._task_id()
        if task_id is None or self._source is None:
            return None
        for window in self.windows:
            if window.task_id == task_id and window.isVisible():
                window.raise_()
                window.activateWindow()
                return window
        window = LogWindow(self._source, task_id, self._title())
        self.windows = [w for w in self.windows if w.isVisible()] + [window]
        window.show()
        self.windowOpened.emit(window)
        return window

    async def stop(self) -> None:
        """Close the windows and end the saving (the application is closing)."""
        for window in self.windows:
            await window.stop()
            window.close()
            window.deleteLater()
        self.windows = []
        await self._background.cancel_all()
