"""Which object qtqueue's password calls go to: keyring's own Secret Service backend is swapped
for one that keeps its D-Bus connection (`storage.secret_service` says why); any other backend
is used as it is. Kept here, apart from keyring and secretstorage, so that importing it costs
nothing: they are imported only once a Secret Service backend is in use."""

from __future__ import annotations

import threading
import weakref
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from keyring.backend import KeyringBackend


class Passwords(Protocol):
    """The three calls of a keyring backend qtqueue makes."""

    def get_password(self, service: str, username: str) -> str | None: ...

    def set_password(self, service: str, username: str, password: str) -> None: ...

    def delete_password(self, service: str, username: str) -> None: ...


_kept_lock = threading.Lock()
_kept: weakref.WeakKeyDictionary[KeyringBackend, Passwords] = weakref.WeakKeyDictionary()


def passwords(backend: KeyringBackend) -> Passwords:
    """`backend` for password calls: keyring's own Secret Service backend on one kept D-Bus
    connection (`storage.secret_service` says why), any other backend as it is."""
    if type(backend).__module__ != "keyring.backends.SecretService":
        return backend
    from qtqueue.storage.secret_service import SharedSecretService

    with _kept_lock:
        kept = _kept.get(backend)
        if kept is None:
            shared = SharedSecretService(backend)  # type: ignore[arg-type]
            weakref.finalize(backend, shared.close)
            kept = _kept[backend] = shared
    return kept


def close_kept_connections() -> None:
    """Close the connections `passwords` keeps (a later call opens a new one)."""
    with _kept_lock:
        kept = list(_kept.values())
    for shared in kept:
        close = getattr(shared, "close", None)
        if close is not None:
            close()
