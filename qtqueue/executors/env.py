"""The environment of the processes the engine runs: what the engine sets in every one
(`engine_env`: the task's id and the data directory, so `qtqueue ask` inside reaches the engine
and names its task), and variables whose values name OS-keyring credentials ("keyring:NAME").

Shared by the executors that start processes and by the engine's crash recovery, which
re-resolves a command's environment when it adopts it.
"""

from __future__ import annotations

import logging

from qtqueue.config import ENV_DATA_DIR
from qtqueue.executors.base import RunContext

logger = logging.getLogger(__name__)

__all__ = [
    "ENV_DATA_DIR",
    "ENV_TASK_ID",
    "KEYRING_PREFIX",
    "check_env",
    "engine_env",
    "resolve_env",
]

#: Set by the engine in every process it runs: the id of the task the process belongs to.
ENV_TASK_ID = "QTQUEUE_TASK_ID"

#: An `env` value "keyring:NAME" is the credential NAME, read from the OS keyring at start.
KEYRING_PREFIX = "keyring:"


def check_env(env: dict[str, str]) -> dict[str, str]:
    """`env` unchanged; a "keyring:" value without a plain credential name raises ValueError
    (a params model's field validator)."""
    for key, value in env.items():
        if value.startswith(KEYRING_PREFIX):
            name = value[len(KEYRING_PREFIX) :]
            if not name or name != name.strip():
                raise ValueError(
                    f"{key}: {KEYRING_PREFIX!r} must be followed by a credential's name, "
                    "without surrounding spaces"
                )
    return env


def engine_env(ctx: RunContext) -> dict[str, str]:
    """What the engine sets in the environment of every process a task runs: its task's id
    ($QTQUEUE_TASK_ID) and the engine's data directory ($QTQUEUE_DATA_DIR), which is how
    `qtqueue ask` run by the process finds its task and the engine. They override the same
    names in the task's own `env`."""
    return {ENV_TASK_ID: ctx.task.id, ENV_DATA_DIR: ctx.data_dir}


async def resolve_env(ctx: RunContext, env: dict[str, str]) -> dict[str, str]:
    """`env` with each "keyring:NAME" value replaced by the credential NAME from the OS
    keyring (through `ctx.credential`, so it is masked in the log and in everything stored
    about the task). The params keep the reference, never the secret. A missing credential
    raises QueueError CREDENTIAL_NOT_FOUND before anything is started."""
    resolved = dict(env)
    for key, value in env.items():
        if value.startswith(KEYRING_PREFIX):
            resolved[key] = await ctx.credential(value[len(KEYRING_PREFIX) :])
    return resolved
