"""Edit a waiting task: the new task form, filled from the task, saved as an update of the
same task (same id) through the engine's `update_task`, which checks it as it checks a new
task; a refusal (it started meanwhile: QUEUE_TASK_NOT_WAITING; it was changed elsewhere
meanwhile: QUEUE_TASK_CHANGED) is shown in the form and nothing typed is lost. Its Scheduling
group adds the task's start time (`StartTimeEdit`), prefilled: a new one reschedules the task,
earlier or later; unchecked, the task starts as soon as it can."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from PySide6.QtWidgets import QFormLayout, QGroupBox, QWidget

from qtqueue.core.task import Task
from qtqueue.executors import ExecutorRegistry
from qtqueue.ui.new_task_dialog import NewTaskDialog
from qtqueue.ui.paramform.editors import EditorRegistry
from qtqueue.ui.start_time import StartTimeEdit

logger = logging.getLogger(__name__)

#: `EnginePort.update_task`: the task's id and its edited fields → the task as saved.
Update = Callable[[str, Task], Awaitable[Task]]


class EditTaskDialog(NewTaskDialog):
    """The form of waiting task `task`, prefilled; OK saves it as `task` (same id)."""

    def __init__(
        self,
        registry: ExecutorRegistry,
        task: Task,
        update: Update,
        parent: QWidget | None = None,
        credential_names: Iterable[str] | None = None,
        queues: Iterable[Mapping[str, Any]] | None = None,
        editors: EditorRegistry | None = None,
    ) -> None:
        super().__init__(
            registry,
            parent=parent,
            task=task,
            credential_names=credential_names,
            queues=queues,
            editors=editors,
        )
        self.setObjectName("editTaskDialog")
        self.setWindowTitle(f"Edit task — {task.name}")
        self.ok_button.setText("Save")
        fixed = "Set when the task was added; to change it, cancel the task and add a new one"
        for widget in (self.permission_combo, self.after_edit):
            widget.setEnabled(False)  # the engine keeps dependencies and approval as they are
            widget.setToolTip(fixed)
        #: When the task starts (prefilled from it), in the Scheduling group after its queue.
        self.start_edit = StartTimeEdit(self)
        self.start_edit.set_start(task.run_at, time.time())
        box = self.findChild(QGroupBox, "taskSchedulingBox")
        form = box.layout() if box is not None else None
        if isinstance(form, QFormLayout):
            form.insertRow(1, "&Start", self.start_edit)
        #: The task edited (its id is what is saved).
        self.task_id = task.id
        self.original = task
        self.save_task = update
        #: The task as the engine saved it (after OK).
        self.saved: Task | None = None

    def build_task(self) -> Task:
        """The form's task with its start time: the one chosen, now where "at" was unchecked
        (it starts as soon as it can), or, left as it was, the task's own (a schedule or a
        retry's delay: an edit must not start it early, nor move it back in its queue). What
        the form does not show is kept from the task edited: its expiry, and the version it
        was read at (a change made meanwhile is refused with QUEUE_TASK_CHANGED, shown in the
        form, not undone)."""
        task = super().build_task()
        task.run_at = self.original.run_at
        if self.start_edit.changed():
            chosen = self.start_edit.start_at()
            task.run_at = time.time() if chosen is None else chosen
        task.expires_at = self.original.expires_at
        task.updated_at = self.original.updated_at
        return task

    def submits(self) -> bool:
        """OK always saves through the engine."""
        return True

    async def _submit(self, task: Task) -> None:
        self.saved = await self.save_task(self.task_id, task)
        self.queued_id = self.task_id
