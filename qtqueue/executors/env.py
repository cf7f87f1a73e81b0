"""Environment variables whose values name OS-keyring credentials ("keyring:NAME").

Shared by the executors that start processes and by the engine's crash recovery, which
re-resolves a command's environment when it adopts it.
"""

from __future__ import annotations

import logging

from qtqueue.executors.base import RunContext

logger = logging.getLogger(__name__)

__all__ = ["KEYRING_PREFIX", "check_env", "resolve_env"]

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
