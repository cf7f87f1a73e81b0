"""Placement tests' helpers: `qtqueue worker` processes that stand for machines of a given
size (`--cpu-cores`, `--memory-gb`) and labels, entered once their room is published; tasks
that record where and when they ran; the cluster's `queue --json` rows."""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cluster_control_env import BackgroundWorker, background_worker
from cluster_env import RedisServer
from helpers.cli import qtqueue_command
from helpers.waiting import wait_until

from qtqueue.cluster.placement import room_key
from qtqueue.cluster.reads import ClusterReader
from qtqueue.core.task import Task


@contextmanager
def machine(
    redis: RedisServer, tmp_path: Path, name: str, *args: str
) -> Iterator[BackgroundWorker]:
    """`qtqueue -v worker --redis URL --name NAME ARGS…` (e.g. `--cpu-cores 4 --label gpu`),
    entered once it has published its room; stopped (SIGTERM) when the block ends."""
    with background_worker(redis.url, tmp_path, name, *args, client=redis.client) as worker:

        def published() -> bool:
            assert worker.proc.poll() is None, worker.text()
            return bool(redis.client.exists(room_key(name)))

        wait_until(published, timeout_s=30, what=f"{name}'s room")
        yield worker


def kill(worker: BackgroundWorker) -> None:
    """SIGKILL a worker (its horse and scheduler die with it: PR_SET_PDEATHSIG)."""
    worker.proc.send_signal(signal.SIGKILL)
    worker.proc.wait(timeout=10)


@dataclass
class Record:
    """Where and when a recording task ran."""

    worker: str
    started: float
    ended: float


def recording_task(tmp_path: Path, name: str, resources: dict[str, Any], run_s: float = 0) -> Task:
    """A shell task that writes its worker's name (from $QTQUEUE_DATA_DIR, the worker's own
    directory), its start time, then (after `run_s`) its end time to TMP/NAME.ran."""
    out = tmp_path / f"{name}.ran"
    line = (
        f"s=$(date +%s.%N); sleep {run_s}; e=$(date +%s.%N); "
        f'echo "$(basename "$QTQUEUE_DATA_DIR") $s $e" > {out}.tmp; mv {out}.tmp {out}'
    )
    return shell_task(name, line, resources)


def record(tmp_path: Path, name: str) -> Record | None:
    """What the recording task `name` wrote, None while it has not run."""
    out = tmp_path / f"{name}.ran"
    if not out.exists():
        return None
    worker, started, ended = out.read_text().split()
    return Record(worker, float(started), float(ended))


def waiting_rows(redis: RedisServer, tmp_path: Path) -> dict[str, dict[str, Any]]:
    """`qtqueue --redis URL queue --json`'s rows, by task id."""
    done = qtqueue_command(tmp_path)("--redis", redis.url, "queue", "--json")
    assert done.returncode == 0, done.stderr
    return {row["id"]: row for row in json.loads(done.stdout)}


def reason_of(redis: RedisServer, task_id: str) -> str:
    """The last reason the cluster's `waiting` read (what `queue` prints) gives for `task_id`
    ('' while it is not listed): read in this process, as the tests poll it."""
    rows = [r for r in ClusterReader(redis.client).waiting() if r["id"] == task_id]
    return str(rows[0]["last_reason"]) if rows else ""


def blocking_task(tmp_path: Path, name: str, resources: dict[str, Any]) -> tuple[Task, Path]:
    """A shell task that writes TMP/NAME.started, then waits until TMP/NAME.go exists: (the
    task, its started file)."""
    started, go = tmp_path / f"{name}.started", tmp_path / f"{name}.go"
    line = f"touch {started}; until [ -e {go} ]; do sleep 0.05; done"
    return shell_task(name, line, resources), started


def shell_task(name: str, line: str, resources: dict[str, Any]) -> Task:
    """A custom_command task running `line` through /bin/sh, with `resources`, no retries."""
    return Task(  # type: ignore[arg-type]
        "custom_command",
        {"command": line, "shell": True},
        name=name,
        resources=resources,
        max_retries=0,
    )
