"""Questions before a destructive action: window-modal, non-blocking boxes whose default
button is the one that does nothing."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QMessageBox, QWidget

from qtqueue.core.task import Task
from qtqueue.ui.task_list.columns import status_text

#: How many tasks a question about several names.
NAMES_SHOWN = 5


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


@dataclass(frozen=True, slots=True)
class TaskActionWords:
    """How the question before one task action reads."""

    #: The verb on the button and in the question ("Cancel").
    verb: str
    #: The button that does nothing (the default).
    keep: str
    #: What the action does, under the question.
    consequence: str


#: The task actions that ask first (the keys of `app_settings.CONFIRM_KEYS`).
TASK_ACTIONS: dict[str, TaskActionWords] = {
    "cancel": TaskActionWords(
        "Cancel",
        "Don't cancel",
        "A running command is stopped and the task ends cancelled; Retry starts it again "
        "from the beginning.",
    ),
    "remove": TaskActionWords(
        "Remove", "Keep", "The task and its log are deleted for good; this cannot be undone."
    ),
}


def task_label(task: Task) -> str:
    """A task as a question names it: its name (or id) and its status."""
    return f"“{task.name or task.id}” ({status_text(task.status).lower()})"


def confirm_task_action(
    parent: QWidget,
    action: str,
    tasks: Sequence[Task],
    *,
    on_yes: Callable[[], Any],
    on_dont_ask_again: Callable[[], Any],
) -> QMessageBox:
    """Ask before `action` (a key of TASK_ACTIONS) on `tasks`: one is named, several are
    counted and the first few listed. The default button does nothing. `on_yes()` runs if the
    action's button is clicked, after `on_dont_ask_again()` if "Don't ask again" was ticked
    (ticked and then kept, nothing is remembered). objectName: confirm<Action>Tasks."""
    words = TASK_ACTIONS[action]
    n = len(tasks)
    if n == 1:
        text = f"{words.verb} the task {task_label(tasks[0])}?"
        button_text = f"{words.verb} task"
        detail = words.consequence
    else:
        text = f"{words.verb} these {n:,} tasks?"
        button_text = f"{words.verb} {n:,} tasks"
        names = "\n".join(task_label(t) for t in tasks[:NAMES_SHOWN])
        more = f"\nand {n - NAMES_SHOWN:,} more" if n > NAMES_SHOWN else ""
        detail = f"{names}{more}\n\n{words.consequence}"
    box = QMessageBox(QMessageBox.Icon.Question, f"{words.verb} tasks", text,
                      QMessageBox.StandardButton.NoButton, parent)
    box.setObjectName(f"confirm{words.verb}Tasks")
    box.setInformativeText(detail)
    act = box.addButton(button_text, QMessageBox.ButtonRole.DestructiveRole)
    act.setObjectName("confirmAct")
    keep = box.addButton(words.keep, QMessageBox.ButtonRole.RejectRole)
    keep.setObjectName("confirmKeep")
    box.setDefaultButton(keep)
    box.setEscapeButton(keep)
    dont_ask = QCheckBox("Don't ask again", box)
    dont_ask.setObjectName("dontAskAgain")
    dont_ask.setToolTip("Settings… can turn the question back on")
    box.setCheckBox(dont_ask)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)

    def answered(button: Any) -> None:
        if button is act:
            if dont_ask.isChecked():
                on_dont_ask_again()
            on_yes()

    box.buttonClicked.connect(answered)
    box.open()
    return box
