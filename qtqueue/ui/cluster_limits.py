"""What a window on a cluster cannot do, disabled and said: its controls stay off (whatever
the selection would enable) and their tooltips say why and what to do instead; the settings
action says that a cluster's engine settings are its workers' (read-only here).

On a cluster (`qtqueue --redis URL gui`) RQ runs the tasks: there are no schedules.
(Moving, re-prioritising and editing a task waiting in its queue work on a cluster too:
`qtqueue.cluster.ordering`; Pause queue pauses the whole cluster, every worker holding until
resumed: `qtqueue.cluster.cluster_pause`.) The port refuses these with CLUSTER_NOT_SUPPORTED
anyway (`qtqueue.cluster.port_actions`); here the window says it before anyone clicks.
"""

from __future__ import annotations

import logging

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMainWindow

logger = logging.getLogger(__name__)

__all__ = ["CLUSTER_LIMITS", "limit_to_cluster"]

#: The window's actions a cluster cannot do, by objectName, and why (the tooltip).
CLUSTER_LIMITS: dict[str, str] = {
    "actionSchedules": "A cluster has no schedules yet: schedule on a local engine, or "
    "enqueue from cron with qtqueue --redis URL add.",
    "actionScheduleTask": "A cluster has no schedules yet.",
}


#: Said, not disabled: the dialog keeps the window's own preferences (colours, fonts).
SETTINGS_WORDS = (
    "The window's preferences (colours, fonts, tray). A cluster's engine settings are each "
    "worker's own (qtqueue --data-dir DIR config set … on its machine): changing them here "
    "is refused."
)


def _hold_off(action: QAction, why: str) -> None:
    action.setEnabled(False)
    action.setToolTip(why)
    action.setStatusTip(why)

    def again() -> None:
        if action.isEnabled():  # the selection turned it on: a cluster still cannot
            action.setEnabled(False)

    action.changed.connect(again)


def limit_to_cluster(window: QMainWindow) -> list[str]:
    """Keep `window`'s controls a cluster cannot do disabled, saying why; returns the
    objectNames held off."""
    held = []
    for name, why in CLUSTER_LIMITS.items():
        action = window.findChild(QAction, name)
        if action is None:
            logger.debug("no %s in this window", name)
            continue
        _hold_off(action, why)
        held.append(name)
    settings = window.findChild(QAction, "actionSettings")
    if settings is not None:
        settings.setToolTip(SETTINGS_WORDS)
        settings.setStatusTip(SETTINGS_WORDS)
    return held
