"""qtqueue's credentials on a real gnome-keyring through one kept D-Bus connection
(storage/secret_service.py): what it stores is what keyring's own backend reads and the other
way round, many calls make one client of the daemon (keyring's one-per-call connections are
what trips gnome-keyring's new-client race), and a keyring that went away is a clear error
that the next call recovers from."""

from __future__ import annotations

import keyring
import pytest
from helpers.keyring_service import SecretServiceSession, running_secret_service
from jeepney import DBus, new_method_call
from jeepney.io.blocking import open_dbus_connection
from keyring.backends import SecretService

from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.engine.credentials import KeyringVault
from qtqueue.storage.passwords import close_kept_connections, passwords

SECRET = "s3cr3t-value-not-logged"


def bus_connections(address: str) -> set[str]:
    """The unique names on the bus: one per open connection."""
    with open_dbus_connection(bus=address) as conn:
        reply = conn.send_and_get_reply(new_method_call(DBus(), "ListNames"))
        me = conn.unique_name
    return {n for n in reply.body[0] if n.startswith(":") and n != me}


def test_what_qtqueue_stores_keyrings_own_backend_reads_and_back(
    secret_service: SecretServiceSession,
) -> None:
    vault = KeyringVault()
    vault.set("api-token", SECRET)
    stock = SecretService.Keyring()
    assert stock.get_password("qtqueue", "api-token") == SECRET
    stock.set_password("qtqueue", "from-elsewhere", "other")
    assert vault.get("from-elsewhere") == "other"
    assert vault.names() == ["api-token"]  # the index lists what qtqueue stored
    assert vault.delete("api-token") is True
    assert stock.get_password("qtqueue", "api-token") is None


def test_many_calls_are_one_client_of_the_keyring_daemon(
    secret_service: SecretServiceSession,
) -> None:
    before = bus_connections(secret_service.address)
    vault = KeyringVault()
    for i in range(20):
        vault.set(f"name-{i % 3}", f"{SECRET}-{i}")
        assert vault.get(f"name-{i % 3}") == f"{SECRET}-{i}"
    assert vault.names() == ["name-0", "name-1", "name-2"]
    added = bus_connections(secret_service.address) - before
    assert len(added) == 1, added  # keyring's own backend: a new one per call
    close_kept_connections()
    assert bus_connections(secret_service.address) == before


def test_a_keyring_gone_away_is_a_clear_error_and_a_new_one_is_used_next(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    previous = keyring.get_keyring()
    backend = SecretService.Keyring()
    keyring.set_keyring(backend)
    vault = KeyringVault()
    try:
        with running_secret_service(tmp_path_factory.mktemp("kr")) as first:
            monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", first.address)
            vault.set("token", SECRET)
            kept = passwords(backend)
        # The bus and the daemon are gone; the kept connection with them.
        with pytest.raises(QueueError) as gone:
            vault.get("token")
        assert gone.value.code == TaskErrorCode.CREDENTIAL_BACKEND_UNAVAILABLE
        assert SECRET not in str(gone.value)
        with running_secret_service(tmp_path_factory.mktemp("kr")) as second:
            monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", second.address)
            assert vault.get("token") is None  # a new keyring, reached on a new connection
            vault.set("token", "again")
            assert vault.get("token") == "again"
            assert passwords(backend) is kept
            close_kept_connections()
    finally:
        keyring.set_keyring(previous)
        close_kept_connections()
