"""Workers that stand for separate machines: each in a network namespace of its own, reaching
the test's redis-server only through a veth pair (its own link, its own address), as
/work/shared/ENVIRONMENT.md's machines (root, `ip`) allow; elsewhere on 127.0.0.1."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import psutil
from helpers.cli import qtqueue_env
from redis import Redis

IP = shutil.which("ip") or "/usr/sbin/ip"


@dataclass
class Machines:
    """Where each worker runs: `prefix[i]` before its command (`ip netns exec NS`, or nothing),
    and the Redis URL it uses (`urls[i]`: the host's end of its veth pair, or 127.0.0.1)."""

    prefix: list[list[str]] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)
    namespaces: list[str] = field(default_factory=list)


def _ip(*args: str) -> None:
    subprocess.run([IP, *args], check=True, capture_output=True, timeout=10)


def namespaces_possible() -> bool:
    """Whether this machine lets the test make network namespaces (root and `ip`)."""
    return os.geteuid() == 0 and os.path.exists(IP)


@contextmanager
def machines(redis: Redis, port: int, count: int) -> Iterator[Machines]:
    """`count` places for workers: network namespaces with a veth pair each (10.213.K.4i+1 on
    the host, .4i+2 inside; Redis told to listen on the host ends too, `CONFIG SET bind`, and
    to take clients there without a password), all
    removed at the end; where namespaces cannot be made, `count` times 127.0.0.1."""
    out = Machines()
    if not namespaces_possible():
        out.prefix = [[] for _ in range(count)]
        out.urls = [f"redis://127.0.0.1:{port}/0"] * count
        yield out
        return
    tag = os.getpid() % 100_000
    subnet = 10 + os.getpid() % 240  # two test runs at once rarely share one
    hosts = []
    try:
        for i in range(count):
            ns, host_end, ns_end = f"qtq{tag}n{i}", f"qv{tag}h{i}", f"qv{tag}c{i}"
            _ip("netns", "add", ns)
            out.namespaces.append(ns)
            _ip("link", "add", host_end, "type", "veth", "peer", "name", ns_end)
            _ip("link", "set", ns_end, "netns", ns)
            host_ip, ns_ip = f"10.213.{subnet}.{4 * i + 1}", f"10.213.{subnet}.{4 * i + 2}"
            _ip("addr", "add", f"{host_ip}/30", "dev", host_end)
            _ip("link", "set", host_end, "up")
            _ip("-n", ns, "addr", "add", f"{ns_ip}/30", "dev", ns_end)
            _ip("-n", ns, "link", "set", ns_end, "up")
            _ip("-n", ns, "link", "set", "lo", "up")
            hosts.append(host_ip)
            out.prefix.append([IP, "netns", "exec", ns])
            out.urls.append(f"redis://{host_ip}:{port}/0")
        redis.config_set("bind", " ".join(["127.0.0.1", *hosts]))
        # Clients from another address than loopback, no password: reachable only from the
        # test's own namespaces (the veth pairs lead nowhere else).
        redis.config_set("protected-mode", "no")
        yield out
    finally:
        for ns in out.namespaces:  # its end of the veth pair goes with it, and so the pair
            with suppress(subprocess.CalledProcessError, subprocess.TimeoutExpired):
                _ip("netns", "delete", ns)


def start_worker(
    prefix: Sequence[str], url: str, tmp_path: Path, name: str, log: Path
) -> subprocess.Popen[bytes]:
    """`[prefix] python -m qtqueue --data-dir TMP/q worker --redis URL --burst --name NAME`
    in the background, its output to `log`."""
    argv = [*prefix, sys.executable, "-m", "qtqueue", "--data-dir", str(tmp_path / "q"),
            "worker", "--redis", url, "--burst", "--name", name]  # fmt: skip
    with log.open("wb") as sink:
        return subprocess.Popen(
            argv, stdout=sink, stderr=subprocess.STDOUT, env=qtqueue_env(tmp_path)
        )


def kill_machine(command_pid: int) -> str:
    """SIGKILL what a machine's death ends, from the command a task runs: the worker first (so
    no one sees its work horse die), then the horse, then the command's process group.
    Returns the worker's name (its --name argument)."""
    command = psutil.Process(command_pid)
    horse = command.parent()
    assert horse is not None
    worker = horse.parent()
    assert worker is not None
    argv = worker.cmdline()
    assert "worker" in argv, argv
    name = argv[argv.index("--name") + 1]
    pgid = os.getpgid(command_pid)
    for pid in (worker.pid, horse.pid):
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    with suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)
    return name
