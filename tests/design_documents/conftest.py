"""The design documents' examples run on the process's default queue (`get_task_queue()`,
`TaskQueue()`, `queue_manager`) on the test's own data directory, never the user's."""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from qtqueue.config import ENV_DATA_DIR
from qtqueue.task_queue import reset_task_queue


@pytest.fixture
async def user_data_dir(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Path]:
    """$QTQUEUE_DATA_DIR set to `data_dir` (so a queue made with no directory lives there),
    `python` on PATH the test's own interpreter, no Docker daemon (DOCKER_HOST a socket nobody
    listens on) and no default queue; at the end the default queue is stopped and forgotten."""
    monkeypatch.setenv(ENV_DATA_DIR, str(data_dir))
    monkeypatch.setenv("DOCKER_HOST", f"unix://{data_dir.parent}/no-docker.sock")
    monkeypatch.setenv(
        "PATH", os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    )
    reset_task_queue()
    yield data_dir
    queue = reset_task_queue()
    if queue is not None and queue.worker.running:
        queue.stop_worker()  # joins its thread
    elif queue is not None:
        await queue.close()
