"""The system family: sample the machine (system_monitor), back folders up and restore them
(system_backup), list or apply package upgrades (system_update), and clean old files, logs and
Docker leftovers (system_cleanup)."""

from __future__ import annotations

import logging

from qtqueue.executors.base import Executor
from qtqueue.executors.family import Family
from qtqueue.families.system.settings import SystemSettings

logger = logging.getLogger(__name__)

__all__ = ["SystemSettings", "family"]


def _executors() -> list[Executor]:
    from qtqueue.families.system.backup import BackupExecutor
    from qtqueue.families.system.cleanup import CleanupExecutor
    from qtqueue.families.system.monitor import SystemMonitorExecutor
    from qtqueue.families.system.update import UpdateExecutor

    return [SystemMonitorExecutor(), BackupExecutor(), UpdateExecutor(), CleanupExecutor()]


#: The system family, advertised as `system` in the `qtqueue.families` entry-point group.
family = Family(
    name="system",
    title="System",
    category="system",
    executors=_executors,
    settings_model=SystemSettings,
    qt_module=f"{__name__}.qt",
    name_keys=("monitor_type", "operation", "paths", "packages", "roots"),
)
