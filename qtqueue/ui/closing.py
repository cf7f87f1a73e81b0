"""What closing the window or quitting does to running tasks, asked before it happens.

Quitting stops the engine, and the engine stops running commands as the shutdown policy
says (by default they start again from the beginning at the next launch). So while tasks
run, closing the window asks: keep them running with the window hidden (the default), stop
them and quit, or do nothing; and Quit says how many tasks it will stop. With nothing
running neither asks. The boxes are window-modal and non-blocking; `CloseGuard` asks them
for the main window, one at a time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from enum import StrEnum
from typing import Any, Protocol

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QPushButton, QWidget

from qtqueue.api.port import EnginePort
from qtqueue.core.task import ACTIVE, Task, TaskStatus
from qtqueue.engine.runner import ShutdownPolicy
from qtqueue.ui.app_settings import AppSettings
from qtqueue.ui.confirm import NAMES_SHOWN, task_label
from qtqueue.ui.tray import TrayIcon

logger = logging.getLogger(__name__)


class CloseChoice(StrEnum):
    """The answer to "tasks are running" when the window is closed."""

    KEEP_RUNNING = "keep_running"
    STOP = "stop"
    CANCEL = "cancel"


#: What quitting does to running tasks, by shutdown policy.
POLICY_EFFECT: dict[ShutdownPolicy, str] = {
    ShutdownPolicy.REQUEUE: "Stopped tasks lose their progress: they start again from the "
    "beginning the next time qtqueue starts.",
    ShutdownPolicy.CANCEL: "Stopped tasks end cancelled (the shutdown policy in Settings).",
    ShutdownPolicy.WAIT: "qtqueue waits until they finish before it quits; nothing new starts "
    "meanwhile (the shutdown policy in Settings).",
}
#: The verb of the button that quits, by shutdown policy.
_STOP_VERB: dict[ShutdownPolicy, str] = {
    ShutdownPolicy.REQUEUE: "Stop",
    ShutdownPolicy.CANCEL: "Cancel",
    ShutdownPolicy.WAIT: "Wait for",
}


def running_tasks(tasks: Iterable[Task]) -> list[Task]:
    """The tasks whose commands quitting would stop: running, or paused while running."""
    return [
        t
        for t in tasks
        if t.status in ACTIVE or (t.status == TaskStatus.PAUSED and t.started_at is not None)
    ]


def _count(n: int) -> str:
    return f"{n:,} task{'s' if n != 1 else ''}"


def _names(running: Sequence[Task]) -> str:
    names = "\n".join(task_label(t) for t in running[:NAMES_SHOWN])
    more = len(running) - NAMES_SHOWN
    return names + (f"\nand {more:,} more" if more > 0 else "")


def _stop_text(policy: ShutdownPolicy, n: int) -> str:
    return f"{_STOP_VERB[policy]} {_count(n)} and quit"


def _box(
    parent: QWidget, name: str, title: str, text: str, detail: str
) -> tuple[QMessageBox, QPushButton, QPushButton]:
    """A warning box without buttons yet but its stopAndQuit and (Escape) Cancel ones."""
    box = QMessageBox(
        QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.NoButton, parent
    )
    box.setObjectName(name)
    box.setInformativeText(detail)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    stop = box.addButton("", QMessageBox.ButtonRole.DestructiveRole)
    stop.setObjectName("stopAndQuit")
    cancel = box.addButton(QMessageBox.StandardButton.Cancel)
    box.setEscapeButton(cancel)
    return box, stop, cancel


def ask_close(
    parent: QWidget,
    running: Sequence[Task],
    *,
    has_tray: bool,
    policy: ShutdownPolicy,
    on_choice: Callable[[CloseChoice], Any],
) -> QMessageBox:
    """Closing the window while `running` run: keep running hidden (the default; in the tray
    if `has_tray`), stop them and quit, or cancel. `on_choice` gets the answer (Escape and
    the title bar's close are CANCEL). objectName closeWhileRunning; its buttons
    keepRunning, stopAndQuit, cancelClose."""
    n = len(running)
    where = (
        "in the tray: its icon brings the window back"
        if has_tray
        else "in the background: start qtqueue again to bring the window back"
    )
    box, stop, cancel = _box(
        parent,
        "closeWhileRunning",
        "Tasks are running",
        f"{_count(n)} {'is' if n == 1 else 'are'} running. Keep {'it' if n == 1 else 'them'} "
        "running with the window closed?",
        f"{_names(running)}\n\nqtqueue can keep running {where}. {POLICY_EFFECT[policy]}",
    )
    keep = box.addButton(
        "Keep running in the tray" if has_tray else "Keep running in the background",
        QMessageBox.ButtonRole.AcceptRole,
    )
    keep.setObjectName("keepRunning")
    stop.setText(_stop_text(policy, n))
    cancel.setText("Don't close")  # not "Cancel": the policy may be to cancel the tasks
    cancel.setObjectName("cancelClose")
    box.setDefaultButton(keep)
    choices = {keep: CloseChoice.KEEP_RUNNING, stop: CloseChoice.STOP}
    box.buttonClicked.connect(lambda button: on_choice(choices.get(button, CloseChoice.CANCEL)))
    box.open()
    return box


def ask_quit(
    parent: QWidget,
    running: Sequence[Task],
    *,
    policy: ShutdownPolicy,
    on_quit: Callable[[], Any],
) -> QMessageBox:
    """Quit while `running` run: says how many it stops; `on_quit()` only if confirmed.
    Cancel is the default. objectName quitWhileRunning; its buttons stopAndQuit, cancelQuit."""
    n = len(running)
    box, stop, cancel = _box(
        parent,
        "quitWhileRunning",
        "Quit qtqueue",
        f"Quitting stops {_count(n)} that {'is' if n == 1 else 'are'} running."
        if policy != ShutdownPolicy.WAIT
        else f"Quitting waits for {_count(n)} that {'is' if n == 1 else 'are'} running.",
        f"{_names(running)}\n\n{POLICY_EFFECT[policy]}",
    )
    stop.setText(_stop_text(policy, n))
    cancel.setText("Don't quit")
    cancel.setObjectName("cancelQuit")
    box.setDefaultButton(cancel)
    box.buttonClicked.connect(lambda button: on_quit() if button is stop else None)
    box.open()
    return box


class GuardedWindow(Protocol):
    """What `CloseGuard` needs from the window it guards (`MainWindow` is one)."""

    queue: EnginePort
    app_settings: AppSettings
    tray: TrayIcon | None

    def running_tasks(self) -> list[Task]:
        """The tasks whose commands quitting would stop."""
        ...

    def quit(self) -> None:
        """Quit without a question."""
        ...

    def hide(self) -> None:
        """Hide the window (tasks go on)."""
        ...


class CloseGuard:
    """The main window's questions before it closes or quits while tasks run: one open at a
    time (asking again raises it). The window decides when to ask (`closeEvent`, Quit).
    `parent` is the window as the widget its boxes are modal to."""

    def __init__(self, window: GuardedWindow, parent: QWidget) -> None:
        self.window = window
        self.parent = parent
        #: The question open now, if any.
        self.question: QMessageBox | None = None

    def policy(self) -> ShutdownPolicy:
        """What quitting now does to running tasks (the saved setting, else the queue's)."""
        w = self.window
        return w.app_settings.shutdown_policy_if_saved() or w.queue.shutdown_policy

    def request_quit(self) -> QMessageBox | None:
        """Quit at once if nothing runs; else ask (`ask_quit`) and return the box."""
        running = self.window.running_tasks()
        if not running:
            self.window.quit()
            return None
        if self.question is not None:
            self.question.raise_()
            return self.question
        return self._keep(ask_quit(
            self.parent, running, policy=self.policy(), on_quit=self.window.quit
        ))

    def ask_close(self, running: Sequence[Task]) -> None:
        """The window is being closed while `running` run: ask (`ask_close`)."""
        if self.question is not None:
            self.question.raise_()
            return
        tray = self.window.tray
        self._keep(ask_close(
            self.parent,
            running,
            has_tray=tray is not None and tray.isVisible(),
            policy=self.policy(),
            on_choice=self._answered,
        ))

    def _keep(self, box: QMessageBox) -> QMessageBox:
        self.question = box
        box.finished.connect(lambda _result: setattr(self, "question", None))
        return box

    def _answered(self, choice: CloseChoice) -> None:
        w = self.window
        if choice == CloseChoice.STOP:
            w.quit()
        elif choice == CloseChoice.KEEP_RUNNING:
            w.hide()
            logger.info("window closed; %d running tasks keep running", len(w.running_tasks()))
            if w.tray is not None and w.tray.isVisible():
                w.tray.show_notification(
                    "qtqueue keeps running",
                    "Running tasks go on; the tray icon brings the window back.",
                    False,
                )
