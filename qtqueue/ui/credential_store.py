"""The OS keyring as the desktop app sees it: one worker thread, answers as Qt signals.

Every keyring call may block (D-Bus, an unlock prompt), so `CredentialStore` hands each one to
a single worker thread — in order, like aiosqlite's connection thread — and reports the result
on the GUI thread through a signal. Values pass through only `save` and `reveal`; they are never
logged, cached or put in a message.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot

from qtqueue.core.errors import QueueError
from qtqueue.engine.credentials import KeyringCredentials, KeyringVault

logger = logging.getLogger(__name__)

_Done = Callable[[Any], None]


class CredentialStore(QObject):
    """Named credentials in the OS keyring, for widgets.

    Call `refresh()` first: it checks the backend (`availabilityChanged`) and then lists the
    names (`namesChanged`). `save`, `delete` and `reveal` answer with `saved`, `deleted` and
    `revealed`, or with `failed(action, message)`. `close()` stops the worker thread.
    """

    availabilityChanged = Signal(bool, str)
    """(usable, why not) — the reason is empty when usable."""
    namesChanged = Signal(list)
    """The sorted credential names."""
    saved = Signal(str)
    """A credential (by name) was stored."""
    deleted = Signal(str)
    """A credential (by name) was removed."""
    revealed = Signal(str, str)
    """(name, value): the answer to `reveal`, for a widget that shows it on request."""
    failed = Signal(str, str)
    """(action, message) — the message never holds a value."""
    busyChanged = Signal(bool)
    """Work is (or is no longer) waiting on the keyring."""

    # Carries a finished job from the worker thread to the GUI thread (a queued connection).
    _finished = Signal(str, object, object)

    def __init__(
        self,
        vault: KeyringVault | KeyringCredentials | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        if isinstance(vault, KeyringCredentials):
            vault = vault.vault
        self.vault = vault if vault is not None else KeyringVault()
        self._pool: ThreadPoolExecutor | None = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="qtqueue-keyring"
        )
        self._pending = 0
        self._names: list[str] = []
        self._available: bool | None = None
        self._reason = ""
        self._finished.connect(self._on_finished)

    # ------------------------------------------------------------------ state

    def names(self) -> list[str]:
        """The names from the last refresh (values are never kept)."""
        return list(self._names)

    def available(self) -> bool | None:
        """Whether the keyring can be used; None until the first check has answered."""
        return self._available

    def unavailable_reason(self) -> str:
        return self._reason

    def busy(self) -> bool:
        return self._pending > 0

    # ------------------------------------------------------------------ requests

    def refresh(self) -> None:
        """Check the backend, then reload the names."""

        self._submit("refresh", self.vault.state, self._refreshed)

    def save(self, name: str, value: str | None, *, replacing: str | None = None) -> None:
        """Store `value` under `name`. With `replacing`, the credential of that name is moved
        to `name` (keeping its value when `value` is None)."""
        vault = self.vault

        def work() -> str:
            if replacing is not None and (replacing != name or value is None):
                vault.rename(replacing, name, value)
            else:
                if value is None:
                    raise QueueError("VALIDATION_MISSING_REQUIRED", "a credential needs a value")
                vault.set(name, value)
            return name

        self._submit("save", work, self._saved)

    def delete(self, name: str) -> None:
        """Remove the credential `name`."""

        def work() -> str:
            self.vault.delete(name)
            return name

        self._submit("delete", work, self._deleted)

    def reveal(self, name: str) -> None:
        """Read one value, for a widget whose user asked to see it."""

        def work() -> tuple[str, str]:
            value = self.vault.get(name)
            if value is None:
                raise QueueError("CREDENTIAL_NOT_FOUND", f"no credential named {name!r}")
            return name, value

        self._submit("reveal", work, lambda pair: self.revealed.emit(*pair))

    def close(self) -> None:
        """Finish the queued calls and stop the worker thread."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)

    # ------------------------------------------------------------------ plumbing

    def _submit(self, action: str, work: Callable[[], Any], done: _Done) -> None:
        if self._pool is None:
            self.failed.emit(action, "the credential store is closed")
            return
        self._pending += 1
        if self._pending == 1:
            self.busyChanged.emit(True)
        future = self._pool.submit(work)
        future.add_done_callback(lambda f: self._finished.emit(action, f, done))

    @Slot(str, object, object)
    def _on_finished(self, action: str, future: Future[Any], done: _Done) -> None:
        self._pending -= 1
        try:
            exc = future.exception()
            if exc is None:
                done(future.result())
            else:
                message = str(exc) if isinstance(exc, QueueError) else type(exc).__name__
                if not isinstance(exc, QueueError):
                    logger.error("keyring %s failed: %s", action, type(exc).__name__)
                self.failed.emit(action, message)
        finally:
            if self._pending == 0:
                self.busyChanged.emit(False)

    def _refreshed(self, answer: tuple[bool, str, list[str]]) -> None:
        usable, reason, names = answer
        self._available, self._reason = usable, reason
        self.availabilityChanged.emit(usable, reason)
        self._names = list(names)
        self.namesChanged.emit(self.names())

    def _saved(self, name: str) -> None:
        self.saved.emit(name)
        self.refresh()

    def _deleted(self, name: str) -> None:
        self.deleted.emit(name)
        self.refresh()
