"""The github tests' environment: a queue with the github executors whose token is in a real
Secret Service, a local GitHub REST API (github_api_server.py) and git's own smart HTTP server
(git_server.py), each started and stopped by the test that uses it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest
from git_server import GitServer, git_server
from github_api_server import GitHubApiServer, github_api_server

from qtqueue.core.task import Task
from qtqueue.engine.credentials import KeyringVault
from qtqueue.engine.queue import TaskQueue
from qtqueue.executors import ExecutorRegistry
from qtqueue.families.github import github_executors

#: The token the servers accept, kept in the keyring under the settings' default entry.
TOKEN = "ghp_T0kenOfTheTests5e0a19c4"
#: A token the servers refuse, kept under WRONG_ENTRY.
WRONG_TOKEN = "ghp_Wr0ngTokenOfTheTests7d21"
WRONG_ENTRY = "github_wrong"
LOGIN = "octo"
GIT_USER = "x-access-token"


@pytest.fixture
async def gq(data_dir: Path, secret_service: object) -> AsyncIterator[TaskQueue]:
    """A queue with the github executors only; the keyring holds TOKEN as `github_token` (the
    settings' default entry) and WRONG_TOKEN as WRONG_ENTRY."""
    vault = KeyringVault()
    await asyncio.to_thread(vault.set, "github_token", TOKEN)
    await asyncio.to_thread(vault.set, WRONG_ENTRY, WRONG_TOKEN)
    registry = ExecutorRegistry()
    for executor in github_executors():
        registry.register(executor)
    async with TaskQueue(data_dir, registry=registry, max_concurrent=4) as queue:
        yield queue


@pytest.fixture
async def api() -> AsyncIterator[GitHubApiServer]:
    """The local GitHub REST API; TOKEN is LOGIN's, and LOGIN belongs to the `acme` org."""
    async with github_api_server() as server:
        server.tokens[TOKEN] = LOGIN
        server.orgs.add("acme")
        yield server


@pytest.fixture
async def git_http(gq: TaskQueue, tmp_path: Path) -> AsyncIterator[GitServer]:
    """git's smart HTTP server over `tmp_path/repos`, for GIT_USER with TOKEN; `gq`'s settings
    name it as the GitHub git URL (the only host git is given the token for)."""
    root = tmp_path / "repos"
    root.mkdir()
    async with git_server(root, GIT_USER, TOKEN) as server:
        gq.executor_settings["github_git_url"] = server.url
        yield server


async def assert_tokens_never_shown(
    queue: TaskQueue, tasks: Sequence[Task], data_dir: Path
) -> None:
    """Neither token is in what the tasks show (error, details, result, params, log), nor, once
    the queue is closed, in any file of its data directory."""
    secrets = (TOKEN, WRONG_TOKEN)
    for task in tasks:
        shown = json.dumps([task.error, task.error_details, task.result, task.params])
        log = await queue.read_log(task.id)
        assert not [s for s in secrets if s in shown or s in log], task.id
    await queue.close()  # everything it wrote is on disk now
    for path in data_dir.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert not [s for s in secrets if s.encode() in data], path
