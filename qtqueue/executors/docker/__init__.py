"""The Docker executors (build, push, pull, run, stop, remove, tag) on the docker SDK.

Every SDK call runs in a worker thread; streams (build output, pull/push progress, container
output) are handed to the event loop item by item and cut when the task is cancelled. Pull
and push write one `layer <id>: <status>[ <current>/<total> bytes]` line per layer state
change to the task log; `parse_layer_lines` reads them back.
"""

from __future__ import annotations

from qtqueue.executors.base import Executor
from qtqueue.executors.docker.containers import (
    DockerRemoveExecutor,
    DockerRunExecutor,
    DockerStopExecutor,
)
from qtqueue.executors.docker.images import (
    DockerBuildExecutor,
    DockerPullExecutor,
    DockerPushExecutor,
    DockerTagExecutor,
)
from qtqueue.executors.docker.progress import (
    LayerProgress,
    LayerState,
    format_layer_line,
    parse_layer_lines,
)

__all__ = [
    "DockerBuildExecutor",
    "DockerPullExecutor",
    "DockerPushExecutor",
    "DockerRemoveExecutor",
    "DockerRunExecutor",
    "DockerStopExecutor",
    "DockerTagExecutor",
    "LayerProgress",
    "LayerState",
    "docker_executors",
    "format_layer_line",
    "parse_layer_lines",
]


def docker_executors() -> list[Executor]:
    """One instance of each Docker executor."""
    return [
        DockerBuildExecutor(),
        DockerPushExecutor(),
        DockerPullExecutor(),
        DockerRunExecutor(),
        DockerStopExecutor(),
        DockerRemoveExecutor(),
        DockerTagExecutor(),
    ]
