"""A plug-in family that lives entirely in this folder: `greet`, its params, its settings, its
error codes and message rules. qtqueue finds it only through a `qtqueue.families` entry point
(`plugin_family:family`) that the tests write into a dist-info directory on the path.
"""

from __future__ import annotations

import logging
from importlib import resources

from plugin_family.greet import GreetExecutor, GreetSettings

from qtqueue.executors.base import Executor
from qtqueue.executors.family import Family

logger = logging.getLogger(__name__)

__all__ = ["family"]


def _executors() -> list[Executor]:
    return [GreetExecutor()]


#: What the `qtqueue.families` entry point names.
family = Family(
    name="greetings",
    title="Greetings",
    executors=_executors,
    settings_model=GreetSettings,
    errors=resources.files(__name__) / "errors.toml",
    name_keys=("who",),
    qt_module=f"{__name__}.qt",
)
