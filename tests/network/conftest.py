"""The network tests' own fixtures: a queue with the network family only, and servers on
127.0.0.1 (network_env.py) the tests start and stop."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from network_env import HttpServer, Namespace, make_certificate

from qtqueue.engine.queue import TaskQueue
from qtqueue.executors import ExecutorRegistry
from qtqueue.families.network import family


@pytest.fixture
async def nq(data_dir: Path) -> AsyncIterator[TaskQueue]:
    """A queue with the network family only."""
    registry = ExecutorRegistry()
    registry.add_family(family)
    async with TaskQueue(data_dir, registry=registry, max_concurrent=4) as queue:
        yield queue


@pytest.fixture
async def http_server() -> AsyncIterator[HttpServer]:
    """A plain HTTP server on 127.0.0.1 (started and stopped by the test)."""
    server = await HttpServer().start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture(scope="session")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    """Self-signed certificates for 127.0.0.1: 'valid' (30 days) and 'expired'."""
    pytest.importorskip("cryptography")
    where = tmp_path_factory.mktemp("certs")
    return {
        "valid": make_certificate(where, days_valid=30),
        "expired": make_certificate(where, expired=True),
    }


@pytest.fixture
def namespace() -> Iterator[Namespace]:
    """A network namespace of the test's own, joined to this one by a veth pair (deleted after
    the test); skipped where namespaces cannot be made (not root, no iproute2)."""
    why = Namespace.available()
    if why is not None:
        pytest.skip(why)
    ns = Namespace().open()
    try:
        yield ns
    finally:
        ns.close()
