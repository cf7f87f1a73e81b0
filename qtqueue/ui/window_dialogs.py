"""The window's File and Queue menu dialogs: credentials, settings, backups (take one now,
restore one) and the schedule manager, with the menu actions that open them."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Protocol

from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QWidget

from qtqueue.api.port import EnginePort, EngineSettingsPort
from qtqueue.core.errors import QueueError
from qtqueue.engine.restore import backup_now
from qtqueue.engine.runner import ShutdownPolicy
from qtqueue.ui.app_settings import AppSettings
from qtqueue.ui.backups_dialog import (
    BackupsDialog,
    as_queue_error,
    show_backup_taken,
    show_coded_error,
)
from qtqueue.ui.credential_store import CredentialStore
from qtqueue.ui.credentials_dialog import CredentialsDialog
from qtqueue.ui.engine_bridge import BackgroundTasks, EngineBridge
from qtqueue.ui.forms.main_window_ui import Ui_MainWindow
from qtqueue.ui.paramform.editors import EditorRegistry
from qtqueue.ui.schedule_dialog import ScheduleDialog
from qtqueue.ui.settings_dialog import SettingsDialog
from qtqueue.ui.task_actions import new_action, owned_slot

logger = logging.getLogger(__name__)


class DialogsHost(Protocol):
    """What the dialogs need from the window that opens them (`MainWindow` is one)."""

    queue: EnginePort
    engine_settings: EngineSettingsPort
    bridge: EngineBridge
    app_settings: AppSettings
    editors: EditorRegistry
    form: Ui_MainWindow

    def show_message(self, text: str, timeout_ms: int = 6000) -> None:
        """One line in the status bar."""
        ...


class WindowDialogs(QObject):
    """Opens the File and Queue menus' dialogs over `parent` (see the module docstring).
    `restoreChosen(name)` is emitted once the user confirmed bringing a backup back;
    `running()` says how many tasks a restore would stop and `policy()` how."""

    restoreChosen = Signal(str)

    def __init__(
        self,
        host: DialogsHost,
        background: BackgroundTasks,
        running: Callable[[], int],
        policy: Callable[[], ShutdownPolicy],
        parent: QWidget,
    ) -> None:
        super().__init__(parent)
        self.host = host
        self.queue = host.queue
        self.background = background
        self._running = running
        self._policy = policy
        self._parent = parent
        self._credentials: CredentialStore | None = None
        self.schedule_dialog: ScheduleDialog | None = None
        f = host.form
        self.credentials_action = new_action(
            self, "actionCredentials", "&Credentials…",
            "Registry logins, tokens and API keys in the OS keyring",
        )
        self.settings_action = new_action(
            self, "actionSettings", "&Settings…",
            "Concurrency, retention, notifications, tray and quitting", "Ctrl+,",
        )
        self.settings_action.setMenuRole(QAction.MenuRole.PreferencesRole)
        first = f.menuFile.actions()[0]  # Designer's File menu ends with Quit: never empty
        f.menuFile.insertAction(first, self.credentials_action)
        f.menuFile.insertAction(first, self.settings_action)
        f.menuFile.insertSeparator(first)
        self.back_up_action = new_action(
            self, "actionBackUpNow", "&Back up now",
            "Copy the queue's database into its backups folder now",
        )
        self.restore_action = new_action(
            self, "actionRestoreBackup", "&Restore a backup…",
            "Close the queue and bring back one of its backups, keeping the current database",
        )
        f.menuFile.insertActions(f.actionQuit, [self.back_up_action, self.restore_action])
        f.menuFile.insertSeparator(f.actionQuit)
        self.credentials_action.triggered.connect(self.open_credentials)
        self.settings_action.triggered.connect(self.open_settings)
        self.back_up_action.triggered.connect(self.back_up_now)
        self.restore_action.triggered.connect(self.open_backups)
        f.actionSchedules.triggered.connect(self.open_schedules)
        if not self.queue.owns_engine:
            self._only_with_own_engine()

    def _only_with_own_engine(self) -> None:
        """Disable, saying why, what a window attached to another process's engine cannot do:
        a restore stops the engine."""
        pid = self.queue.engine_pid
        self.restore_action.setEnabled(False)
        self.restore_action.setToolTip(
            f"Bringing a backup back stops the engine; this window is attached to the engine "
            f"of process {pid}. Stop that engine, then restore from a window that runs its own."
        )

    def credentials(self) -> CredentialStore:
        """The keyring-backed credential store, made (and first read) on first use, so
        opening the window never touches the keyring."""
        if self._credentials is None:
            self._credentials = CredentialStore(parent=self._parent)
            self._credentials.refresh()
        return self._credentials

    @Slot()
    def open_credentials(self) -> None:
        """Show the credentials manager (values stay in the keyring; shown only on request)."""
        dialog = CredentialsDialog(self.credentials(), parent=self._parent)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()

    @Slot()
    def open_settings(self) -> SettingsDialog:
        """Show the settings dialog; OK saves them and applies them to the engine live."""
        dialog = SettingsDialog(
            self.queue, self.host.engine_settings, self.host.app_settings,
            parent=self._parent, editors=self.host.editors,
        )  # fmt: skip
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.accepted.connect(lambda: self.host.show_message("Settings saved and applied"))
        dialog.open()
        return dialog

    @owned_slot()
    async def back_up_now(self) -> None:
        """Copy the store into its backups folder and say where it went (or why not), in a
        box and in the status bar."""
        try:
            backup = await asyncio.to_thread(backup_now, self.queue.data_dir, time.time())
        except (QueueError, OSError) as exc:
            error = as_queue_error(exc)
            show_coded_error(self._parent, "backupFailed", "Not backed up", error)
            self.host.show_message(f"Not backed up — {error.code.value}: {error}")
            return
        show_backup_taken(self._parent, backup)
        self.host.show_message(f"Backed up to {backup.path}")

    @Slot()
    def open_backups(self) -> BackupsDialog:
        """List the backups; one the user confirms is passed on as `restoreChosen`."""
        dialog = BackupsDialog(
            data_dir=self.queue.data_dir,
            running=self._running,
            policy=self._policy,
            parent=self._parent,
        )
        dialog.restoreChosen.connect(self.restoreChosen)
        dialog.open()
        reading = self.background.spawn(dialog.load(), "read the backups")
        dialog.finished.connect(lambda _result: reading.cancel())
        return dialog

    @Slot()
    def open_schedules(self) -> ScheduleDialog:
        """Show the schedule manager (one per window, non-modal)."""
        if self.schedule_dialog is None:
            self.schedule_dialog = ScheduleDialog(
                self.queue.schedules,
                self.queue.registry,
                self.host.bridge,
                credential_names=self.credentials().names(),
                parent=self._parent,
                editors=self.host.editors,
            )
        self.schedule_dialog.refresh()
        self.schedule_dialog.show()
        self.schedule_dialog.raise_()
        self.schedule_dialog.activateWindow()
        return self.schedule_dialog

    async def stop(self) -> None:
        """Stop the schedule manager and close the keyring connection (the window closes)."""
        if self.schedule_dialog is not None:
            await self.schedule_dialog.stop()
        if self._credentials is not None:
            await asyncio.to_thread(self._credentials.close)
