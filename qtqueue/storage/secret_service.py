"""keyring's Secret Service backend over one kept connection, instead of one per call.

keyring's `SecretService.Keyring` opens a D-Bus connection for every call, opens a new
encryption session on it for every item it reads, and closes it. gnome-keyring (42 here, 50
upstream) has a race on a new client's first requests: now and then the daemon finds no client
record for the caller and aborts, taking the user's whole keyring down ("gkd_secret_service_
get_pkcs11_session: assertion 'client' failed"; GNOME/gnome-keyring issues 190, 196 and 199).
A window that reads its credentials on every refresh would do that to its user's desktop.

`SharedSecretService` speaks to the same daemon the way the stock backend does (same items, same
attributes, same collection), but keeps one connection and one session, used under a lock by
whichever thread calls, so the daemon sees one new client per process. A call that fails on a
connection made earlier is tried once more on a new one (the daemon may have restarted since),
and a connection that failed is never used again. Failures are raised as keyring's InitError,
which every caller already reports with its code and fix.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, TypeVar

import keyring.errors
import secretstorage
from jeepney.wrappers import DBusErrorResponse  # type: ignore[import-untyped]
from keyring.backends.SecretService import Keyring as StockSecretService
from keyring.credentials import SimpleCredential
from secretstorage.exceptions import SecretStorageException
from secretstorage.util import open_session

if TYPE_CHECKING:
    from jeepney.io.blocking import DBusConnection  # type: ignore[import-untyped]
    from secretstorage.collection import Collection
    from secretstorage.dhcrypto import Session
    from secretstorage.item import Item

T = TypeVar("T")

#: What a broken connection or a daemon that went away raises from secretstorage and jeepney.
_BROKEN = (SecretStorageException, DBusErrorResponse, OSError, EOFError, TimeoutError)


class SharedSecretService:
    """The password calls of keyring's Secret Service backend `stock`, on one kept connection
    (see the module docstring). `close()` ends the connection; a later call opens a new one."""

    def __init__(self, stock: StockSecretService) -> None:
        self.stock = stock
        self._lock = threading.Lock()
        self._connection: DBusConnection | None = None
        self._session: Session | None = None
        self._address: str | None = None

    # ------------------------------------------------------------------ keyring's calls

    def get_password(self, service: str, username: str) -> str | None:
        def read(collection: Collection) -> str | None:
            for item in collection.search_items(self.stock._query(service, username)):
                return self._secret(item)
            return None

        return self._with_collection(read)

    def set_password(self, service: str, username: str, password: str) -> None:
        attributes = self.stock._query(service, username, application=self.stock.appid)
        label = f"Password for '{username}' on '{service}'"
        self._with_collection(
            lambda c: c.create_item(label, attributes, password.encode(), replace=True)
        )

    def delete_password(self, service: str, username: str) -> None:
        def delete(collection: Collection) -> bool:
            for item in collection.search_items(self.stock._query(service, username)):
                item.delete()
                return True
            return False

        if not self._with_collection(delete):
            raise keyring.errors.PasswordDeleteError("No such password!")

    def get_credential(self, service: str, username: str | None) -> SimpleCredential | None:
        scheme = self.stock.schemes[self.stock.scheme]

        def read(collection: Collection) -> SimpleCredential | None:
            for item in collection.search_items(self.stock._query(service, username)):
                secret = self._secret(item)
                name = item.get_attributes().get(scheme["username"])
                return SimpleCredential(name, secret)  # type: ignore[arg-type]  # as keyring
            return None

        return self._with_collection(read)

    def close(self) -> None:
        with self._lock:
            self._drop()

    # ------------------------------------------------------------------ the connection

    def _with_collection(self, work: Callable[[Collection], T]) -> T:
        with self._lock:
            try:
                with self._collection() as collection:
                    return work(collection)
            except _BROKEN as first:
                if not self._reused:
                    raise _init_error(first) from None
            # The daemon may have restarted since this connection was made: once more, anew.
            try:
                with self._collection() as collection:
                    return work(collection)
            except _BROKEN as again:
                raise _init_error(again) from None

    @contextmanager
    def _collection(self) -> Iterator[Collection]:
        address = os.environ.get("DBUS_SESSION_BUS_ADDRESS")
        if self._connection is not None and address != self._address:
            self._drop()  # the session bus changed under us
        self._reused = self._connection is not None
        try:
            if self._connection is None:
                self._connection = secretstorage.dbus_init()
                self._address = address
            connection = self._connection
            if self._session is None:
                self._session = open_session(connection)
            path = getattr(self.stock, "preferred_collection", None)
            collection = (
                secretstorage.Collection(connection, path, self._session)
                if path is not None
                else secretstorage.get_default_collection(connection, self._session)
            )
            if collection.is_locked():
                collection.unlock()
                if collection.is_locked():  # the user dismissed the prompt
                    raise keyring.errors.KeyringLocked("Failed to unlock the collection!")
            yield collection
        except _BROKEN:
            self._drop()
            raise

    def _secret(self, item: Item) -> str:
        item.session = self._session
        if item.is_locked():
            item.unlock()
            if item.is_locked():  # the user dismissed the prompt
                raise keyring.errors.KeyringLocked("Failed to unlock the item!")
        return item.get_secret().decode("utf-8")

    def _drop(self) -> None:
        connection, self._connection, self._session = self._connection, None, None
        if connection is not None:
            connection.close()

    _reused = False


def _init_error(exc: BaseException) -> keyring.errors.InitError:
    return keyring.errors.InitError(f"{type(exc).__name__}: {exc}".rstrip(": "))
