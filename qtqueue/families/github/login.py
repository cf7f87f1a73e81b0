"""Which token a GitHub task uses: read from the OS keyring at run time, never stored."""

from __future__ import annotations

import logging

from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.executors.base import RunContext
from qtqueue.families.github.settings import GitHubSettings

logger = logging.getLogger(__name__)

__all__ = ["github_token"]


async def github_token(ctx: RunContext, credential: str | None) -> str | None:
    """The token from the OS keyring: the named entry (it must exist), else the settings' entry
    (missing: None, anonymous access, said in the log)."""
    if credential:
        return await ctx.credential(credential)
    entry = ctx.family_settings(GitHubSettings).github_keyring_entry
    try:
        return await ctx.credential(entry)
    except QueueError as exc:
        if exc.code != TaskErrorCode.CREDENTIAL_NOT_FOUND:
            raise
    ctx.log(f"[github] no keyring entry {entry!r}: anonymous access")
    return None
