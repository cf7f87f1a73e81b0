"""A real Secret Service for tests: a private D-Bus session bus and gnome-keyring-daemon.

`secret_service` (a pytest fixture) starts both on a fresh temporary keyring directory, points
this process at the bus (`DBUS_SESSION_BUS_ADDRESS`), makes `keyring` use its SecretService
backend, and afterwards stops exactly the processes it started, by pid. The bus has its own
configuration with no service activation, so nothing starts behind the test's back. Tests are
skipped, saying why, only when gnome-keyring or dbus-daemon is not installed.
"""

from __future__ import annotations

import os
import selectors
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import keyring
import pytest

from qtqueue.storage.passwords import close_kept_connections

KEYRING_PASSWORD = "qtqueue-test-keyring"
SECRETS_NAME = "org.freedesktop.secrets"
START_TIMEOUT_S = 20.0

_BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:dir={socket_dir}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


class DaemonDied(RuntimeError):
    """gnome-keyring-daemon ended while the test ran.

    gnome-keyring (42 here, 50 upstream too) has a race that aborts the daemon now and then
    on short connect-read-disconnect cycles — the way `keyring`'s SecretService backend uses
    it, one connection per call — with "gkd_secret_service_get_pkcs11_session: assertion
    'client' failed" on its stderr. This error says so instead of leaving only a timeout.
    """


@dataclass
class SecretServiceSession:
    """What the fixture started: the bus address, the two processes, the keyring folder."""

    address: str
    bus: subprocess.Popen[bytes]
    daemon: subprocess.Popen[bytes]
    keyrings_dir: Path


def _missing_tools() -> list[str]:
    return [tool for tool in ("dbus-daemon", "gnome-keyring-daemon") if not shutil.which(tool)]


def _read_line(proc: subprocess.Popen[bytes], timeout_s: float) -> str:
    """The first line a process prints on stdout, waiting at most `timeout_s`."""
    assert proc.stdout is not None
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        if not sel.select(timeout_s):
            raise RuntimeError("dbus-daemon printed no address")
    return proc.stdout.readline().decode().strip()


def _wait_for_name(address: str, name: str, timeout_s: float) -> None:
    """Block until `name` has an owner on the bus: an event (NameOwnerChanged), not polling."""
    from jeepney import MatchRule, message_bus
    from jeepney.io.blocking import Proxy, open_dbus_connection

    with open_dbus_connection(bus=address) as conn:
        bus = Proxy(message_bus, conn)
        rule = MatchRule(
            type="signal",
            sender=message_bus.bus_name,
            interface=message_bus.interface,
            member="NameOwnerChanged",
            path=message_bus.object_path,
        )
        rule.add_arg_condition(0, name)
        bus.AddMatch(rule)
        with conn.filter(rule) as changes:
            if bus.NameHasOwner(name)[0]:
                return
            deadline = time.monotonic() + timeout_s
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"{name} did not appear on the bus")
                signal = conn.recv_until_filtered(changes, timeout=remaining)
                if signal.body[2]:  # the new owner
                    return


def _stop(proc: subprocess.Popen[bytes], log: Path | None = None) -> str:
    """Stop one process this module started, by its pid. Returns "" — or, if it had already
    ended on its own, how, with what it wrote to `log`."""
    early = ""
    if proc.poll() is not None:
        said = log.read_text(errors="replace").strip() if log is not None else ""
        early = f"exited early with status {proc.returncode}: {said}"
    else:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    for stream in (proc.stdin, proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()
    return early


@contextmanager
def running_secret_service(base: Path) -> Iterator[SecretServiceSession]:
    """Start a private session bus and an unlocked gnome-keyring under `base`; stop both
    (by pid) on exit. The caller's environment is not changed."""
    base.mkdir(parents=True, exist_ok=True)
    socket_dir = base / "bus"
    data_home = base / "data"
    runtime_dir = base / "run"
    keyrings = data_home / "keyrings"
    for folder in (socket_dir, keyrings, runtime_dir):
        folder.mkdir(parents=True, exist_ok=True)
    runtime_dir.chmod(0o700)
    daemon_log = base / "gnome-keyring-daemon.log"
    config = base / "bus.conf"
    config.write_text(_BUS_CONFIG.format(socket_dir=socket_dir))

    bus = subprocess.Popen(
        ["dbus-daemon", f"--config-file={config}", "--nofork", "--print-address=1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,  # it complains that it may not raise its fd limit
    )
    daemon: subprocess.Popen[bytes] | None = None
    try:
        address = _read_line(bus, START_TIMEOUT_S)
        env = {
            **os.environ,
            "DBUS_SESSION_BUS_ADDRESS": address,
            "XDG_DATA_HOME": str(data_home),
            "XDG_RUNTIME_DIR": str(runtime_dir),
            "HOME": str(base),
        }
        env.pop("GNOME_KEYRING_CONTROL", None)
        with daemon_log.open("wb") as log:  # a file, not a pipe: a full pipe would block it
            daemon = subprocess.Popen(
                ["gnome-keyring-daemon", "--foreground", "--unlock", "--components=secrets"],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=log,
                env=env,
            )
        assert daemon.stdin is not None
        daemon.stdin.write(KEYRING_PASSWORD.encode())
        daemon.stdin.close()  # the password ends at end of input
        try:
            _wait_for_name(address, SECRETS_NAME, START_TIMEOUT_S)
        except Exception as exc:
            detail = daemon_log.read_text(errors="replace")
            raise RuntimeError(f"gnome-keyring-daemon did not start: {exc} {detail}") from exc
        yield SecretServiceSession(address, bus, daemon, keyrings)
    finally:
        died = _stop(daemon, daemon_log) if daemon is not None else ""
        _stop(bus)
    if died:
        raise DaemonDied(f"gnome-keyring-daemon {died}")


@pytest.fixture
def secret_service(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[SecretServiceSession]:
    """A real, unlocked Secret Service for this test; `keyring` uses it while the test runs."""
    missing = _missing_tools()
    if missing:
        pytest.skip(
            f"{' and '.join(missing)} not installed: "
            "apt-get install gnome-keyring dbus (see shared/ENVIRONMENT.md)"
        )
    from keyring.backends import SecretService

    # A short base path: unix socket paths are limited to ~108 bytes.
    base = tmp_path_factory.mktemp("kr")
    previous = keyring.get_keyring()
    with running_secret_service(base) as session:
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", session.address)
        keyring.set_keyring(SecretService.Keyring())
        try:
            yield session
        finally:
            keyring.set_keyring(previous)
            close_kept_connections()  # qtqueue keeps one per backend (storage.secret_service)
    with suppress(OSError):
        shutil.rmtree(base)
