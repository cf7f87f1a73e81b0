"""Named secrets, held only in the OS keyring (through `keyring`)."""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

from qtqueue.core.errors import QueueError, TaskErrorCode

logger = logging.getLogger(__name__)

SERVICE = "qtqueue"


class CredentialStore(Protocol):
    """Where executors get secrets by name."""

    async def get(self, name: str) -> str:
        """The secret, or QueueError CREDENTIAL_NOT_FOUND / CREDENTIAL_BACKEND_UNAVAILABLE."""


class KeyringCredentials:
    """Secrets in the OS keyring under service "qtqueue" (or another). Blocking calls run in
    a worker thread; `keyring` is imported on first use, not at start-up."""

    def __init__(self, service: str = SERVICE) -> None:
        self.service = service

    async def get(self, name: str) -> str:
        def lookup() -> str | None:
            import keyring
            import keyring.errors

            try:
                return keyring.get_password(self.service, name)
            except keyring.errors.KeyringError as exc:
                raise QueueError(
                    TaskErrorCode.CREDENTIAL_BACKEND_UNAVAILABLE,
                    f"the OS keyring cannot be used: {type(exc).__name__}",
                ) from None

        value = await asyncio.to_thread(lookup)
        if value is None:
            raise QueueError(
                TaskErrorCode.CREDENTIAL_NOT_FOUND,
                f"no credential named {name!r} in the keyring",
                credential=name,
            )
        return value
