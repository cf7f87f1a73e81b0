"""Named secrets, held only in the OS keyring (through `keyring`).

The keyring cannot list its entries, so the names (never the values) are kept in the keyring
too: a JSON list under the same service and the username `INDEX_USERNAME`. Nothing about a
credential lands on disk outside the keyring.

`KeyringVault` is the blocking layer (every call may be a D-Bus round trip or an unlock
prompt): call it from a worker thread. `KeyringCredentials` is the engine's asyncio face of it;
the desktop app wraps the same vault for Qt in `qtqueue.ui.credential_store`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from typing import TYPE_CHECKING, Protocol

from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.storage.passwords import Passwords, passwords

if TYPE_CHECKING:
    from keyring.backend import KeyringBackend

logger = logging.getLogger(__name__)

SERVICE = "qtqueue"
#: The keyring username under which the JSON list of credential names is kept.
INDEX_USERNAME = "__index__"
#: The longest credential name accepted.
MAX_NAME_LENGTH = 200


class CredentialStore(Protocol):
    """Where executors get secrets by name."""

    async def get(self, name: str) -> str:
        """The secret, or QueueError CREDENTIAL_NOT_FOUND / CREDENTIAL_BACKEND_UNAVAILABLE."""


def check_name(name: str) -> str:
    """`name` if it can name a credential; QueueError VALIDATION_INVALID_PARAMS if not.

    A name is 1–200 printable characters without surrounding spaces, and not the index's own
    username.
    """
    problem = None
    if not name or not name.strip():
        problem = "a credential needs a name"
    elif name != name.strip():
        problem = "a credential name cannot start or end with a space"
    elif len(name) > MAX_NAME_LENGTH:
        problem = f"a credential name is at most {MAX_NAME_LENGTH} characters"
    elif not name.isprintable():
        problem = "a credential name cannot contain control characters"
    elif name == INDEX_USERNAME:
        problem = f"{INDEX_USERNAME!r} is reserved"
    if problem is not None:
        raise QueueError(TaskErrorCode.VALIDATION_INVALID_PARAMS, problem, credential=name)
    return name


def unusable_reason(backend: KeyringBackend) -> str | None:
    """Why `backend` must not hold qtqueue's secrets, or None if it may.

    Refused: no backend at all (keyring's fail backend, the null backend, an empty chain), and
    file backends that keep secrets unencrypted (keyrings.alt's PlaintextKeyring) or that ask
    for a master password on a terminal, which a desktop app cannot show.
    """
    from keyring.backends import chainer, fail, null

    if isinstance(backend, chainer.ChainerBackend):
        chain = list(backend.backends)
        if not chain:
            return _NO_BACKEND
        backend = chain[0]  # writes go to the first backend of the chain
    if isinstance(backend, fail.Keyring):
        return _NO_BACKEND
    if isinstance(backend, null.Keyring):
        return "The keyring is switched off (keyring's null backend is configured)."
    cls = type(backend)
    where = f"{cls.__module__}.{cls.__qualname__}"
    if "plaintext" in cls.__name__.lower():
        return (
            f"The configured keyring backend ({where}) stores secrets unencrypted in a file; "
            "qtqueue will not write credentials there. Configure a Secret Service (GNOME "
            "Keyring, KWallet), macOS Keychain or Windows Credential Manager instead."
        )
    if cls.__module__.startswith("keyrings.alt.file"):
        return (
            f"The configured keyring backend ({where}) asks for its password on a terminal, "
            "which a desktop application cannot show. Configure a Secret Service (GNOME "
            "Keyring, KWallet), macOS Keychain or Windows Credential Manager instead."
        )
    return None


_NO_BACKEND = (
    "No OS keyring is available, so credentials cannot be stored. Install and unlock a "
    "Secret Service provider (GNOME Keyring or KWallet) — or use macOS Keychain or Windows "
    "Credential Manager — then reopen this window."
)


def _unavailable(exc: Exception) -> QueueError:
    # The exception's text, never a value: keyring errors carry no secrets.
    return QueueError(
        TaskErrorCode.CREDENTIAL_BACKEND_UNAVAILABLE,
        f"the OS keyring cannot be used: {type(exc).__name__}: {exc}".rstrip(": "),
    )


class KeyringVault:
    """Named secrets in the OS keyring under one service, and the index of their names.

    Every method blocks (the keyring may talk D-Bus or prompt to unlock): call them from a
    worker thread. `backend` pins a keyring backend; by default the one `keyring` is configured
    with is looked up on each call. Read failures and writes to an unusable backend raise
    QueueError CREDENTIAL_BACKEND_UNAVAILABLE; values never appear in messages or logs.
    """

    def __init__(self, service: str = SERVICE, backend: KeyringBackend | None = None) -> None:
        self.service = service
        self._pinned = backend
        # Serialises the index's read-modify-write within this process.
        self._index_lock = threading.Lock()

    def backend(self) -> KeyringBackend:
        """The keyring backend in use."""
        if self._pinned is not None:
            return self._pinned
        import keyring

        return keyring.get_keyring()

    def check(self) -> tuple[bool, str]:
        """(True, "") if credentials can be stored and read; else (False, why, for a human)."""
        usable, reason, _names = self.state()
        return usable, reason

    def state(self) -> tuple[bool, str, list[str]]:
        """`check()` and `names()` in one keyring round trip: (usable, why not, names).

        Each keyring call is a new Secret Service connection, and gnome-keyring has a race
        that can abort the daemon on short connect-read-disconnect cycles, so callers that
        refresh often should ask once.
        """
        import keyring.errors

        backend = self.backend()
        reason = unusable_reason(backend)
        if reason is not None:
            return False, reason, []
        try:
            raw = passwords(backend).get_password(self.service, INDEX_USERNAME)
        except keyring.errors.KeyringError as exc:
            return False, f"The OS keyring did not answer ({type(exc).__name__}: {exc}).", []
        return True, "", self._parse_index(raw)

    def get(self, name: str) -> str | None:
        """The secret stored under `name`, or None."""
        import keyring.errors

        try:
            return passwords(self.backend()).get_password(self.service, name)
        except keyring.errors.KeyringError as exc:
            raise _unavailable(exc) from None

    def names(self) -> list[str]:
        """The names of the stored credentials, sorted."""
        import keyring.errors

        try:
            raw = passwords(self.backend()).get_password(self.service, INDEX_USERNAME)
        except keyring.errors.KeyringError as exc:
            raise _unavailable(exc) from None
        return self._parse_index(raw)

    def set(self, name: str, value: str) -> None:
        """Store (or replace) the secret `value` under `name`."""
        import keyring.errors

        check_name(name)
        backend = self._writable()
        try:
            backend.set_password(self.service, name, value)
            with self._index_lock:
                names = self._parse_index(backend.get_password(self.service, INDEX_USERNAME))
                if name not in names:
                    self._write_index(backend, [*names, name])
        except keyring.errors.KeyringError as exc:
            raise _unavailable(exc) from None
        logger.info("credential %r stored in the keyring", name)

    def delete(self, name: str) -> bool:
        """Remove the credential `name`; False if there was none (nor an index entry)."""
        import keyring.errors

        backend = self._writable()
        existed = True
        try:
            try:
                backend.delete_password(self.service, name)
            except keyring.errors.PasswordDeleteError:
                existed = False
            with self._index_lock:
                names = self._parse_index(backend.get_password(self.service, INDEX_USERNAME))
                if name in names:
                    existed = True
                    self._write_index(backend, [n for n in names if n != name])
        except keyring.errors.KeyringError as exc:
            raise _unavailable(exc) from None
        if existed:
            logger.info("credential %r deleted from the keyring", name)
        return existed

    def rename(self, old: str, new: str, value: str | None = None) -> None:
        """Move credential `old` to `new`, with a new `value` if given (else the old one)."""
        check_name(new)
        if value is None:
            value = self.get(old)
            if value is None:
                raise QueueError(
                    TaskErrorCode.CREDENTIAL_NOT_FOUND,
                    f"no credential named {old!r} in the keyring",
                    credential=old,
                )
        self.set(new, value)
        if new != old:
            self.delete(old)

    def _writable(self) -> Passwords:
        backend = self.backend()
        reason = unusable_reason(backend)
        if reason is not None:
            raise QueueError(TaskErrorCode.CREDENTIAL_BACKEND_UNAVAILABLE, reason)
        return passwords(backend)

    def _write_index(self, backend: Passwords, names: list[str]) -> None:
        backend.set_password(self.service, INDEX_USERNAME, json.dumps(sorted(set(names))))

    @staticmethod
    def _parse_index(raw: str | None) -> list[str]:
        if not raw:
            return []
        try:
            data = json.loads(raw)
        except ValueError:
            logger.warning("the keyring's credential index is not JSON; treating it as empty")
            return []
        if not isinstance(data, list):
            logger.warning("the keyring's credential index is not a list; treating it as empty")
            return []
        return sorted({n for n in data if isinstance(n, str) and n != INDEX_USERNAME})


class KeyringCredentials:
    """Secrets in the OS keyring under service "qtqueue" (or another), for asyncio callers.

    Each call runs the blocking `KeyringVault` in a worker thread; `keyring` is imported on
    first use, not at start-up.
    """

    def __init__(self, service: str = SERVICE, *, vault: KeyringVault | None = None) -> None:
        self.vault = vault if vault is not None else KeyringVault(service)
        self.service = self.vault.service

    async def get(self, name: str) -> str:
        """The secret, or QueueError CREDENTIAL_NOT_FOUND / CREDENTIAL_BACKEND_UNAVAILABLE."""
        value = await asyncio.to_thread(self.vault.get, name)
        if value is None:
            raise QueueError(
                TaskErrorCode.CREDENTIAL_NOT_FOUND,
                f"no credential named {name!r} in the keyring",
                credential=name,
            )
        return value

    async def names(self) -> list[str]:
        """The names of the stored credentials, sorted (values are never listed)."""
        return await asyncio.to_thread(self.vault.names)

    async def set(self, name: str, value: str) -> None:
        """Store (or replace) a credential; refuses a backend that would keep it in the clear."""
        await asyncio.to_thread(self.vault.set, name, value)

    async def delete(self, name: str) -> bool:
        """Remove a credential; False if there was none."""
        return await asyncio.to_thread(self.vault.delete, name)

    async def available(self) -> tuple[bool, str]:
        """(True, "") if credentials can be stored; else (False, a reason to show the user)."""
        return await asyncio.to_thread(self.vault.check)
