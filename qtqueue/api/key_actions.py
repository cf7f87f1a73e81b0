"""The API key's action: `rotate_api_key`, run in the engine so that its HTTP server takes the
new key at once (`qtqueue token rotate` sends it there when an engine runs).

The key lives in the OS keyring (`qtqueue.api.keys`); the reply carries the new key back to
the caller of the local API (a socket only the data directory's owner can open).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from pydantic import Field

from qtqueue.api.keys import ApiKey, ApiKeys
from qtqueue.api.messages import Message
from qtqueue.api.params import Params, parse_params
from qtqueue.engine.queue import TaskQueue

logger = logging.getLogger(__name__)

__all__ = ["KEY_ACTIONS", "ApiKeyReply", "RotateKeyParams", "rotate_api_key"]


class RotateKeyParams(Params):
    """`rotate_api_key`: the new key's name (else the old key's) and expiry (else none)."""

    name: str | None = Field(None, description="who holds the key (recorded as created_by)")
    expires_at: float | None = Field(None, description="UNIX time the key stops working")


class ApiKeyReply(Message):
    """A key as the keyring now holds it."""

    key: str
    name: str
    created_at: float
    expires_at: float | None

    @classmethod
    def of(cls, key: ApiKey) -> ApiKeyReply:
        """The reply for `key`."""
        return cls(
            key=key.secret, name=key.name, created_at=key.created_at, expires_at=key.expires_at
        )


async def rotate_api_key(queue: TaskQueue, params: dict[str, Any]) -> dict[str, Any]:
    """Replace the data directory's API key; the engine's HTTP server accepts only the new
    one from now on."""
    p = parse_params(RotateKeyParams, "rotate_api_key", params)
    keys = ApiKeys(queue.data_dir)
    key = await asyncio.to_thread(keys.rotate, name=p.name, expires_at=p.expires_at)
    return ApiKeyReply.of(key).dump()


#: The key actions by name.
KEY_ACTIONS = {"rotate_api_key": rotate_api_key}
