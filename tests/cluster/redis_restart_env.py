"""A redis-server that keeps its data across a restart (`--appendonly yes`), for the tests
that kill Redis mid-run and start it again (test_cluster_restart.py, test_cluster_window.py)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cluster_env import REDIS_SERVER
from helpers.waiting import wait_until
from redis import Redis


@contextmanager
def persistent_redis(where: Path, port: int) -> Iterator[subprocess.Popen[bytes]]:
    """redis-server on `port` with its append-only file in `where`, fsynced at every write
    (`appendfsync always`: a SIGKILL loses no write it acknowledged; with the default
    `everysec` the last second's could be lost, a dequeued job queued again, and run twice)."""
    where.mkdir(parents=True, exist_ok=True)
    with (where / "redis.log").open("ab") as log:
        proc = subprocess.Popen(
            [REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "yes", "--appendfsync", "always", "--dir", str(where)],
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    client = Redis(host="127.0.0.1", port=port, socket_connect_timeout=2)

    def answers() -> bool:
        assert proc.poll() is None, (where / "redis.log").read_text()
        try:
            return bool(client.ping())
        except Exception:  # redis-py's ConnectionError (or "loading") while it starts
            return False

    try:
        wait_until(answers, what="redis-server answering")
        yield proc
    finally:
        client.close()
        if proc.poll() is None:
            proc.terminate()
        proc.wait(timeout=10)
