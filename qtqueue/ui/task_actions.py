"""What the user does to tasks from the window: one small named slot per action.

`TaskActions` wires the Tasks menu, the toolbar and the table's context menu to the engine:
each slot reads the selection, awaits one engine call per task (or asks first), and says in
the status bar how it went. Which tasks an action applies to is `core.actions`' rule, the
same one the engine and the command line apply; `update()` enables each action only when it
applies to every selected task. The window it serves is a `TaskActionsHost`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any, Protocol

from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QInputDialog, QMenu, QMessageBox, QTableView, QWidget

from qtqueue.api.port import EnginePort
from qtqueue.api.templates import TemplateStore
from qtqueue.core.actions import DONE_WORDS, TaskAction, applicable_to_all, applies
from qtqueue.core.errors import QueueError
from qtqueue.core.task import Task
from qtqueue.ui.app_settings import AppSettings
from qtqueue.ui.confirm import ask_yes, confirm_task_action
from qtqueue.ui.engine_bridge import BackgroundTasks
from qtqueue.ui.forms.main_window_ui import Ui_MainWindow
from qtqueue.ui.owned_slots import owned_slot as owned_slot  # where other modules look
from qtqueue.ui.paramform.editors import EditorRegistry
from qtqueue.ui.schedule_dialog import ScheduleEditor
from qtqueue.ui.task_list.model import TaskTableModel

logger = logging.getLogger(__name__)


class TaskActionsHost(Protocol):
    """What the task actions need from the window they serve (`MainWindow` is one)."""

    queue: EnginePort
    app_settings: AppSettings
    editors: EditorRegistry
    model: TaskTableModel
    form: Ui_MainWindow
    table: QTableView

    def selected_tasks(self) -> list[Task]:
        """The selected rows' snapshots, top to bottom."""
        ...

    def select_task(self, task_id: str) -> None:
        """Select a task's row (now, or as soon as it shows up)."""
        ...

    def show_message(self, text: str, timeout_ms: int = 6000) -> None:
        """One line in the status bar."""
        ...

    def credential_names(self) -> list[str]:
        """The names of the stored credentials (values stay in the keyring)."""
        ...


#: The Designer actions that follow `core.actions`' rule for the selection.
_FORM_ACTIONS: dict[str, TaskAction] = {
    "actionPause": TaskAction.PAUSE,
    "actionResume": TaskAction.RESUME,
    "actionRetry": TaskAction.RETRY,
    "actionCancel": TaskAction.CANCEL,
    "actionRemove": TaskAction.REMOVE,
    "actionApprove": TaskAction.APPROVE,
    "actionReject": TaskAction.REJECT,
    "actionRequeueDeadLetters": TaskAction.REQUEUE,
}


def new_action(
    parent: QObject, name: str, text: str, tip: str, shortcut: str = "", *, enabled: bool = True
) -> QAction:
    """A menu action with an object name (tests and the tray find it by it) and a tooltip."""
    action = QAction(text, parent)
    action.setObjectName(name)
    action.setToolTip(tip)
    if shortcut:
        action.setShortcut(QKeySequence(shortcut))
    action.setEnabled(enabled)
    return action


class TaskActions(QObject):
    """The task actions of one window: see the module docstring. `updated` is emitted each
    time the actions' enabled states were re-evaluated."""

    updated = Signal()

    def __init__(
        self, host: TaskActionsHost, background: BackgroundTasks, parent: QWidget
    ) -> None:
        super().__init__(parent)
        self.host = host
        self.queue = host.queue
        self.background = background
        self._parent = parent
        f = host.form
        self.duplicate = new_action(
            self, "actionDuplicate", "&Duplicate…",
            "Open the new task form filled from the selected task", "Ctrl+D", enabled=False,
        )
        self.new_after = new_action(
            self, "actionNewTaskAfter", "New task &after these…",
            "Open the new task form; the task starts once the selected tasks have completed",
            enabled=False,
        )
        f.menuTasks.insertAction(f.actionPause, self.duplicate)
        f.menuTasks.insertAction(f.actionPause, self.new_after)
        f.menuTasks.insertSeparator(f.actionPause)
        parent.addAction(self.duplicate)
        # Space pauses or resumes the selection while the table has the focus.
        self.toggle_pause = QAction("Pause or resume", host.table)
        self.toggle_pause.setObjectName("actionTogglePause")
        self.toggle_pause.setShortcut(QKeySequence(Qt.Key.Key_Space))
        self.toggle_pause.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        host.table.addAction(self.toggle_pause)
        self.context_menu = QMenu(parent)
        self.context_menu.setObjectName("taskContextMenu")
        for action in (
            f.actionNewTask, self.duplicate, self.new_after, None,
            f.actionPause, f.actionResume, f.actionRetry, f.actionCancel, None,
            f.actionApprove, f.actionReject, f.actionRequeueDeadLetters, f.actionScheduleTask,
            None, f.actionRemove,
        ):
            if action is None:
                self.context_menu.addSeparator()
            else:
                self.context_menu.addAction(action)
        self._connect()

    def _connect(self) -> None:
        f = self.host.form
        f.actionNewTask.triggered.connect(self.new_task)
        self.duplicate.triggered.connect(self.duplicate_task)
        self.new_after.triggered.connect(self.new_task_after)
        f.actionPause.triggered.connect(self.pause_selected)
        f.actionResume.triggered.connect(self.resume_selected)
        f.actionRetry.triggered.connect(self.retry_selected)
        f.actionCancel.triggered.connect(self.ask_cancel)
        f.actionRemove.triggered.connect(self.ask_remove)
        f.actionApprove.triggered.connect(self.approve_selected)
        f.actionReject.triggered.connect(self.ask_reject)
        f.actionRequeueDeadLetters.triggered.connect(self.requeue_selected_dead_letters)
        f.actionRequeueAllDeadLetters.triggered.connect(self.ask_requeue_all_dead_letters)
        f.actionPurgeDeadLetters.triggered.connect(self.ask_purge_dead_letters)
        f.actionScheduleTask.triggered.connect(self.schedule_task)
        self.toggle_pause.triggered.connect(self._toggle_pause)

    def update(self) -> None:
        """Enable each action only if it applies to every selected task."""
        tasks = self.host.selected_tasks()
        enabled = applicable_to_all(tasks)
        f = self.host.form
        for name, action in _FORM_ACTIONS.items():
            getattr(f, name).setEnabled(action in enabled)
        self.duplicate.setEnabled(len(tasks) == 1)
        self.new_after.setEnabled(TaskAction.RUN_AFTER in enabled)
        f.actionScheduleTask.setEnabled(len(tasks) == 1)
        self.updated.emit()

    # ------------------------------------------------------------------ running them

    def _selected_for(self, action: TaskAction) -> list[Task]:
        """The selected tasks that `action` applies to."""
        return [t for t in self.host.selected_tasks() if applies(action, t)]

    async def _each(self, action: TaskAction, op: Callable[[str], Awaitable[object]]) -> None:
        """Run `op` on every selected task that `action` applies to; report failures."""
        await self._on_each(action, [t.id for t in self._selected_for(action)], op)

    async def _on_each(
        self, action: TaskAction, ids: Sequence[str], op: Callable[[str], Awaitable[object]]
    ) -> None:
        if not ids:
            return
        results = await asyncio.gather(*(op(i) for i in ids), return_exceptions=True)
        failures = [r for r in results if isinstance(r, BaseException)]
        self._report(action, len(ids), failures)

    def _report(
        self, action: TaskAction, count: int, failures: Sequence[BaseException]
    ) -> None:
        """Say in the status bar how an action on `count` tasks went: the first error's code,
        message and suggestion."""
        for r in failures:
            if not isinstance(r, QueueError):
                logger.error("%s failed", action.value, exc_info=r)
        if failures:
            first = failures[0]
            what = (
                f"{first.code.value}: {first} — {first.suggestion}"
                if isinstance(first, QueueError)
                else repr(first)
            )
            self.host.show_message(
                f"Could not {action.value} {len(failures)} of {count} tasks — {what}"
            )
        else:
            self.host.show_message(
                f"{count} task{'s' if count != 1 else ''} {DONE_WORDS[action]}"
            )
        self.update()

    @owned_slot()
    async def pause_selected(self) -> None:
        """Pause (hold) the selected tasks that are waiting or running."""
        await self._each(TaskAction.PAUSE, self.queue.pause_task)

    @owned_slot()
    async def resume_selected(self) -> None:
        """Resume the selected paused tasks."""
        await self._each(TaskAction.RESUME, self.queue.resume_task)

    @owned_slot()
    async def retry_selected(self) -> None:
        """Queue the selected failed, cancelled or timed-out tasks again."""
        await self._each(TaskAction.RETRY, self.queue.retry_task)

    def _toggle_pause(self) -> None:
        f = self.host.form
        if f.actionPause.isEnabled():
            f.actionPause.trigger()
        elif f.actionResume.isEnabled():
            f.actionResume.trigger()

    @Slot()
    def ask_cancel(self) -> QMessageBox | None:
        """Cancel (Ctrl+K): ask first (unless told not to), then cancel the selected tasks."""
        return self._confirm_each(TaskAction.CANCEL, self.queue.cancel_task)

    @Slot()
    def ask_remove(self) -> QMessageBox | None:
        """Remove (Del): ask first (unless told not to), then delete the selected tasks."""
        return self._confirm_each(TaskAction.REMOVE, self.queue.remove_task)

    def _confirm_each(
        self, action: TaskAction, op: Callable[[str], Awaitable[object]]
    ) -> QMessageBox | None:
        """Run `op` on the selected tasks that the action applies to, after a question naming
        them when the settings ask for one (then the box is returned)."""
        tasks = self._selected_for(action)
        if not tasks:
            return None
        ids = [t.id for t in tasks]
        verb = action.value
        settings = self.host.app_settings

        def act() -> None:
            self.background.spawn(self._on_each(action, ids, op), f"{verb} tasks")

        if not settings.asks_before(verb):
            act()
            return None
        return confirm_task_action(
            self._parent, verb, tasks, on_yes=act,
            on_dont_ask_again=lambda: settings.stop_asking_before(verb),
        )

    @owned_slot()
    async def approve_selected(self) -> None:
        """Let every selected task that awaits approval run."""
        await self._each(TaskAction.APPROVE, self.queue.approve_task)

    @Slot()
    def ask_reject(self) -> QInputDialog | None:
        """Ask for an optional reason, then reject the selected tasks awaiting approval."""
        ids = [t.id for t in self._selected_for(TaskAction.REJECT)]
        if not ids:
            return None
        box = QInputDialog(self._parent)
        box.setObjectName("rejectReasonDialog")
        box.setWindowTitle("Reject")
        many = f"these {len(ids)} tasks" if len(ids) > 1 else "this task"
        box.setLabelText(f"Reject {many}? They end cancelled (QUEUE_REJECTED).\n"
                         "Reason (optional):")
        box.setOkButtonText("Reject")
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.textValueSelected.connect(
            lambda reason: self.background.spawn(self.reject_tasks(ids, reason), "reject tasks")
        )
        box.open()
        return box

    async def reject_tasks(self, ids: Sequence[str], reason: str = "") -> None:
        """Reject these tasks (each ends CANCELLED with QUEUE_REJECTED and the reason)."""
        await self._on_each(
            TaskAction.REJECT, ids, lambda task_id: self.queue.reject_task(task_id, reason)
        )

    # ------------------------------------------------------------------ dead letters

    @owned_slot()
    async def requeue_selected_dead_letters(self) -> None:
        """Queue the selected dead letters again, their retries reset."""
        await self._requeue([t.id for t in self._selected_for(TaskAction.REQUEUE)])

    async def _requeue(self, ids: Sequence[str] | None) -> None:
        """Requeue these dead letters (None: every one) in one engine call."""
        try:
            done = await self.queue.requeue_dead_letters(ids)
        except QueueError as exc:
            self._report(TaskAction.REQUEUE, len(ids or ()), [exc])
            return
        self._report(TaskAction.REQUEUE, len(done), [])

    def dead_letter_count(self) -> int:
        """How many dead letters the table holds."""
        return sum(1 for t in self.host.model.tasks() if t.dead_letter)

    @Slot()
    def ask_requeue_all_dead_letters(self) -> QMessageBox:
        """Ask, then queue every dead letter again."""
        return self._confirm_dead_letters(
            "requeue",
            "Queue every dead letter ({n}) again? Each starts over with its retries reset.",
            lambda: self._requeue(None),
        )

    @Slot()
    def ask_purge_dead_letters(self) -> QMessageBox:
        """Ask, then delete every dead letter and its log."""
        return self._confirm_dead_letters(
            "purge",
            "Delete every dead letter ({n}) and its log for good?",
            self._purge_dead_letters,
        )

    async def _purge_dead_letters(self) -> None:
        try:
            done = await self.queue.purge_dead_letters()
        except QueueError as exc:
            self.host.show_message(
                f"Could not purge the dead letters — {exc.code.value}: {exc} — {exc.suggestion}"
            )
            return
        self.host.show_message(
            f"{len(done)} dead letter{'s' if len(done) != 1 else ''} deleted"
        )

    def _confirm_dead_letters(
        self, verb: str, question: str, act: Callable[[], Coroutine[Any, Any, None]]
    ) -> QMessageBox:
        """A non-blocking Yes/Cancel box (objectName confirmRequeueDeadLetters or
        confirmPurgeDeadLetters); Yes runs `act`."""
        return ask_yes(
            self._parent,
            name=f"confirm{verb.capitalize()}DeadLetters",
            title=f"{verb.capitalize()} dead letters",
            text=question.format(n=f"{self.dead_letter_count():,}"),
            on_yes=lambda: self.background.spawn(act(), f"{verb} dead letters"),
        )

    # ------------------------------------------------------------------ new tasks

    @Slot()
    def schedule_task(self) -> ScheduleEditor | None:
        """A new schedule whose template is the selected task."""
        tasks = self.host.selected_tasks()
        if len(tasks) != 1:
            return None
        editor = ScheduleEditor(
            self.queue.registry,
            self.queue.schedules,
            task=tasks[0],
            credential_names=self.host.credential_names(),
            parent=self._parent,
            editors=self.host.editors,
        )
        editor.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)

        def saved() -> None:
            if editor.saved is not None:
                s = editor.saved
                self.host.show_message(f"Schedule “{s.name}” added: {s.summary}")

        editor.accepted.connect(saved)
        editor.open()
        return editor

    @Slot()
    def new_task(self) -> None:
        """The empty new task form."""
        self._open_task_dialog(None)

    @Slot()
    def new_task_after(self) -> None:
        """The new task form with 'Run after' filled with the selected tasks."""
        ids = [t.id for t in self.host.selected_tasks()]
        if ids:
            self._open_task_dialog(None, after=ids)

    @Slot()
    def duplicate_task(self) -> None:
        """The new task form filled from the selected task."""
        tasks = self.host.selected_tasks()
        if len(tasks) == 1:
            self._open_task_dialog(tasks[0])

    def _open_task_dialog(self, template: Task | None, after: list[str] | None = None) -> None:
        try:
            from qtqueue.ui.new_task_dialog import NewTaskDialog
        except ImportError as exc:
            logger.warning("the new task dialog is not available: %s", exc)
            box = QMessageBox(
                QMessageBox.Icon.Information,
                "New task",
                "The new task form is not available in this installation.",
                QMessageBox.StandardButton.Ok,
                self._parent,
            )
            box.setObjectName("newTaskUnavailable")
            box.setInformativeText(
                "Tasks can be added with the command line, e.g. "
                "`qtqueue add command -- make test`; they show up here at once."
            )
            box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            box.open()
            return
        dialog = NewTaskDialog(
            self.queue.registry,
            parent=self._parent,
            task=template,
            credential_names=self.host.credential_names(),
            editors=self.host.editors,
            queues=self.queue.list_queues(),
            known_tasks=self.host.model,
            submit=self.queue.add_task,  # a refusal is shown in the form, nothing lost
            templates=TemplateStore(self.queue.data_dir, self.queue.registry),  # From template
        )
        if after:
            dialog.after_edit.setText(", ".join(after))
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)

        def queued() -> None:
            if dialog.queued_id is not None:
                self.host.select_task(dialog.queued_id)

        dialog.accepted.connect(queued)
        dialog.open()
