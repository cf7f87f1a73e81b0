"""The system tests' own fixture: a real Docker daemon for the Docker part of system_cleanup,
started the way the Docker tests start theirs (tests/docker/docker_services.py, loaded by path:
tests/docker is not a package) on its own data root, stopped by pid after the module."""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest


def _docker_services() -> ModuleType:
    name = "docker_services"
    if name not in sys.modules:  # the Docker tests' conftest may have loaded it already
        path = Path(__file__).parent.parent / "docker" / "docker_services.py"
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


@pytest.fixture(scope="module")
def dockerd_host() -> Iterator[str]:
    """DOCKER_HOST of a fresh real dockerd (no bridge, no firewall rules) for this module."""
    if shutil.which("dockerd") is None:
        pytest.skip("docker is not installed here (`make test` installs docker.io)")
    if os.geteuid() != 0:
        pytest.skip("dockerd needs root")
    services = _docker_services()
    root = Path(tempfile.mkdtemp(prefix="qs", dir="/tmp"))  # unix socket paths stay short
    daemon, host = services.start_dockerd(root)
    try:
        yield host
    finally:
        services.stop_dockerd(daemon, root)
        shutil.rmtree(root, ignore_errors=True)
