"""The Docker tests' own fixture: a real dockerd and registries for the session
(docker_services.py)."""

from __future__ import annotations

from docker_services import docker_env_fixture  # noqa: F401  (the `docker_env` fixture)
