"""Processes and task logs as the OS and the data directory show them."""

from __future__ import annotations

import contextlib
from pathlib import Path

import psutil


def gone(pid: int) -> bool:
    """The process has exited. A zombie counts: it has exited and only waits to be reaped, and
    whether it is reaped depends on the machine's init (some container inits never reap)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def tree_pids(pid: int) -> list[int]:
    """The process and all its live descendants."""
    try:
        root = psutil.Process(pid)
        return [pid, *(p.pid for p in root.children(recursive=True))]
    except psutil.NoSuchProcess:
        return []


def tree(pid: int) -> list[psutil.Process]:
    """The process and its live descendants, as handles that know their start time (so a
    pid reused later is never stopped in their place)."""
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def stop_all(procs: list[psutil.Process]) -> None:
    """SIGKILL each of `procs` still running (stopped ones too) and wait for them briefly;
    what a test leaves behind when it fails midway (an engine's spawner, its commands)."""
    for p in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            if p.is_running():
                p.kill()
    psutil.wait_procs(procs, timeout=5)


def status_of(pid: int) -> str:
    try:
        return str(psutil.Process(pid).status())
    except psutil.NoSuchProcess:
        return "gone"


def log_text(path: Path) -> str:
    """A task's whole retained log, read from its files."""
    parts = [p for p in (path.with_name(path.name + ".1"), path) if p.exists()]
    return b"".join(p.read_bytes() for p in parts).decode("utf-8", "replace")
