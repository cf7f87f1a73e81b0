"""Specification: an `env` value "keyring:NAME" of a command or script task is the credential
NAME from the OS keyring, read when the task starts. The command sees the secret; the store,
the log and everything shown about the task hold only the reference (the secret is masked
where the command prints it). A missing credential fails the task with CREDENTIAL_NOT_FOUND
and nothing is run. A real Secret Service (gnome-keyring on a private D-Bus), real commands."""

from __future__ import annotations

import asyncio
import json
import shlex
from pathlib import Path
from typing import Any

import pytest
from helpers.queues import QueueFactory

from qtqueue.api.views import task_summary
from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.core.task import Task, TaskStatus, TaskType
from qtqueue.engine.credentials import KeyringVault
from qtqueue.engine.logs import REDACTED

C = TaskErrorCode
S = TaskStatus
SECRET = "tok-8c1f-not-for-disk"


def stored_bytes(data_dir: Path) -> bytes:
    """Everything the engine wrote under its data directory: the store, its WAL, the logs."""
    return b"".join(p.read_bytes() for p in data_dir.rglob("*") if p.is_file())


def token_command(seen: Path, **fields: Any) -> Task:
    """A real command that hands $TOKEN to the test (through a file of the test's own,
    outside the data directory) and prints it, as a careless script would."""
    line = f'printf %s "$TOKEN" > {shlex.quote(str(seen))}; echo "token is $TOKEN"'
    return Task(
        TaskType.CUSTOM_COMMAND,
        {"command": line, "shell": True, "env": {"TOKEN": "keyring:deploy-token"}},
        **fields,
    )


@pytest.mark.usefixtures("secret_service")
async def test_a_keyring_env_value_reaches_the_command_and_nowhere_else(
    make_queue: QueueFactory, data_dir: Path, tmp_path: Path
) -> None:
    await asyncio.to_thread(KeyringVault().set, "deploy-token", SECRET)
    queue = await make_queue()
    seen = tmp_path / "seen"
    done = await queue.wait_for(await queue.add_task(token_command(seen)), timeout_s=20)

    assert done.status is S.COMPLETED, done.error
    assert seen.read_text() == SECRET  # the command got the secret itself
    assert done.params["env"] == {"TOKEN": "keyring:deploy-token"}  # only the reference
    log = await queue.read_log(done.id)
    assert f"token is {REDACTED}" in log and SECRET not in log
    summary = await task_summary(queue, done.id)
    assert SECRET not in json.dumps([summary, done.to_dict()], default=str)
    await queue.close()
    assert SECRET.encode() not in stored_bytes(data_dir)


@pytest.mark.usefixtures("secret_service")
async def test_a_failing_command_that_prints_its_keyring_token_leaks_it_nowhere(
    make_queue: QueueFactory, data_dir: Path
) -> None:
    await asyncio.to_thread(KeyringVault().set, "deploy-token", SECRET)
    queue = await make_queue()
    task = Task(
        TaskType.CUSTOM_COMMAND,
        {"command": 'echo "bad token $TOKEN" >&2; exit 4', "shell": True,
         "env": {"TOKEN": "keyring:deploy-token"}},
        max_retries=0,
    )  # fmt: skip
    done = await queue.wait_for(await queue.add_task(task), timeout_s=20)
    assert (done.status, done.error_details["exit_code"]) == (S.FAILED, 4)
    assert f"bad token {REDACTED}" in json.dumps(done.error_details)
    assert SECRET not in json.dumps([done.to_dict(), await queue.read_log(done.id)])
    await queue.close()
    assert SECRET.encode() not in stored_bytes(data_dir)


@pytest.mark.usefixtures("secret_service")
async def test_a_missing_keyring_credential_fails_the_task_unrun_and_unretried(
    make_queue: QueueFactory, tmp_path: Path
) -> None:
    queue = await make_queue()
    seen = tmp_path / "seen"
    done = await queue.wait_for(
        await queue.add_task(token_command(seen, max_retries=2)), timeout_s=20
    )
    assert (done.status, done.error_code) == (S.FAILED, C.CREDENTIAL_NOT_FOUND)
    assert "deploy-token" in (done.error or "")
    assert done.retry_count == 0  # no retry can fix it: the credential must be added first
    assert not seen.exists()  # the command never ran


@pytest.mark.parametrize("value", ["keyring:", "keyring: spaced"])
async def test_a_keyring_reference_without_a_name_is_refused_when_added(
    make_queue: QueueFactory, value: str
) -> None:
    queue = await make_queue()
    task = Task(TaskType.CUSTOM_COMMAND, {"command": "true", "env": {"TOKEN": value}})
    with pytest.raises(QueueError) as refused:
        await queue.add_task(task)
    assert refused.value.code is C.VALIDATION_INVALID_PARAMS
    assert "credential" in refused.value.message
    assert await queue.list_tasks() == []
