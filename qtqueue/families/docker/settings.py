"""The docker family's settings: which daemon tasks talk to when they name none."""

from __future__ import annotations

import logging

from pydantic import BaseModel, ConfigDict, Field

logger = logging.getLogger(__name__)

__all__ = ["DockerSettings"]


class DockerSettings(BaseModel):
    """Settings every Docker task reads at run time (`RunContext.settings`)."""

    model_config = ConfigDict(extra="forbid")

    docker_host: str | None = Field(
        None,
        title="Docker host",
        description=(
            "Docker daemon for tasks that name none, e.g. unix:///var/run/docker.sock or "
            "tcp://host:2375 (empty: $DOCKER_HOST, else the local socket)"
        ),
    )
