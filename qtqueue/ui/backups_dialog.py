"""File › Back up now and File › Restore a backup…: the backups of the queue's store, and
the question before one is brought back.

Bringing a backup back replaces the store under the engine, so the window cannot do it
alone: `BackupsDialog` only lists the backups and asks (`ask_restore`); once the user
agrees it emits `restoreChosen(name)`, and the composition root (`qtqueue.app`) closes the
window and its engine, restores, and opens a new window on the restored queue.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QMessageBox,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from qtqueue.core.errors import QueueError, classify_exception
from qtqueue.engine.queue import DB_NAME, ShutdownPolicy
from qtqueue.storage.backups import BACKUPS_DIR, Backup, count_tasks, list_backups
from qtqueue.ui.task_list.columns import format_size, format_timestamp

__all__ = [
    "BackupRow",
    "BackupsDialog",
    "as_queue_error",
    "ask_restore",
    "read_backups",
    "reason_text",
    "show_backup_taken",
    "show_coded_error",
]

#: What happens to the running tasks when the queue closes for a restore, by shutdown policy.
_RUNNING_EFFECT: dict[ShutdownPolicy, str] = {
    ShutdownPolicy.REQUEUE: "{they} {are} stopped",
    ShutdownPolicy.CANCEL: "{they} {are} stopped and cancelled",
    ShutdownPolicy.WAIT: "qtqueue first waits until {they} finish{es}",
}


@dataclass(frozen=True, slots=True)
class BackupRow:
    """One backup as the dialog lists it."""

    backup: Backup
    #: The file's size in bytes.
    size: int
    #: How many tasks it holds; None if it cannot be read as a store.
    tasks: int | None


def read_backups(backups_dir: Path) -> list[BackupRow]:
    """The backups in `backups_dir`, newest first, with their sizes and task counts.
    Blocking (it opens each one): run it in a thread."""
    rows: list[BackupRow] = []
    for backup in list_backups(backups_dir):
        try:
            size = os.stat(backup.path).st_size
        except FileNotFoundError:  # dropped by a newer backup meanwhile
            continue
        rows.append(BackupRow(backup, size, count_tasks(backup)))
    return rows


def reason_text(reason: str) -> str:
    """Why a backup was taken, as the user reads it."""
    if reason == "daily":
        return "Daily"
    if reason == "manual":
        return "By hand"
    if reason.startswith("pre-migration-v"):
        return f"Before an upgrade (from schema {reason.removeprefix('pre-migration-v')})"
    return reason


def _tasks_text(n: int | None) -> str:
    return "cannot be read" if n is None else f"{n:,}"


def _count(n: int) -> str:
    return f"{n:,} task{'s' if n != 1 else ''}"


def ask_restore(
    parent: QWidget,
    row: BackupRow,
    *,
    data_dir: Path,
    running: int,
    policy: ShutdownPolicy,
    on_yes: Callable[[], Any],
) -> QMessageBox:
    """Ask before bringing `row` back, saying what happens: the queue closes (what that does
    to the `running` tasks under `policy`), the backup replaces the store, the current store
    is kept, the window opens again. `on_yes()` only if confirmed; the default does nothing.
    objectName confirmRestoreBackup; its buttons confirmAct and confirmKeep."""
    b = row.backup
    held = "" if row.tasks is None else f", {_count(row.tasks)}"
    if running:
        one = running == 1
        effect = _RUNNING_EFFECT[policy].format(
            they="it" if one else "they", are="is" if one else "are", es="es" if one else ""
        )
        closing = (
            f"{_count(running)} {'is' if one else 'are'} running: {effect} (the shutdown "
            "policy in Settings)."
        )
    else:
        closing = "No task is running."
    box = QMessageBox(
        QMessageBox.Icon.Warning,
        "Restore a backup",
        f"Bring back the backup taken {format_timestamp(b.taken_at)} "
        f"({reason_text(b.reason).lower()}{held})?",
        QMessageBox.StandardButton.NoButton,
        parent,
    )
    box.setObjectName("confirmRestoreBackup")
    # Four steps and a path read badly in QMessageBox's narrow default width.
    box.setStyleSheet("QLabel#qt_msgbox_informativelabel { min-width: 460px; }")
    box.setInformativeText(
        f"1. The queue closes. {closing}\n"
        f"2. The backup replaces the queue's database: every task is as it was when the "
        f"backup was taken; what changed since is not in it.\n"
        f"3. The current database is kept, not deleted, as {DB_NAME}.replaced-<time> in\n"
        f"{data_dir}\n"
        f"4. The window opens again on the restored queue."
    )
    act = box.addButton("Close the queue and restore", QMessageBox.ButtonRole.DestructiveRole)
    act.setObjectName("confirmAct")
    keep = box.addButton("Don't restore", QMessageBox.ButtonRole.RejectRole)
    keep.setObjectName("confirmKeep")
    box.setDefaultButton(keep)
    box.setEscapeButton(keep)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.buttonClicked.connect(lambda button: on_yes() if button is act else None)
    box.open()
    return box


class BackupsDialog(QDialog):
    """The backups of one data directory, newest first (when, why, size, tasks), listed once
    `await load()` has read them (`loaded` is emitted then). "Restore…" asks first
    (`ask_restore`); once confirmed the dialog closes and emits `restoreChosen(name)` with
    the backup's file name. objectName backupsDialog; the list is backupsList, the button
    restoreButton."""

    restoreChosen = Signal(str)
    loaded = Signal()

    def __init__(
        self,
        *,
        data_dir: Path,
        running: Callable[[], int],
        policy: Callable[[], ShutdownPolicy],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("backupsDialog")
        self.setWindowTitle("Restore a backup")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.rows: list[BackupRow] = []
        self._data_dir = data_dir
        self._running = running
        self._policy = policy
        #: The confirmation open now, if any.
        self.question: QMessageBox | None = None

        self.intro = QLabel(f"Reading the backups in {data_dir / BACKUPS_DIR}…", self)
        self.intro.setObjectName("backupsIntro")
        self.intro.setWordWrap(True)
        self.list = QTreeWidget(self)
        self.list.setObjectName("backupsList")
        self.list.setRootIsDecorated(False)
        self.list.setUniformRowHeights(True)
        self.list.setHeaderLabels(["Taken", "Why", "Size", "Tasks"])
        header = self.list.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.list.itemSelectionChanged.connect(self._update_button)
        self.list.itemDoubleClicked.connect(lambda *_: self.ask())

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        self.restore_button = buttons.addButton(
            "&Restore…", QDialogButtonBox.ButtonRole.ActionRole
        )
        self.restore_button.setObjectName("restoreButton")
        self.restore_button.clicked.connect(self.ask)
        buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(self.intro)
        layout.addWidget(self.list)
        layout.addWidget(buttons)
        self.resize(640, 320)
        self._update_button()

    async def load(self) -> None:
        """Read the backups (in a thread: each one is opened to count its tasks), list them
        with the newest selected, and emit `loaded`."""
        self.show_rows(await asyncio.to_thread(read_backups, self._data_dir / BACKUPS_DIR))

    def show_rows(self, rows: Sequence[BackupRow]) -> None:
        """List `rows` (newest first), the first one selected; emits `loaded`."""
        self.rows = list(rows)
        self.list.clear()
        for row in self.rows:
            b = row.backup
            item = QTreeWidgetItem(
                [format_timestamp(b.taken_at), reason_text(b.reason), format_size(row.size),
                 _tasks_text(row.tasks)]
            )
            item.setToolTip(0, str(b.path))
            for column in (2, 3):
                item.setTextAlignment(column, Qt.AlignmentFlag.AlignRight)
            self.list.addTopLevelItem(item)
        where = self._data_dir / BACKUPS_DIR
        self.intro.setText(
            f"The backups of the queue, newest first, in {where}. qtqueue takes one every "
            "day and before every upgrade of its database; File › Back up now takes one at once."
            if self.rows
            else f"There is no backup in {where} yet. File › Back up now takes one; qtqueue "
            "also takes one every day and before every upgrade of its database."
        )
        newest = self.list.topLevelItem(0)
        if newest is not None:
            self.list.setCurrentItem(newest)
        self._update_button()
        self.loaded.emit()

    def selected(self) -> BackupRow | None:
        """The backup selected in the list, if any."""
        items = self.list.selectedItems()
        return self.rows[self.list.indexOfTopLevelItem(items[0])] if items else None

    def _update_button(self) -> None:
        self.restore_button.setEnabled(self.selected() is not None)

    def ask(self) -> QMessageBox | None:
        """Ask before bringing the selected backup back (the box is returned)."""
        row = self.selected()
        if row is None:
            return None
        if self.question is not None:
            self.question.raise_()
            return self.question
        box = ask_restore(
            self,
            row,
            data_dir=self._data_dir,
            running=self._running(),
            policy=self._policy(),
            on_yes=lambda: self._chosen(row),
        )
        self.question = box
        box.finished.connect(lambda _result: setattr(self, "question", None))
        return box

    def _chosen(self, row: BackupRow) -> None:
        self.accept()
        self.restoreChosen.emit(row.backup.name)


def as_queue_error(exc: QueueError | OSError) -> QueueError:
    """`exc` as a coded error to show: an OS error (a full disk, a folder in the way) gets
    the code its message classifies as."""
    if isinstance(exc, QueueError):
        return exc
    return QueueError(classify_exception(exc), str(exc))


def show_coded_error(parent: QWidget, name: str, title: str, error: QueueError) -> QMessageBox:
    """A non-blocking error box (objectName `name`): the error's code and message, and its
    suggestion below."""
    box = QMessageBox(
        QMessageBox.Icon.Critical,
        title,
        f"{error.code.value}: {error.message}",
        QMessageBox.StandardButton.Ok,
        parent,
    )
    box.setObjectName(name)
    box.setInformativeText(error.suggestion)
    box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.open()
    return box


def show_backup_taken(parent: QWidget, backup: Backup) -> QMessageBox:
    """Say where the backup just taken went (objectName backupTaken); the path is selectable."""
    box = QMessageBox(
        QMessageBox.Icon.Information,
        "Back up now",
        f"The queue was backed up to\n{backup.path}",
        QMessageBox.StandardButton.Ok,
        parent,
    )
    box.setObjectName("backupTaken")
    box.setInformativeText("File › Restore a backup… brings it back.")
    box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.open()
    return box
