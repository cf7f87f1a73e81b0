"""One question before a destructive action: a window-modal, non-blocking Yes/Cancel box."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QWidget


def ask_yes(
    parent: QWidget, *, name: str, title: str, text: str, on_yes: Callable[[], Any]
) -> QMessageBox:
    """Open a Yes/Cancel question (objectName `name`, Cancel the default) over `parent`;
    `on_yes()` runs only if Yes is clicked. Returns the open box (deleted once closed)."""
    box = QMessageBox(
        QMessageBox.Icon.Question,
        title,
        text,
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
        parent,
    )
    box.setObjectName(name)
    box.setDefaultButton(QMessageBox.StandardButton.Cancel)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)

    def answered(button: Any) -> None:
        if box.standardButton(button) == QMessageBox.StandardButton.Yes:
            on_yes()

    box.buttonClicked.connect(answered)
    box.open()
    return box
