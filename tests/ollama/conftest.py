"""The Ollama tests' own fixtures: the suite's local server speaking Ollama's API
(ollama_server.py), and a queue whose settings point the ollama family at it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from ollama_server import LibraryModel, OllamaServer

from qtqueue.engine.queue import TaskQueue
from qtqueue.executors import ExecutorRegistry
from qtqueue.families.ollama import family


@pytest.fixture
async def ollama() -> AsyncIterator[OllamaServer]:
    """A fresh local Ollama API on 127.0.0.1 (in this process, stopped after the test), with
    a registry to pull from and two installed models."""
    server = OllamaServer(
        library={
            "smollm2:135m": LibraryModel("smollm2:135m", [60_000, 20_000, 1_000]),
            "tiny:1b": LibraryModel("tiny:1b", [9_000]),
            "vanishing:1b": LibraryModel("vanishing:1b", [90_000]),
        },
    )
    for name in ("llama3.2:latest", "nomic-embed-text:latest", "broken:latest", "crashing:latest"):
        server.installed[name] = LibraryModel(
            name, [2_000_000_000 if "llama" in name else 274_000_000]
        )
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def oq(data_dir: Path, ollama: OllamaServer) -> AsyncIterator[TaskQueue]:
    """A queue with the ollama family only, its settings naming the local server."""
    registry = ExecutorRegistry()
    registry.add_family(family)
    async with TaskQueue(
        data_dir,
        registry=registry,
        max_concurrent=4,
        executor_settings={"ollama_host": ollama.url, "ollama_read_timeout_s": 10.0},
    ) as queue:
        yield queue
