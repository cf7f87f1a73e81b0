"""The credentials manager: named secrets in the OS keyring, listed by name only.

Values are typed into a password field, revealed only when the user toggles "Show", and
cleared from the widgets once saved. When no usable keyring exists the dialog says why and
offers nothing that would write a secret.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from qtqueue.engine.credentials import KeyringCredentials, KeyringVault
from qtqueue.ui.credential_store import CredentialStore
from qtqueue.ui.theme import themed

logger = logging.getLogger(__name__)

_WARNING_STYLE = (
    "QLabel#keyringUnavailable { background: #fff4e5; color: #5f3a00; border: 1px solid #f0b25a;"
    " border-radius: 4px; padding: 8px; }"
    " QLabel#credentialError { color: #c62828; }"
)


class CredentialsDialog(QDialog):
    """List, add, edit and delete credentials held in the OS keyring.

    `store` is a `CredentialStore` (shared with the rest of the window), or a `KeyringVault`
    / `KeyringCredentials` that the dialog wraps in its own store (closed with the dialog).
    """

    def __init__(
        self,
        store: CredentialStore | KeyringVault | KeyringCredentials,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("credentialsDialog")
        self.setWindowTitle("Credentials")
        self.setStyleSheet(themed(_WARNING_STYLE))
        self._owns_store = not isinstance(store, CredentialStore)
        self.store = store if isinstance(store, CredentialStore) else CredentialStore(store, self)
        self._editing: str | None = None  # name being edited; None while adding
        self._editor_open = False
        self._revealed = False  # the value field holds a value read back from the keyring
        self._confirm: QMessageBox | None = None
        self._pending_save: str | None = None  # name a save is under way for
        self._pending_select: str | None = None  # name to select when the list reloads

        self.unavailable_label = QLabel()
        self.unavailable_label.setObjectName("keyringUnavailable")
        self.unavailable_label.setWordWrap(True)
        self.unavailable_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.unavailable_label.hide()

        intro = QLabel(
            f"Secrets are kept in the OS keyring (service “{self.store.vault.service}”). "
            "Tasks refer to them by name; a value is read only when a task runs."
        )
        intro.setObjectName("credentialsIntro")
        intro.setWordWrap(True)

        self.list = QListWidget()
        self.list.setObjectName("credentialList")
        self.list.setMinimumHeight(140)
        self.list.currentItemChanged.connect(lambda *_: self._update_buttons())
        self.list.itemDoubleClicked.connect(lambda _item: self.start_edit())

        self.add_button = QPushButton("&Add…")
        self.add_button.setObjectName("addCredential")
        self.edit_button = QPushButton("&Edit…")
        self.edit_button.setObjectName("editCredential")
        self.delete_button = QPushButton("&Delete")
        self.delete_button.setObjectName("deleteCredential")
        self.add_button.clicked.connect(self.start_add)
        self.edit_button.clicked.connect(self.start_edit)
        self.delete_button.clicked.connect(self.ask_delete)
        side = QVBoxLayout()
        for button in (self.add_button, self.edit_button, self.delete_button):
            side.addWidget(button)
        side.addStretch(1)
        listing = QHBoxLayout()
        listing.addWidget(self.list, 1)
        listing.addLayout(side)

        # The editor: name, masked value, Show, Save / Cancel.
        self.editor = QGroupBox("Credential")
        self.editor.setObjectName("credentialEditor")
        self.name_edit = QLineEdit()
        self.name_edit.setObjectName("credentialName")
        self.name_edit.setPlaceholderText("e.g. registry-login, github-token")
        self.value_edit = QLineEdit()
        self.value_edit.setObjectName("credentialValue")
        self.value_edit.setEchoMode(QLineEdit.EchoMode.Password)
        # No input-method hints, completion or undo history should keep the secret around.
        self.value_edit.setInputMethodHints(
            Qt.InputMethodHint.ImhHiddenText
            | Qt.InputMethodHint.ImhSensitiveData
            | Qt.InputMethodHint.ImhNoPredictiveText
        )
        self.show_button = QToolButton()
        self.show_button.setObjectName("showCredentialValue")
        self.show_button.setText("Show")
        self.show_button.setCheckable(True)
        self.show_button.setToolTip("Show the value while this is pressed in")
        self.show_button.toggled.connect(self._show_toggled)
        value_row = QHBoxLayout()
        value_row.setContentsMargins(0, 0, 0, 0)
        value_row.addWidget(self.value_edit, 1)
        value_row.addWidget(self.show_button)
        self.hint_label = QLabel()
        self.hint_label.setObjectName("credentialHint")
        self.hint_label.setWordWrap(True)
        self.hint_label.setEnabled(False)
        self.error_label = QLabel()
        self.error_label.setObjectName("credentialError")
        self.error_label.setWordWrap(True)
        self.error_label.hide()
        self.save_button = QPushButton("&Save")
        self.save_button.setObjectName("saveCredential")
        self.save_button.setDefault(True)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setObjectName("cancelCredentialEdit")
        self.save_button.clicked.connect(self.save)
        self.cancel_button.clicked.connect(self.close_editor)
        editor_buttons = QHBoxLayout()
        editor_buttons.addStretch(1)
        editor_buttons.addWidget(self.cancel_button)
        editor_buttons.addWidget(self.save_button)
        form = QFormLayout(self.editor)
        form.addRow("&Name", self.name_edit)
        value_label = QLabel("&Value")
        value_label.setBuddy(self.value_edit)
        form.addRow(value_label, value_row)
        form.addRow("", self.hint_label)
        form.addRow("", self.error_label)
        form.addRow(editor_buttons)
        self.name_edit.textEdited.connect(lambda _t: self._update_buttons())
        self.value_edit.textEdited.connect(self._value_edited)
        self.name_edit.returnPressed.connect(self.save)
        self.value_edit.returnPressed.connect(self.save)

        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)
        close.button(QDialogButtonBox.StandardButton.Close).setAutoDefault(False)

        layout = QVBoxLayout(self)
        layout.addWidget(self.unavailable_label)
        layout.addWidget(intro)
        layout.addLayout(listing, 1)
        layout.addWidget(self.editor)
        layout.addWidget(close)
        self.resize(520, 460)

        self.store.availabilityChanged.connect(self._availability)
        self.store.namesChanged.connect(self._names)
        self.store.saved.connect(self._saved)
        self.store.deleted.connect(self._deleted)
        self.store.revealed.connect(self._revealed_value)
        self.store.failed.connect(self._failed)
        self.store.busyChanged.connect(self._busy_changed)
        self.finished.connect(self._finish)

        self.close_editor()
        if self.store.available() is not None:
            self._availability(bool(self.store.available()), self.store.unavailable_reason())
            self._names(self.store.names())
        self.store.refresh()

    # ------------------------------------------------------------------ user actions

    @Slot()
    def start_add(self) -> None:
        """Open the editor for a new credential."""
        self._open_editor(None)
        self.name_edit.setFocus()

    @Slot()
    def start_edit(self) -> None:
        """Open the editor on the selected credential (its value stays in the keyring)."""
        name = self.selected_name()
        if name is None or not self.store.available():
            return
        self._open_editor(name)
        self.value_edit.setFocus()

    @Slot()
    def ask_delete(self) -> None:
        """Ask before deleting the selected credential (a window-modal, non-blocking box)."""
        name = self.selected_name()
        if name is None or not self.store.available():
            return
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "Delete credential",
            f"Delete the credential “{name}” from the keyring?\n"
            "Tasks that use it will fail until it is added again.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            self,
        )
        box.setObjectName("confirmDeleteCredential")
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.buttonClicked.connect(
            lambda button: self._delete_answered(name, box.standardButton(button))
        )
        self._confirm = box
        box.open()

    @Slot()
    def save(self) -> None:
        """Store what the editor holds; the value field is cleared once the keyring has it."""
        if not self._editor_open or not self.store.available():
            return
        name = self.name_edit.text().strip()
        value = self.value_edit.text()
        if not name:
            self._show_error("Give the credential a name.")
            return
        if self._editing is None and name in self.store.names():
            self._show_error(f"A credential named “{name}” exists: select it and choose Edit.")
            return
        if self._editing is not None and name != self._editing and name in self.store.names():
            self._show_error(f"A credential named “{name}” exists already.")
            return
        if self._editing is None and not value:
            self._show_error("Type the secret value.")
            return
        self._show_error("")
        keep = self._editing is not None and not value
        if keep and name == self._editing:
            self.close_editor()  # nothing changed
            return
        self._pending_save = name
        self._update_buttons()
        self.store.save(name, None if keep else value, replacing=self._editing)

    @Slot()
    def close_editor(self) -> None:
        """Leave the editor empty and disabled."""
        self._editor_open = False
        self._editing = None
        self._pending_save = None
        self._clear_value()
        self.name_edit.clear()
        self.editor.setTitle("Credential")
        self.hint_label.setText("Choose Add to store a new credential, or select one to edit.")
        self._show_error("")
        self._update_buttons()

    def selected_name(self) -> str | None:
        item = self.list.currentItem()
        return item.text() if item is not None else None

    # ------------------------------------------------------------------ store answers

    @Slot(bool, str)
    def _availability(self, usable: bool, reason: str) -> None:
        self.unavailable_label.setText(reason)
        self.unavailable_label.setVisible(not usable)
        self.editor.setVisible(usable)  # nothing to type a secret into
        if not usable:
            self.close_editor()
        self._update_buttons()

    @Slot(list)
    def _names(self, names: list[str]) -> None:
        current = self._pending_select or self.selected_name()
        self.list.clear()
        for name in names:
            item = QListWidgetItem(name)
            # The tooltip names where the value lives; it never shows the value.
            item.setToolTip(f"{name} — stored in the OS keyring")
            self.list.addItem(item)
            if name == current:
                self.list.setCurrentItem(item)
        self._pending_select = None
        self._update_buttons()

    @Slot(str)
    def _saved(self, name: str) -> None:
        if self._pending_save == name:
            self._pending_select = name
            self.close_editor()

    @Slot(str)
    def _deleted(self, name: str) -> None:
        if self._editing == name:
            self.close_editor()

    @Slot(str, str)
    def _revealed_value(self, name: str, value: str) -> None:
        shown = self._editor_open and self.show_button.isChecked()
        if shown and self._editing == name and not self.value_edit.text():
            self.value_edit.setText(value)
            self._revealed = True

    @Slot(bool)
    def _busy_changed(self, _busy: bool) -> None:
        self._update_buttons()

    @Slot(str, str)
    def _failed(self, action: str, message: str) -> None:
        logger.warning("credential %s failed: %s", action, message)
        if action == "save":
            self._pending_save = None
        self._show_error(message)
        self._update_buttons()

    # ------------------------------------------------------------------ helpers

    def _open_editor(self, name: str | None) -> None:
        self._editor_open = True
        self._editing = name
        self._clear_value()
        self._show_error("")
        self.name_edit.setText(name or "")
        if name is None:
            self.editor.setTitle("New credential")
            self.hint_label.setText("The value goes straight to the OS keyring.")
            self.value_edit.setPlaceholderText("secret value")
        else:
            self.editor.setTitle(f"Edit “{name}”")
            self.hint_label.setText(
                "Leave the value empty to keep the stored one; press Show to see it."
            )
            self.value_edit.setPlaceholderText("unchanged")
        self._update_buttons()

    def _clear_value(self) -> None:
        self.show_button.setChecked(False)
        self.value_edit.clear()
        self.value_edit.setPlaceholderText("")
        self._revealed = False

    def _value_edited(self, _text: str) -> None:
        self._revealed = False
        self._update_buttons()

    @Slot(bool)
    def _show_toggled(self, shown: bool) -> None:
        self.value_edit.setEchoMode(
            QLineEdit.EchoMode.Normal if shown else QLineEdit.EchoMode.Password
        )
        self.show_button.setText("Hide" if shown else "Show")
        if shown and self._editing is not None and not self.value_edit.text():
            self.store.reveal(self._editing)
        elif not shown and self._revealed:
            # A value read back only to look at it goes away with "Hide".
            self.value_edit.clear()
            self._revealed = False

    def _delete_answered(self, name: str, answer: QMessageBox.StandardButton) -> None:
        self._confirm = None
        if answer == QMessageBox.StandardButton.Yes:
            self.store.delete(name)

    def _show_error(self, message: str) -> None:
        self.error_label.setText(message)
        self.error_label.setVisible(bool(message))

    def _update_buttons(self) -> None:
        usable = bool(self.store.available())
        selected = self.selected_name() is not None
        saving = self._pending_save is not None
        self.add_button.setEnabled(usable)
        self.edit_button.setEnabled(usable and selected)
        self.delete_button.setEnabled(usable and selected)
        self.list.setEnabled(usable)
        editing = usable and self._editor_open
        self.editor.setEnabled(editing)
        for widget in (self.name_edit, self.value_edit, self.show_button, self.cancel_button):
            widget.setEnabled(editing)
        self.save_button.setEnabled(editing and not saving and bool(self.name_edit.text().strip()))

    @Slot(int)
    def _finish(self, _result: int) -> None:
        self._clear_value()
        if self._owns_store:
            self.store.close()
