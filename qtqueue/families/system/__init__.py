"""The system family: sample the machine (system_monitor)."""

from __future__ import annotations

import logging

from qtqueue.executors.base import Executor
from qtqueue.executors.family import Family

logger = logging.getLogger(__name__)

__all__ = ["family"]


def _executors() -> list[Executor]:
    from qtqueue.families.system.monitor import SystemMonitorExecutor

    return [SystemMonitorExecutor()]


#: The system family, advertised as `system` in the `qtqueue.families` entry-point group.
family = Family(
    name="system",
    title="System",
    category="system",
    executors=_executors,
    name_keys=("monitor_type",),
)
