"""What every Docker params model shares, and image references taken apart."""

from __future__ import annotations

from typing import Any

from pydantic import Field


def docker_host_field() -> Any:
    """The `docker_host` field every Docker params model ends with (last, so that forms show
    it after the fields that matter more)."""
    return Field(
        None,
        description=(
            "Docker daemon, e.g. unix:///var/run/docker.sock or tcp://host:2375 "
            "(default: the Docker host of the settings, else $DOCKER_HOST, else the local "
            "socket)"
        ),
    )


def split_reference(image: str) -> tuple[str, str | None]:
    """(repository, tag or digest) of an image reference; None when it names neither.

    "busybox" -> ("busybox", None); "127.0.0.1:5000/app:1.2" -> ("127.0.0.1:5000/app", "1.2");
    "app@sha256:abc" -> ("app", "sha256:abc"). A colon before the last "/" is a registry port.
    """
    if "@" in image:
        repository, digest = image.split("@", 1)
        return repository, digest
    name = image.rsplit("/", 1)[-1]
    if ":" in name:
        repository, tag = image.rsplit(":", 1)
        return repository, tag
    return image, None
