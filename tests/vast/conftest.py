"""The Vast.ai tests' own fixtures: the local API server (vast_server.py), a queue with the vast
executors whose settings point at it, and the API key in the real OS keyring."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from vast_server import API_KEY, KEYRING_NAME, VastServer, offers

from qtqueue.engine.credentials import KeyringVault
from qtqueue.engine.queue import TaskQueue
from qtqueue.executors import ExecutorRegistry
from qtqueue.families.vast import vast_executors


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
