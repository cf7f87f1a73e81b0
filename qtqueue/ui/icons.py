"""The application's icons: SVGs from `resources/icons/`, compiled into `forms/icons_rc.py`.

Icons are read from the Qt resource system (`:/icons/NAME.svg`), never from the repository,
so an installed or frozen app finds them. `icon(name)` caches one `QIcon` per name.
"""

from __future__ import annotations

import functools
import logging
from typing import TYPE_CHECKING

from PySide6.QtCore import QFile
from PySide6.QtGui import QColor, QIcon

from qtqueue.core.task import TaskStatus
from qtqueue.ui.forms import icons_rc
from qtqueue.ui.theme import adapt, is_dark

if TYPE_CHECKING:
    from qtqueue.ui.forms.main_window_ui import Ui_MainWindow

logger = logging.getLogger(__name__)

#: Keeps the generated module (which registers the resources on import) referenced.
_RESOURCES = icons_rc

#: The colour each status is drawn in on a light background (text in the table, the status
#: icons' fill); `status_color` gives the dark theme's in its place.
STATUS_COLORS: dict[TaskStatus, str] = {
    TaskStatus.PENDING: "#6b7280",
    TaskStatus.RUNNING: "#2563eb",
    TaskStatus.PAUSED: "#b45309",
    TaskStatus.VALIDATING: "#0e7490",
    TaskStatus.PREPARING: "#0e7490",
    TaskStatus.UPLOADING: "#0e7490",
    TaskStatus.DOWNLOADING: "#0e7490",
    TaskStatus.BUILDING: "#0e7490",
    TaskStatus.PULLING: "#0e7490",
    TaskStatus.COMPLETED: "#15803d",
    TaskStatus.FAILED: "#dc2626",
    TaskStatus.CANCELLED: "#6b7280",
    TaskStatus.TIMEOUT: "#ea580c",
}


def resource_path(name: str) -> str:
    """The resource path of icon `name` (without the .svg)."""
    return f":/icons/{name}.svg"


@functools.cache
def icon(name: str) -> QIcon:
    """The icon `name` ("retry", "status-failed", …); an empty icon if there is none."""
    path = resource_path(name)
    if not QFile.exists(path):
        logger.warning("no icon named %r", name)
        return QIcon()
    return QIcon(path)


def status_icon(status: TaskStatus) -> QIcon:
    """The icon shown beside a task's status."""
    return icon(f"status-{status.value}")


@functools.cache
def _status_color(status: TaskStatus, dark: bool) -> QColor:
    return QColor(adapt(STATUS_COLORS[status], dark))


def status_color(status: TaskStatus) -> QColor:
    """The text colour of a task's status, on the active theme (light or dark)."""
    return _status_color(status, is_dark())


def set_action_icons(f: Ui_MainWindow) -> None:
    """Give the main window's actions (menus and toolbar) their icons."""
    for action, name in (
        (f.actionNewTask, "new"),
        (f.actionPause, "pause"),
        (f.actionResume, "resume"),
        (f.actionRetry, "retry"),
        (f.actionCancel, "cancel"),
        (f.actionRemove, "remove"),
        (f.actionPauseQueue, "queue-pause"),
        (f.actionApprove, "approve"),
        (f.actionReject, "reject"),
        (f.actionRequeueDeadLetters, "retry"),
        (f.actionRequeueAllDeadLetters, "retry"),
        (f.actionPurgeDeadLetters, "remove"),
        (f.actionScheduleTask, "schedule"),
        (f.actionSchedules, "schedule"),
    ):
        action.setIcon(icon(name))
