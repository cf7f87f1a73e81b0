"""The question the window asks when the queue's database is damaged, before anything opens.

The engine never replaces a damaged store by itself (QUEUE_STORE_CORRUPT, `damaged=True`):
the user picks between the newest backup, an empty queue, and quitting. Either way the
damaged file is kept beside the new one.
"""

from __future__ import annotations

import asyncio
from enum import StrEnum

from PySide6.QtWidgets import QMessageBox, QPushButton, QWidget

from qtqueue.core.errors import QueueError

__all__ = ["StoreChoice", "ask_about_damaged_store"]


class StoreChoice(StrEnum):
    """What to do about a damaged store."""

    RESTORE = "restore"
    """Bring back the newest automatic backup."""
    NEW = "new"
    """Set the damaged file aside and start on an empty queue."""
    QUIT = "quit"
    """Open nothing; leave the file as it is."""


async def ask_about_damaged_store(error: QueueError, parent: QWidget | None = None) -> StoreChoice:
    """Show the damage (`error`'s message) and wait for the user's choice. The box is
    named "damagedStoreQuestion"; closing it is QUIT, the default button is the backup if
    there is one, else Quit."""
    box = QMessageBox(
        QMessageBox.Icon.Critical,
        "The queue's database is damaged",
        error.message,
        QMessageBox.StandardButton.NoButton,
        parent,
    )
    box.setObjectName("damagedStoreQuestion")
    box.setInformativeText(
        "Nothing was changed. Whichever you choose, the damaged file is kept beside the new one."
    )
    choices: dict[QPushButton, StoreChoice] = {}
    if error.details.get("backups"):
        button = box.addButton("Bring back the newest backup", QMessageBox.ButtonRole.AcceptRole)
        choices[button] = StoreChoice.RESTORE
    choices[box.addButton("Start an empty queue", QMessageBox.ButtonRole.DestructiveRole)] = (
        StoreChoice.NEW
    )
    quit_button = box.addButton(QMessageBox.StandardButton.Close)
    choices[quit_button] = StoreChoice.QUIT
    box.setDefaultButton(next(iter(choices)))
    box.setEscapeButton(quit_button)
    answer: asyncio.Future[StoreChoice] = asyncio.get_running_loop().create_future()

    def finished(_result: int) -> None:  # also after a click: Qt sets clickedButton first
        if not answer.done():
            clicked = box.clickedButton()
            answer.set_result(
                next((c for b, c in choices.items() if b is clicked), StoreChoice.QUIT)
            )

    box.finished.connect(finished)
    box.open()
    try:
        return await answer
    finally:
        box.deleteLater()
