"""Whose engine the window shows: its own, or another process's it is attached to.

`EngineLink` writes it into the window title and a permanent status-bar label
(`engineLinkLabel`), and follows an attached engine going away and coming back (the bridge's
`engineLinkChanged`), so that a stopped engine is said, not a crash.
"""

from __future__ import annotations

import html
import logging

from PySide6.QtCore import QObject, Qt, Slot
from PySide6.QtWidgets import QLabel, QMainWindow, QStatusBar

from qtqueue.api.port import ENGINE_LOST, EnginePort
from qtqueue.core.errors import QueueError
from qtqueue.ui.engine_bridge import EngineBridge
from qtqueue.ui.theme import themed

logger = logging.getLogger(__name__)

__all__ = ["EngineLink", "link_words", "show_web_api"]

_LOST_STYLE = "color: #b91c1c; font-weight: bold;"


def link_words(port: EnginePort, *, lost: bool = False) -> tuple[str, str]:
    """(title suffix, status-bar words) for `port`: on a cluster (its `cluster`,
    "redis://HOST:PORT") the title names the cluster, and Redis away is "reconnecting"."""
    cluster = getattr(port, "cluster", None)
    if isinstance(cluster, str) and cluster:
        server = cluster.split("://", 1)[-1]
        if lost:
            return (
                f"{cluster} — reconnecting",
                f"Redis at {server} is not answering — reconnecting…",
            )
        return cluster, f"Cluster at {cluster}: tasks run on its RQ workers"
    pid = port.engine_pid
    if port.owns_engine:
        return "this window runs the engine", f"This window runs the engine (PID {pid})"
    if lost:
        return (
            f"engine of PID {pid} stopped",
            f"The engine of PID {pid} stopped — waiting for an engine to start on this folder",
        )
    return f"attached to the engine of PID {pid}", f"Attached to the engine of PID {pid}"


class EngineLink(QObject):
    """Keeps the title and `label` saying whose engine `window` shows."""

    def __init__(
        self, window: QMainWindow, port: EnginePort, bridge: EngineBridge, bar: QStatusBar
    ) -> None:
        super().__init__(window)
        self._window = window
        self._port = port
        self._title = window.windowTitle() or "qtqueue"
        self.lost = False
        self.label = QLabel(window)
        self.label.setObjectName("engineLinkLabel")
        cluster = getattr(port, "cluster", None)
        self.label.setToolTip(
            f"The cluster's Redis: {cluster}" if cluster else f"Data directory: {port.data_dir}"
        )
        bar.addPermanentWidget(self.label)
        bridge.engineLinkChanged.connect(self._on_link)
        self._show()

    def _show(self) -> None:
        title, words = link_words(self._port, lost=self.lost)
        self._window.setWindowTitle(f"{self._title} — {title}")
        self.label.setText(words)
        self.label.setStyleSheet(themed(_LOST_STYLE) if self.lost else "")

    @Slot(str)
    def _on_link(self, detail: str) -> None:
        self.lost = detail == ENGINE_LOST
        logger.info("attached engine %s", "lost" if self.lost else "answers again")
        self._show()
        _title, words = link_words(self._port, lost=self.lost)
        cluster = getattr(self._port, "cluster", None)
        back = "Redis answers again" if cluster else "The engine answers again"
        shown = (words, 0) if self.lost else (back, 6000)
        self._window.statusBar().showMessage(*shown)


def show_web_api(window: QMainWindow, url: str | None, error: QueueError | None) -> QLabel | None:
    """Say in `window`'s status bar where the engine serves its web API (a link to the admin
    page), or why it could not (the error's code, its message and fix in the tooltip). None
    when the settings ask for no web API."""
    if url is None and error is None:
        return None
    label = QLabel(window)
    label.setObjectName("webApiLabel")
    if url is not None:
        admin = html.escape(f"{url}/admin/tasks", quote=True)
        label.setText(f'<a href="{admin}">Web API: {html.escape(url)}</a>')
        label.setTextFormat(Qt.TextFormat.RichText)
        label.setOpenExternalLinks(True)
        label.setToolTip(
            f"The REST API, the admin page and /metrics at {url}; "
            "the key: qtqueue token show. Click to open the admin page."
        )
    elif error is not None:
        label.setText(f"Web API off: {error.code.value}")
        label.setStyleSheet(themed(_LOST_STYLE))
        label.setToolTip(f"{error}\n{error.suggestion}")
    window.statusBar().addPermanentWidget(label)
    return label
