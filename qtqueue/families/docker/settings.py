"""The docker family's settings: which daemon tasks talk to when they name none."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

logger = logging.getLogger(__name__)

__all__ = ["DOCKER_HOST_SCHEMES", "DockerSettings"]

#: URL schemes the docker SDK accepts for a daemon.
DOCKER_HOST_SCHEMES = ("unix://", "tcp://", "ssh://", "npipe://", "http://", "https://")


class DockerSettings(BaseModel):
    """Settings every Docker task reads at run time (`RunContext.settings`); the settings page
    and `qtqueue config` are generated from it. An unknown field is an error, and every value
    is checked on change."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    docker_host: str = Field(
        default="",
        title="Docker host",
        description="The Docker daemon of Docker tasks that name none, e.g. tcp://build-box:2375 "
        "(empty: $DOCKER_HOST, else the local socket)",
    )

    @field_validator("docker_host")
    @classmethod
    def _daemon_url(cls, host: str) -> str:
        host = host.strip()
        if host and (not host.startswith(DOCKER_HOST_SCHEMES) or host in DOCKER_HOST_SCHEMES):
            raise ValueError(
                "must be a daemon URL such as unix:///var/run/docker.sock or tcp://host:2375"
            )
        if _has_credentials(host):
            # Not echoed back: the message says what is wrong, never the value.
            raise ValueError(
                "must not hold a user name or password (user:password@): settings are saved as "
                "plain text; keep credentials in the OS keyring (qtqueue's Credentials) or in "
                "Docker's own config (docker login, ssh keys)"
            )
        return host


def _has_credentials(host: str) -> bool:
    """Whether a daemon URL carries userinfo that is a credential: a password in any scheme, or
    a user name in any but ssh:// (where ssh://user@host names the login, its key stays in ssh)."""
    try:
        parts = urlsplit(host)
        password = parts.password
    except ValueError:  # a malformed netloc (bad port, brackets): judge by its text
        return "@" in host.split("://", 1)[-1].split("/", 1)[0]
    if password is not None:
        return True
    return parts.username is not None and parts.scheme != "ssh"
