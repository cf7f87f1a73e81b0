"""Fixtures every test package shares: one data directory, the engine on it, and a real
Secret Service. A folder's own conftest keeps only what is specific to it (Qt for tests/ui,
the Docker daemon for tests/docker, the gated handler for tests/engine)."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers.keyring_service import secret_service  # noqa: F401  (a fixture, for every test)
from helpers.queues import QueueFactory

from qtqueue.engine.queue import TaskQueue
from qtqueue.executors import default_registry


@pytest.fixture(autouse=True)
def collect_qt_garbage(request: pytest.FixtureRequest) -> Iterator[None]:
    """After a test that used Qt, its garbage is collected here, on the main thread, once its
    fixtures are torn down (this autouse fixture is torn down last), and what is left is
    frozen (`gc.freeze`): never looked at by a later collection.

    Qt objects must die on the thread they live on. A collection runs on whichever thread
    happens to allocate when it is due: in a later test's engine thread
    (tests/design_documents start one), it destroyed a Qt object of an earlier test there,
    and Qt fired that object's timer into freed memory on the next processEvents — a segfault
    seen only in whole-suite runs. Collected here, a Qt test's cycles die on the main thread;
    frozen, what they still hold (a closed loop, a widget awaiting deleteLater) can never be
    collected on another thread afterwards. Frozen objects are at most leaked, and later
    collections are cheaper (they skip them)."""
    yield
    if "qapp" in request.fixturenames:
        gc.collect()
        gc.freeze()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A fresh, short data directory (Unix socket paths must stay short)."""
    return tmp_path / "q"


@pytest.fixture
async def make_queue(data_dir: Path) -> AsyncIterator[QueueFactory]:
    """`await make_queue(**kwargs)`: a started TaskQueue (keyword arguments go to TaskQueue,
    `data_dir` included); every one opened is closed at the end of the test.

    Defaults: two tasks at once, and the built-in families only — never what happens to be
    installed in the environment, so a test sees the same task types everywhere."""
    opened: list[TaskQueue] = []

    async def make(**kwargs: Any) -> TaskQueue:
        kwargs.setdefault("max_concurrent", 2)
        kwargs.setdefault("registry", default_registry(entry_points=False))
        queue = TaskQueue(kwargs.pop("data_dir", data_dir), **kwargs)
        await queue.start()
        opened.append(queue)
        return queue

    try:
        yield make
    finally:
        for queue in reversed(opened):
            await queue.close()


@pytest.fixture
async def queue(make_queue: QueueFactory) -> TaskQueue:
    """A started, dispatching TaskQueue on `data_dir`, as `make_queue()` opens it."""
    return await make_queue()
