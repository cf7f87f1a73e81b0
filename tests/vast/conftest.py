"""The Vast.ai tests' own fixtures: the local API server (vast_server.py), a queue with the vast
executors whose settings point at it, and the API key in the real OS keyring."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from vast_server import VastServer, offer

from qtqueue.engine.credentials import KeyringVault
from qtqueue.engine.queue import TaskQueue
from qtqueue.executors import ExecutorRegistry
from qtqueue.families.vast import vast_executors

#: The account's key, and the keyring entry the tasks read it from.
API_KEY = "vastkey-0f9c2d7e51ab4c38"
KEYRING_NAME = "vast-test-key"


def offers() -> list[dict[str, object]]:
    """The market the server offers: two RTX 4090 offers, a small-disk RTX 3090, an 8x H100."""
    return [
        offer(101, "RTX 4090", 1, 0.45),
        offer(102, "RTX 4090", 2, 0.95, reliability=0.97),
        offer(103, "RTX 3090", 1, 0.20, disk_space=50.0),
        offer(104, "H100 SXM", 8, 18.5),
    ]


@pytest.fixture
async def vast() -> AsyncIterator[VastServer]:
    """The local Vast.ai API on 127.0.0.1, stopped at the end of the test."""
    server = VastServer(api_key=API_KEY, offers=offers())
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def vq(data_dir: Path, vast: VastServer, secret_service: object) -> AsyncIterator[TaskQueue]:
    """A queue with the vast executors only, its settings pointing at `vast`, polling fast, and
    the API key in the keyring; approval off unless a test turns it on."""
    await asyncio.to_thread(KeyringVault().set, KEYRING_NAME, API_KEY)
    registry = ExecutorRegistry()
    for executor in vast_executors():
        registry.register(executor)
    settings = {
        "vast_api_url": vast.url,
        "vast_keyring_name": KEYRING_NAME,
        "vast_poll_interval_s": 0.01,
        "vast_request_timeout_s": 10.0,
        "vast_require_approval": False,
    }
    async with TaskQueue(
        data_dir, registry=registry, max_concurrent=4, executor_settings=settings
    ) as queue:
        yield queue
