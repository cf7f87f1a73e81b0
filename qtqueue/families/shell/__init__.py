"""The shell family: run a program (custom_command) or a script (custom_script) as a task."""

from __future__ import annotations

import logging

from qtqueue.executors.base import Executor
from qtqueue.executors.family import Family

logger = logging.getLogger(__name__)

__all__ = ["family"]


def _executors() -> list[Executor]:
    from qtqueue.families.shell.command import CommandExecutor, ScriptExecutor

    return [CommandExecutor(), ScriptExecutor()]


#: The shell family, advertised as `shell` in the `qtqueue.families` entry-point group.
family = Family(
    name="shell",
    title="Shell",
    category="system",
    executors=_executors,
    name_keys=("command", "script_path"),
)
