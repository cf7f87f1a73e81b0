"""CredentialsDialog against a real Secret Service (gnome-keyring on a private D-Bus bus)."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import keyring
import pytest
from keyring.backends import fail
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractButton,
    QLabel,
    QLineEdit,
    QListWidget,
    QMessageBox,
    QWidget,
)
from pytestqt.qtbot import QtBot

from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.core.task import Task, TaskStatus
from qtqueue.engine.credentials import INDEX_USERNAME, KeyringCredentials, KeyringVault
from qtqueue.engine.queue import TaskQueue
from qtqueue.executors import Executor, RunContext, default_registry
from qtqueue.executors.base import Params
from qtqueue.ui.credential_store import CredentialStore
from qtqueue.ui.credentials_dialog import CredentialsDialog

SECRET = "s3cr3t-Tok3n-4a6c9e"
OTHER_SECRET = "an0ther-v4lue-77"

needs_keyring = pytest.mark.usefixtures("secret_service")


@pytest.fixture
def store() -> Iterator[CredentialStore]:
    s = CredentialStore(KeyringVault())
    yield s
    s.close()


@pytest.fixture
def dialog(qtbot: QtBot, store: CredentialStore) -> CredentialsDialog:
    d = CredentialsDialog(store)
    qtbot.addWidget(d)
    d.show()
    qtbot.waitExposed(d)
    qtbot.waitUntil(lambda: store.available() is not None and not store.busy())
    return d


def button(dialog: CredentialsDialog, name: str) -> QAbstractButton:
    found = dialog.findChild(QAbstractButton, name)
    assert found is not None, name
    return found


def edit(dialog: CredentialsDialog, name: str) -> QLineEdit:
    found = dialog.findChild(QLineEdit, name)
    assert found is not None, name
    return found


def click(qtbot: QtBot, widget: QWidget) -> None:
    qtbot.mouseClick(widget, Qt.MouseButton.LeftButton)


def listed(dialog: CredentialsDialog) -> list[str]:
    names = dialog.findChild(QListWidget, "credentialList")
    return [names.item(i).text() for i in range(names.count())]


def select(dialog: CredentialsDialog, name: str) -> None:
    names = dialog.findChild(QListWidget, "credentialList")
    names.setCurrentItem(names.findItems(name, Qt.MatchFlag.MatchExactly)[0])


def add_through_dialog(qtbot: QtBot, dialog: CredentialsDialog, name: str, value: str) -> None:
    click(qtbot, button(dialog, "addCredential"))
    qtbot.keyClicks(edit(dialog, "credentialName"), name)
    qtbot.keyClicks(edit(dialog, "credentialValue"), value)
    with qtbot.waitSignal(dialog.store.saved, timeout=10_000):
        click(qtbot, button(dialog, "saveCredential"))
    qtbot.waitUntil(lambda: name in listed(dialog) and not dialog.store.busy())


def texts_shown(root: QWidget) -> list[str]:
    """Every text a user could see or hover in `root`: labels, fields, buttons, tooltips,
    list items, titles."""
    found: list[str] = [root.windowTitle(), root.toolTip()]
    for widget in root.findChildren(QWidget):
        found += [widget.toolTip(), widget.windowTitle(), widget.statusTip()]
        if isinstance(widget, (QLabel, QLineEdit, QAbstractButton)):
            found.append(widget.text())
        if isinstance(widget, QLineEdit):
            found.append(widget.placeholderText())
        if isinstance(widget, QListWidget):
            for i in range(widget.count()):
                found += [widget.item(i).text(), widget.item(i).toolTip()]
    return found


@needs_keyring
def test_a_credential_added_in_the_dialog_is_in_the_os_keyring(
    qtbot: QtBot, dialog: CredentialsDialog
) -> None:
    assert dialog.objectName() == "credentialsDialog"
    assert not dialog.findChild(QLabel, "keyringUnavailable").isVisible()
    assert listed(dialog) == []

    add_through_dialog(qtbot, dialog, "registry-login", SECRET)

    assert keyring.get_password("qtqueue", "registry-login") == SECRET
    assert listed(dialog) == ["registry-login"]
    index = keyring.get_password("qtqueue", INDEX_USERNAME)
    assert index is not None and json.loads(index) == ["registry-login"]
    assert SECRET not in index


@needs_keyring
def test_the_value_is_in_no_widget_after_saving_unless_shown(
    qtbot: QtBot, dialog: CredentialsDialog
) -> None:
    click(qtbot, button(dialog, "addCredential"))
    value = edit(dialog, "credentialValue")
    assert value.echoMode() == QLineEdit.EchoMode.Password
    qtbot.keyClicks(edit(dialog, "credentialName"), "api-key")
    qtbot.keyClicks(value, SECRET)
    assert value.displayText() != SECRET  # masked while typed

    show = button(dialog, "showCredentialValue")
    click(qtbot, show)
    assert value.echoMode() == QLineEdit.EchoMode.Normal and value.displayText() == SECRET
    click(qtbot, show)
    assert value.echoMode() == QLineEdit.EchoMode.Password

    with qtbot.waitSignal(dialog.store.saved, timeout=10_000):
        click(qtbot, button(dialog, "saveCredential"))
    qtbot.waitUntil(lambda: "api-key" in listed(dialog))

    assert not any(SECRET in text for text in texts_shown(dialog))
    assert value.text() == ""

    # Shown only on request: Edit, then Show reads it back from the keyring.
    select(dialog, "api-key")
    click(qtbot, button(dialog, "editCredential"))
    assert value.text() == ""
    with qtbot.waitSignal(dialog.store.revealed, timeout=10_000):
        click(qtbot, show)
    qtbot.waitUntil(lambda: value.displayText() == SECRET)
    click(qtbot, show)  # Hide: the value read back leaves the widget again
    assert not any(SECRET in text for text in texts_shown(dialog))


@needs_keyring
def test_editing_replaces_the_value_and_renaming_moves_it(
    qtbot: QtBot, dialog: CredentialsDialog
) -> None:
    add_through_dialog(qtbot, dialog, "github-token", SECRET)

    select(dialog, "github-token")
    click(qtbot, button(dialog, "editCredential"))
    assert edit(dialog, "credentialName").text() == "github-token"
    qtbot.keyClicks(edit(dialog, "credentialValue"), OTHER_SECRET)
    with qtbot.waitSignal(dialog.store.saved, timeout=10_000):
        click(qtbot, button(dialog, "saveCredential"))
    qtbot.waitUntil(lambda: not dialog.store.busy())
    assert keyring.get_password("qtqueue", "github-token") == OTHER_SECRET

    # A new name with the value left empty keeps the stored value.
    select(dialog, "github-token")
    click(qtbot, button(dialog, "editCredential"))
    name = edit(dialog, "credentialName")
    name.selectAll()
    qtbot.keyClicks(name, "gh-token")
    with qtbot.waitSignal(dialog.store.saved, timeout=10_000):
        click(qtbot, button(dialog, "saveCredential"))
    qtbot.waitUntil(lambda: listed(dialog) == ["gh-token"] and not dialog.store.busy())
    assert keyring.get_password("qtqueue", "gh-token") == OTHER_SECRET
    assert keyring.get_password("qtqueue", "github-token") is None
    assert KeyringVault().names() == ["gh-token"]


@needs_keyring
def test_adding_a_name_that_exists_is_refused_inline(
    qtbot: QtBot, dialog: CredentialsDialog
) -> None:
    add_through_dialog(qtbot, dialog, "hub", SECRET)
    click(qtbot, button(dialog, "addCredential"))
    qtbot.keyClicks(edit(dialog, "credentialName"), "hub")
    qtbot.keyClicks(edit(dialog, "credentialValue"), OTHER_SECRET)
    click(qtbot, button(dialog, "saveCredential"))

    error = dialog.findChild(QLabel, "credentialError")
    assert error.isVisible() and "exists" in error.text()
    assert keyring.get_password("qtqueue", "hub") == SECRET


@needs_keyring
def test_deleting_asks_first_then_removes_it_from_the_keyring(
    qtbot: QtBot, dialog: CredentialsDialog
) -> None:
    add_through_dialog(qtbot, dialog, "old-token", SECRET)
    add_through_dialog(qtbot, dialog, "keep-me", OTHER_SECRET)

    select(dialog, "old-token")
    click(qtbot, button(dialog, "deleteCredential"))
    box = dialog.findChild(QMessageBox, "confirmDeleteCredential")
    qtbot.waitUntil(lambda: box.isVisible())
    assert "old-token" in box.text()
    with qtbot.waitSignal(dialog.store.deleted, timeout=10_000):
        click(qtbot, box.button(QMessageBox.StandardButton.Yes))

    qtbot.waitUntil(lambda: listed(dialog) == ["keep-me"] and not dialog.store.busy())
    assert keyring.get_password("qtqueue", "old-token") is None
    assert keyring.get_password("qtqueue", "keep-me") == OTHER_SECRET

    # Cancel keeps it.
    select(dialog, "keep-me")
    click(qtbot, button(dialog, "deleteCredential"))
    box = dialog.findChild(QMessageBox, "confirmDeleteCredential")
    qtbot.waitUntil(lambda: box.isVisible())
    click(qtbot, box.button(QMessageBox.StandardButton.Cancel))
    qtbot.waitUntil(lambda: dialog.findChild(QMessageBox) is None)
    assert listed(dialog) == ["keep-me"]


@pytest.fixture
def fail_keyring() -> Iterator[None]:
    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    yield
    keyring.set_keyring(previous)


@pytest.mark.usefixtures("fail_keyring")
def test_without_a_usable_keyring_the_dialog_says_so_and_cannot_write(
    qtbot: QtBot, dialog: CredentialsDialog
) -> None:
    warning = dialog.findChild(QLabel, "keyringUnavailable")
    assert warning.isVisible()
    assert "No OS keyring is available" in warning.text()
    for name in (
        "addCredential",
        "editCredential",
        "deleteCredential",
        "saveCredential",
        "showCredentialValue",
    ):
        assert not button(dialog, name).isEnabled(), name
    assert not edit(dialog, "credentialValue").isEnabled()
    assert not edit(dialog, "credentialName").isEnabled()


@pytest.mark.usefixtures("fail_keyring")
def test_the_vault_refuses_to_write_without_a_usable_keyring() -> None:
    ok, reason = KeyringVault().check()
    assert not ok and "No OS keyring" in reason
    with pytest.raises(Exception, match="No OS keyring"):
        KeyringVault().set("x", SECRET)


def test_a_plaintext_file_keyring_is_refused(tmp_path: Path) -> None:
    file_backends = pytest.importorskip("keyrings.alt.file", reason="keyrings.alt not installed")
    plaintext = file_backends.PlaintextKeyring()
    plaintext.file_path = str(tmp_path / "keyring.cfg")
    vault = KeyringVault(backend=plaintext)

    ok, reason = vault.check()
    assert not ok and "unencrypted" in reason
    with pytest.raises(Exception, match="unencrypted"):
        vault.set("token", SECRET)
    assert not (tmp_path / "keyring.cfg").exists()


# --------------------------------------------------------------------------- through the engine


class UseSecretParams(Params):
    credential: str


class UsesSecret(Executor):
    """Reads a credential and writes it to its log (the engine must redact it)."""

    task_type: ClassVar[str] = "uses_secret"
    params_model = UseSecretParams

    async def run(self, ctx: RunContext) -> dict[str, Any] | None:
        secret = await ctx.credential(ctx.params.credential)
        ctx.log(f"logging in with {secret}")
        ctx.log_bytes(f"Authorization: Bearer {secret}\n".encode())
        return {"logged_in": True, "length": len(secret)}


@needs_keyring
def test_a_credential_saved_in_the_dialog_never_reaches_the_database_or_the_log(
    qtbot: QtBot, dialog: CredentialsDialog, tmp_path: Path
) -> None:
    add_through_dialog(qtbot, dialog, "deploy-key", SECRET)
    data_dir = tmp_path / "q"

    async def run() -> tuple[Task, bytes, bytes]:
        registry = default_registry(entry_points=False)
        registry.register(UsesSecret())
        async with TaskQueue(data_dir, registry=registry) as queue:
            task_id = await queue.add_task(Task("uses_secret", {"credential": "deploy-key"}))
            done = await queue.wait_for(task_id, timeout_s=30)
            log = queue.log_path(task_id).read_bytes()
            # Read while the engine is open: the WAL still holds the latest pages.
            db = b"".join(p.read_bytes() for p in sorted(data_dir.glob("queue.db*")) if p.is_file())
        return done, log, db

    done, log, db = asyncio.run(run())

    assert done.status is TaskStatus.COMPLETED, done.error
    assert done.result == {"logged_in": True, "length": len(SECRET)}
    assert b"logging in with ********" in log
    assert SECRET.encode() not in log
    assert SECRET.encode() not in db
    assert b"deploy-key" in db  # the name is stored, as it should be
    after_close = b"".join(p.read_bytes() for p in data_dir.rglob("*") if p.is_file())
    assert SECRET.encode() not in after_close


class FailsMentioningSecret(Executor):
    """Puts its secret in a step and an error message, as a careless SDK error would."""

    task_type: ClassVar[str] = "fails_with_secret"
    params_model = UseSecretParams

    async def run(self, ctx: RunContext) -> dict[str, Any] | None:
        secret = await ctx.credential(ctx.params.credential)
        ctx.progress(10, f"logging in as {secret}")
        raise RuntimeError(f"server rejected token {secret}")


@needs_keyring
def test_a_secret_in_an_error_message_or_step_does_not_reach_the_database(
    tmp_path: Path,
) -> None:
    KeyringVault().set("deploy-key", SECRET)
    data_dir = tmp_path / "q"

    async def run() -> Task:
        registry = default_registry(entry_points=False)
        registry.register(FailsMentioningSecret())
        async with TaskQueue(data_dir, registry=registry) as queue:
            task = Task("fails_with_secret", {"credential": "deploy-key"}, max_retries=0)
            task_id = await queue.add_task(task)
            return await queue.wait_for(task_id, timeout_s=30)

    done = asyncio.run(run())

    assert done.status is TaskStatus.FAILED
    stored = b"".join(p.read_bytes() for p in data_dir.rglob("*") if p.is_file())
    assert SECRET.encode() not in stored


@needs_keyring
def test_the_engines_keyring_credentials_list_set_and_delete_names() -> None:
    credentials = KeyringCredentials()

    async def scenario() -> None:
        assert await credentials.available() == (True, "")
        assert await credentials.names() == []
        await credentials.set("b-token", SECRET)
        await credentials.set("a-token", OTHER_SECRET)
        await credentials.set("a-token", OTHER_SECRET)  # replacing keeps one entry
        assert await credentials.names() == ["a-token", "b-token"]
        assert await credentials.get("b-token") == SECRET
        assert await credentials.delete("b-token") is True
        assert await credentials.delete("b-token") is False
        assert await credentials.names() == ["a-token"]
        with pytest.raises(QueueError) as missing:
            await credentials.get("b-token")
        assert missing.value.code is TaskErrorCode.CREDENTIAL_NOT_FOUND
        with pytest.raises(QueueError) as reserved:
            await credentials.set(INDEX_USERNAME, SECRET)
        assert reserved.value.code is TaskErrorCode.VALIDATION_INVALID_PARAMS

    asyncio.run(scenario())
    index = keyring.get_password("qtqueue", INDEX_USERNAME)
    assert index == '["a-token"]'
