"""A real Docker daemon and two real registries for the Docker executor tests.

`docker_env` (session scope) starts `dockerd` on its own data root, exec root and socket in a
short temporary folder (no bridge, no firewall rules), waits until it answers /_ping, builds a
busybox image FROM scratch, and starts two `docker-registry` instances on free loopback ports:
one open, one behind htpasswd. Teardown stops exactly those processes by pid and removes the
folder. Missing programs fail the tests (`make test` installs them); only a non-root run is
skipped, because dockerd needs root.

This module is not itself a conftest.py (tests/docker/conftest.py publishes its fixture):
tests/docker has no __init__.py (as a package it would be named `docker` and hide the docker
SDK), and the test module imports its helpers by name.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import pytest
from helpers.waiting import wait_until

START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 20.0
REGISTRY_USER = "qtq-user"
REGISTRY_PASSWORD = "pw-7d1e0c5b-registry"
BASE_IMAGE = "qtq/busybox:base"
TOOLS = ("dockerd", "docker-registry", "htpasswd")
BUSYBOX = "/bin/busybox"
PACKAGES = "docker.io docker-registry busybox-static apache2-utils"

_REGISTRY_CONFIG = """version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: {root}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:{port}
  secret: qtqueue-test
"""
_AUTH_CONFIG = """auth:
  htpasswd:
    realm: qtqueue-test
    path: {htpasswd}
"""

BASE_DOCKERFILE = """FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
CMD ["/bin/sh", "-c", "echo hello"]
"""


@dataclass
class DockerEnv:
    """What the fixture started. `api` is a docker APIClient for the tests' own checks."""

    root: Path
    host: str
    api: Any
    open_registry: str
    auth_registry: str
    user: str = REGISTRY_USER
    password: str = REGISTRY_PASSWORD
    base_image: str = BASE_IMAGE


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _log_tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _ping(sock_path: Path) -> bool:
    """The daemon answers GET /_ping with OK on its socket."""
    try:
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(2.0)
            s.connect(str(sock_path))
            s.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
            reply = s.recv(4096)
    except OSError:
        return False
    status_line = reply.split(b"\r\n", 1)[0].split()
    return status_line[1:2] == [b"200"]


def _registry_answers(address: str) -> bool:
    try:
        with urllib.request.urlopen(f"http://{address}/v2/", timeout=2):
            return True
    except urllib.error.HTTPError as exc:
        return exc.code == 401  # the htpasswd one asks for a login: it is up
    except OSError:
        return False


def _wait(condition: Any, proc: subprocess.Popen[bytes], log: Path, what: str) -> None:
    """Poll `condition()` until true; fail at once if `proc` died, or after START_TIMEOUT_S."""

    def answered() -> bool:
        if proc.poll() is not None:
            pytest.fail(f"{what} exited with {proc.returncode}:\n{_log_tail(log)}")
        return bool(condition())

    try:
        wait_until(answered, START_TIMEOUT_S, poll_s=0.05)
    except AssertionError:
        pytest.fail(f"{what} did not answer within {START_TIMEOUT_S:g} s:\n{_log_tail(log)}")


def _stop(pid: int, timeout_s: float = STOP_TIMEOUT_S) -> None:
    """SIGTERM the process we started (by pid), then SIGKILL it and what it left behind."""
    try:
        proc = psutil.Process(pid)
        children = proc.children(recursive=True)
    except psutil.NoSuchProcess:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout_s)
    except psutil.TimeoutExpired:
        proc.kill()
        with contextlib.suppress(psutil.TimeoutExpired):
            proc.wait(timeout_s)
    for child in children:  # containerd and shims started by this dockerd
        with contextlib.suppress(psutil.NoSuchProcess):
            if child.is_running():
                child.kill()


def _start_registry(
    root: Path, name: str, htpasswd: Path | None
) -> tuple[str, subprocess.Popen[bytes]]:
    port = _free_port()
    config = root / f"{name}.yml"
    text = _REGISTRY_CONFIG.format(root=root / name, port=port)
    if htpasswd is not None:
        text += _AUTH_CONFIG.format(htpasswd=htpasswd)
    config.write_text(text)
    log = root / f"{name}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            ["docker-registry", "serve", str(config)],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    address = f"127.0.0.1:{port}"
    _wait(lambda: _registry_answers(address), proc, log, f"docker-registry {name}")
    return address, proc


def _build_base_image(api: Any, root: Path) -> None:
    context = root / "base"
    context.mkdir()
    shutil.copy(BUSYBOX, context / "busybox")
    (context / "Dockerfile").write_text(BASE_DOCKERFILE)
    for item in api.build(path=str(context), tag=BASE_IMAGE, rm=True, forcerm=True, decode=True):
        if "error" in item:
            pytest.fail(f"building the busybox base image failed: {item['error']}")


def start_dockerd(root: Path) -> tuple[subprocess.Popen[bytes], str]:
    """A real dockerd with its data root, exec root, socket and pid file under `root`
    (no bridge, no firewall rules), answering; (its process, its DOCKER_HOST)."""
    sock = root / "docker.sock"
    daemon_log = root / "dockerd.log"
    with daemon_log.open("wb") as out:
        daemon = subprocess.Popen(
            [
                "dockerd",
                "--bridge=none",
                "--iptables=false",
                "--ip-masq=false",
                "--data-root", str(root / "data"),
                "--exec-root", str(root / "exec"),
                "-H", f"unix://{sock}",
                "--pidfile", str(root / "docker.pid"),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
    try:
        _wait(lambda: _ping(sock), daemon, daemon_log, "dockerd")
    except BaseException:
        stop_dockerd(daemon, root)
        raise
    return daemon, f"unix://{sock}"


def stop_dockerd(daemon: subprocess.Popen[bytes], root: Path) -> None:
    """Stop a daemon `start_dockerd` started, by the pid in its pid file (else its own)."""
    pidfile = root / "docker.pid"
    _stop(int(pidfile.read_text()) if pidfile.exists() else daemon.pid)
    _stop(daemon.pid)
    daemon.wait()


@pytest.fixture(scope="session", name="docker_env")
def docker_env_fixture() -> Iterator[DockerEnv]:
    """A running dockerd with a busybox image, and an open and an htpasswd registry."""
    if os.geteuid() != 0:
        pytest.skip("dockerd needs root; run the Docker tests as root (`make test` does)")
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if not os.path.exists(BUSYBOX):
        missing.append(BUSYBOX)
    if missing:
        pytest.fail(
            f"{', '.join(missing)} not installed: the Docker tests need a real daemon and "
            f"registry (`make test` installs them: apt-get install -y {PACKAGES})"
        )
    import docker

    root = Path(tempfile.mkdtemp(prefix="qd", dir="/tmp"))  # unix socket paths must stay short
    started: list[subprocess.Popen[bytes]] = []
    api = None
    try:
        daemon, host = start_dockerd(root)
        started.append(daemon)
        api = docker.APIClient(base_url=host, version="auto", timeout=60)
        _build_base_image(api, root)

        htpasswd = root / "htpasswd"
        line = subprocess.run(
            ["htpasswd", "-Bbn", REGISTRY_USER, REGISTRY_PASSWORD],
            check=True,
            capture_output=True,
        ).stdout
        htpasswd.write_bytes(line)
        open_registry, open_proc = _start_registry(root, "open", None)
        started.append(open_proc)
        auth_registry, auth_proc = _start_registry(root, "auth", htpasswd)
        started.append(auth_proc)
        yield DockerEnv(root, host, api, open_registry, auth_registry)
    finally:
        if api is not None:
            with contextlib.suppress(Exception):
                for container in api.containers(all=True):
                    api.remove_container(container["Id"], force=True)
            api.close()
        for proc in reversed(started[1:]):
            _stop(proc.pid)
            proc.wait()
        if started:
            stop_dockerd(started[0], root)
        shutil.rmtree(root, ignore_errors=True)
