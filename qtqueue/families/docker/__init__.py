"""The docker family: build, push, pull, run, stop, remove and tag, on the docker SDK.

Every SDK call runs in a worker thread; streams (build output, pull/push progress, container
output) are handed to the event loop item by item and cut when the task is cancelled. Pull
and push write one `layer <id>: <status>[ <current>/<total> bytes]` line per layer state
change to the task log; `parse_layer_lines` reads them back, and the detail pane's layer view
(`qt.py`) shows them.

The SDK is an extra (`pip install 'qtqueue[docker]'`) and is imported only inside the
executors; without it the types are listed, and adding or running one raises
QUEUE_EXTRA_NOT_INSTALLED. Importing this module is cheap: the executors' modules are
imported when a registry is filled (`family.executors()`), and the names below on first use.
"""

from __future__ import annotations

import importlib
import logging
from importlib import resources
from typing import Any

from qtqueue.core.errors import CATALOG
from qtqueue.executors.base import Executor
from qtqueue.executors.family import Family
from qtqueue.families.docker.settings import DockerSettings

logger = logging.getLogger(__name__)

__all__ = [
    "DockerBuildExecutor",
    "DockerPullExecutor",
    "DockerPushExecutor",
    "DockerRemoveExecutor",
    "DockerRunExecutor",
    "DockerSettings",
    "DockerStopExecutor",
    "DockerTagExecutor",
    "LayerProgress",
    "LayerState",
    "docker_executors",
    "family",
    "format_layer_line",
    "parse_layer_lines",
]

_LAZY = {
    "DockerBuildExecutor": "images",
    "DockerPullExecutor": "images",
    "DockerPushExecutor": "images",
    "DockerTagExecutor": "images",
    "DockerRunExecutor": "containers",
    "DockerStopExecutor": "containers",
    "DockerRemoveExecutor": "containers",
    "LayerProgress": "progress",
    "LayerState": "progress",
    "format_layer_line": "progress",
    "parse_layer_lines": "progress",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


def docker_executors() -> list[Executor]:
    """One instance of each Docker executor."""
    from qtqueue.families.docker.containers import (
        DockerRemoveExecutor,
        DockerRunExecutor,
        DockerStopExecutor,
    )
    from qtqueue.families.docker.images import (
        DockerBuildExecutor,
        DockerPullExecutor,
        DockerPushExecutor,
        DockerTagExecutor,
    )

    return [
        DockerBuildExecutor(),
        DockerPushExecutor(),
        DockerPullExecutor(),
        DockerRunExecutor(),
        DockerStopExecutor(),
        DockerRemoveExecutor(),
        DockerTagExecutor(),
    ]


#: The family's error codes and message rules.
ERRORS = resources.files(__name__) / "errors.toml"

#: The docker family, advertised as `docker` in the `qtqueue.families` entry-point group.
family = Family(
    name="docker",
    title="Docker",
    category="docker",
    executors=docker_executors,
    settings_model=DockerSettings,
    errors=ERRORS,
    # A container's command names a run best; then the image.
    name_keys=("command", "image_name", "image"),
    qt_module=f"{__name__}.qt",
    requires=("docker",),
    extra="docker",
)

# The docker executors classify the daemon's texts with these rules wherever they run, also in a
# registry filled executor by executor: the codes are registered as soon as the family is
# imported (`ExecutorRegistry.add_family` registering them again is a no-op).
CATALOG.register_file(family.name, ERRORS)
