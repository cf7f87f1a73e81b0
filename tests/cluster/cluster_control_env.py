"""A long-running `qtqueue worker` in the background for the control tests (not `--burst`: an
idle worker blocked on its queues is the case RQ's own suspend gets wrong)."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil
from helpers.cli import qtqueue_env
from helpers.waiting import wait_until
from redis import Redis
from rq.worker import Worker


@dataclass
class BackgroundWorker:
    """A running worker: its process and its log file."""

    proc: subprocess.Popen[bytes]
    log: Path

    def text(self) -> str:
        return self.log.read_text(errors="replace")


def worker_state(client: Redis, name: str) -> str | None:
    """The state a live worker reports (idle, busy, suspended), None if none is named so."""
    for w in Worker.all(connection=client):
        if w.name == name:
            return str(w.get_state())
    return None


@contextmanager
def background_worker(
    url: str, tmp_path: Path, name: str, *args: str, client: Redis
) -> Iterator[BackgroundWorker]:
    """`qtqueue -v worker --redis URL --name NAME ARGS…` until the block ends (then SIGTERM, a
    warm shutdown); entered once it has registered with Redis."""
    log = tmp_path / f"{name}.log"
    with log.open("ab") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "qtqueue", "--data-dir", str(tmp_path / "q"), "-v", "worker",
             "--redis", url, "--name", name, *args],
            stdout=sink, stderr=subprocess.STDOUT, env=qtqueue_env(tmp_path),
        )  # fmt: skip
    worker = BackgroundWorker(proc, log)
    try:

        def registered() -> bool:
            assert proc.poll() is None, worker.text()
            return worker_state(client, name) is not None

        wait_until(registered, timeout_s=30, what=f"worker {name} registered")
        yield worker
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def process_state(pid: int) -> str:
    """psutil's status of a process ("stopped" while SIGSTOPped), "gone" when it has ended."""
    try:
        status = psutil.Process(pid).status()
    except psutil.NoSuchProcess:
        return "gone"
    return "gone" if status == psutil.STATUS_ZOMBIE else str(status)
