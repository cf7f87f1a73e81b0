"""The new-task dialog: pick a type (grouped by family), fill in its generated form and the
task's own settings, get a `Task`. Given a task it opens pre-filled (Duplicate, edit-and-retry).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QFont, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from qtqueue.api.templates import TemplateStore
from qtqueue.core.errors import QueueError
from qtqueue.core.task import Permission, Priority, Task, parse_task_type
from qtqueue.executors import Executor, ExecutorRegistry, HandlerExecutor
from qtqueue.executors.webhooks import url_problem
from qtqueue.ui.engine_bridge import BackgroundTasks
from qtqueue.ui.family_widgets import family_editors
from qtqueue.ui.paramform.editors import EditorRegistry
from qtqueue.ui.paramform.form import TaskForm, form_editors
from qtqueue.ui.queue_defaults import QUEUE_DEFAULT, QueueDefaults, retries_box, sent, timeout_box
from qtqueue.ui.run_after import TaskLookup, resolve_run_after
from qtqueue.ui.templates import TemplateChooser
from qtqueue.ui.theme import themed

logger = logging.getLogger(__name__)

#: Picker groups of executors that came without a family: plain functions, single plug-ins.
_HANDLERS = ("handlers", "Handlers")
_PLUGINS = ("plugins", "Plug-ins")
_TYPE_ROLE = Qt.ItemDataRole.UserRole + 1
_PERMISSION_LABELS = {
    Permission.AUTONOMOUS: "Runs without asking",
    Permission.SUPERVISED: "Runs, and tells me when it starts",
    Permission.HUMAN_REQUIRED: "Waits until I approve it",
}
#: (resources key, label, suffix, maximum) of the "Needs" spin boxes.
_NEEDS = (
    ("cpu_cores", "CPU", " cores", 1024.0),
    ("memory_gb", "Memory", " GB", 65536.0),
    ("gpu_memory_gb", "GPU memory", " GB", 4096.0),
    ("disk_gb", "Disk", " GB", 1048576.0),
)


def error_text(exc: QueueError) -> str:
    """A QueueError as the window shows it: code, message, and what to do."""
    return f"{exc.code.value}: {exc.message}\n{exc.suggestion}"


def picker_groups(registry: ExecutorRegistry) -> list[tuple[str, list[Executor]]]:
    """The type picker's groups, each a title and its executors by name: one per family with
    a type (its `Family.title`, in registration order), then plain functions ("Handlers") and
    executors that came without a family ("Plug-ins")."""
    groups: dict[tuple[str, str], list[Executor]] = {}
    for family in registry.families():
        groups[(family.name, family.title)] = []
    groups[_HANDLERS], groups[_PLUGINS] = [], []
    for executor in registry:  # by name
        came_with = registry.family_of(executor.name)
        if came_with is not None:
            key = (came_with.name, came_with.title)
        else:
            key = _HANDLERS if isinstance(executor, HandlerExecutor) else _PLUGINS
        groups.setdefault(key, []).append(executor)
    return [(title, executors) for (_name, title), executors in groups.items() if executors]


class NewTaskDialog(QDialog):
    """Create a task of any registered type.

    OK checks the form with the executor's `validate()` and refuses, showing the problems under
    their fields, until it passes; then `task()` is the new `Task`. With `task=` the dialog opens
    filled from it (a new id; the type, params and settings copied). With `known_tasks` (the
    window's table) "Run after" is checked too, as the engine would (`resolve_run_after`): a
    wrong id is shown beside the field and the dialog stays open; prefixes become full ids.
    With `submit` (the engine's `add_task`) OK hands the task over and the dialog closes only
    once it was taken; a refusal is shown in the dialog (`saveFailed(str)`), nothing typed
    lost, and `queued_id` is what `submit` returned. `queues` are the engine's named queues
    (`list_queues()`): by default the task names no queue, retries or timeout, and the engine
    fills them from the queue its priority picks; the dialog shows which and what. With
    `templates` a "From template ›" button beside the type fills the form from a template.
    """

    saveFailed = Signal(str)

    def __init__(
        self,
        registry: ExecutorRegistry,
        parent: QWidget | None = None,
        task: Task | None = None,
        credential_names: Iterable[str] | None = None,
        queue_names: Iterable[str] | None = None,
        queues: Iterable[Mapping[str, Any]] | None = None,
        known_tasks: TaskLookup | None = None,
        submit: Callable[[Task], Awaitable[str]] | None = None,
        editors: EditorRegistry | None = None,
        templates: TemplateStore | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("newTaskDialog")
        #: The window's form editors; a family's own are added for its types' forms only.
        self.editors = editors if editors is not None else form_editors()
        self.known_tasks = known_tasks
        self.submit = submit
        self.queued_id: str | None = None
        self._jobs = BackgroundTasks()
        self.setWindowTitle("Duplicate task" if task is not None else "New task")
        self.registry = registry
        self.credential_names = list(credential_names or [])
        self.template = task.copy() if task is not None else None
        self.form: TaskForm | None = None
        self._task: Task | None = None

        self.type_picker = QComboBox()
        self.type_picker.setObjectName("taskTypePicker")
        self.type_picker.setMaxVisibleItems(20)
        self._fill_types()
        self.summary = QLabel()
        self.summary.setObjectName("taskTypeSummary")
        self.summary.setWordWrap(True)
        self.summary.setEnabled(False)

        self.name_edit = QLineEdit()
        self.name_edit.setObjectName("taskName")
        self.category_edit = QLineEdit()
        self.category_edit.setObjectName("taskCategory")
        self.category_edit.setPlaceholderText("general")
        self.category_edit.setToolTip("Per-category concurrency limits apply to this label")
        self.tags_edit = QLineEdit()
        self.tags_edit.setObjectName("taskTags")
        self.tags_edit.setPlaceholderText("comma-separated, e.g. nightly, backup")
        self.priority_combo = QComboBox()
        self.priority_combo.setObjectName("taskPriority")
        for priority in Priority:
            self.priority_combo.addItem(priority.name.capitalize(), priority)
        self.priority_combo.setCurrentIndex(self.priority_combo.findData(Priority.NORMAL))
        self.retries_spin = retries_box()
        self.retries_spin.setObjectName("taskMaxRetries")
        self.timeout_spin = timeout_box()
        self.timeout_spin.setObjectName("taskTimeout")
        for spin in (self.retries_spin, self.timeout_spin):
            spin.setMinimumWidth(180)

        # Scheduling: which named queue, whether a person approves it, what it needs.
        self.queue_combo = QComboBox()
        self.queue_combo.setObjectName("taskQueue")
        self.queue_combo.setEditable(False)
        self.queue_defaults = QueueDefaults(
            self.queue_combo, self.priority_combo, self.retries_spin, self.timeout_spin, queues
        )
        for queue_name in queue_names or ():
            self.queue_defaults.add_queue(queue_name)
        self.permission_combo = QComboBox()
        self.permission_combo.setObjectName("taskPermission")
        for permission, label in _PERMISSION_LABELS.items():
            self.permission_combo.addItem(label, permission)
        self.needs: dict[str, QDoubleSpinBox] = {}
        needs_row = QHBoxLayout()
        for key, label, suffix, maximum in _NEEDS:
            need = QDoubleSpinBox()
            need.setObjectName(f"taskNeeds_{key}")
            need.setRange(0.0, maximum)
            need.setDecimals(0 if key == "cpu_cores" else 1)
            need.setSuffix(suffix)
            need.setSpecialValueText(f"{label}: any")
            need.setToolTip(
                f"{label} the task needs free before it starts (0: no need); "
                "it waits until the machine has room"
            )
            self.needs[key] = need
            needs_row.addWidget(need)
        self.after_edit = QLineEdit()
        self.after_edit.setObjectName("taskAfter")
        self.after_edit.setPlaceholderText("task ids, comma-separated: starts when they complete")
        self.after_message = _problem_label("taskAfterMessage")
        self.after_edit.textEdited.connect(lambda _text: self._show_after_problem(""))
        # Where the task's summary is POSTed when it ends (engine/notify.py).
        self.notify_edit = QLineEdit()
        self.notify_edit.setObjectName("taskNotifyWebhook")
        self.notify_edit.setPlaceholderText("https://…: its summary is POSTed here when it ends")
        self.notify_edit.setToolTip("Empty: its queue's notify webhook, if the queue has one")
        self.notify_message = _problem_label("taskNotifyWebhookMessage")
        self.notify_edit.textEdited.connect(lambda _text: self._show_notify_problem(""))

        type_row = QFormLayout()
        picker_row = QHBoxLayout()
        picker_row.addWidget(self.type_picker, 1)
        self.template_chooser = TemplateChooser(templates) if templates is not None else None
        if self.template_chooser is not None:
            picker_row.addWidget(self.template_chooser)
            self.template_chooser.chosen.connect(self.apply_template)
        type_label = QLabel("&Type")
        type_label.setBuddy(self.type_picker)
        type_row.addRow(type_label, picker_row)
        type_row.addRow("", self.summary)

        self.params_box = QGroupBox("Parameters")
        self.params_box.setObjectName("taskParamsBox")
        self.params_scroll = QScrollArea()
        self.params_scroll.setWidgetResizable(True)
        self.params_scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        params_layout = QVBoxLayout(self.params_box)
        params_layout.setContentsMargins(6, 6, 6, 6)
        params_layout.addWidget(self.params_scroll)

        settings = QGroupBox("Task")
        settings.setObjectName("taskSettingsBox")
        grid = QFormLayout(settings)
        grid.addRow("&Name", self.name_edit)
        grid.addRow("&Category", self.category_edit)
        grid.addRow("Ta&gs", self.tags_edit)
        grid.addRow("&Priority", self.priority_combo)
        grid.addRow("&Max retries", self.retries_spin)
        grid.addRow("T&imeout", self.timeout_spin)

        scheduling = QGroupBox("Scheduling")
        scheduling.setObjectName("taskSchedulingBox")
        sched = QFormLayout(scheduling)
        sched.addRow("&Queue", self.queue_combo)
        sched.addRow("&Approval", self.permission_combo)
        sched.addRow("Needs", needs_row)
        sched.addRow("Run a&fter", self.after_edit)
        sched.addRow("", self.after_message)
        sched.addRow("Notify &webhook", self.notify_edit)
        sched.addRow("", self.notify_message)

        self.message = QLabel()
        self.message.setObjectName("newTaskMessage")
        self.message.setWordWrap(True)
        self.message.setStyleSheet(themed("color: #c62828;"))
        self.message.hide()

        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText("&Queue task")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addLayout(type_row)
        layout.addWidget(self.params_box, 1)
        layout.addWidget(settings)
        layout.addWidget(scheduling)
        layout.addWidget(self.message)
        layout.addWidget(self.buttons)
        self.resize(660, 820)

        self.type_picker.currentIndexChanged.connect(self._type_changed)
        start = self.template.type_name if self.template is not None else "custom_command"
        if not self.select_type(start) and self.template is None:
            self._select_first()
        if self.template is not None:
            self._fill_from(self.template)
        elif self.form is None:
            self._type_changed()

    # ------------------------------------------------------------------ type picker

    def _fill_types(self) -> None:
        model = QStandardItemModel(self.type_picker)
        for title, executors in picker_groups(self.registry):
            header = QStandardItem(title)
            header.setFlags(Qt.ItemFlag.NoItemFlags)  # a section title, not a choice
            font = QFont(header.font())
            font.setBold(True)
            header.setFont(font)
            model.appendRow(header)
            for executor in executors:
                item = QStandardItem(f"    {executor.display_title}")
                item.setData(executor.name, _TYPE_ROLE)
                item.setToolTip("\n".join(filter(None, (executor.name, executor.describe()))))
                model.appendRow(item)
        self.type_picker.setModel(model)

    def type_names(self) -> list[str]:
        """The selectable type names, in picker order."""
        model = self.type_picker.model()
        return [
            str(model.index(row, 0).data(_TYPE_ROLE))
            for row in range(model.rowCount())
            if model.index(row, 0).data(_TYPE_ROLE) is not None
        ]

    def select_type(self, name: str) -> bool:
        """Select a type by name; False if it is not registered."""
        index = self.type_picker.findData(name, _TYPE_ROLE)
        if index < 0:
            return False
        if index != self.type_picker.currentIndex():
            self.type_picker.setCurrentIndex(index)  # rebuilds the form
        elif self.form is None:
            self._type_changed()
        return True

    def current_type(self) -> str | None:
        data = self.type_picker.currentData(_TYPE_ROLE)
        return str(data) if data is not None else None

    def _select_first(self) -> None:
        names = self.type_names()
        if names:
            self.select_type(names[0])

    @Slot()
    def _type_changed(self) -> None:
        name = self.current_type()
        if name is None:  # a section header; the picker never keeps one selected
            self._select_first()
            return
        executor = self.registry.get(name)
        if executor is None:
            return
        if self.form is not None:
            self.form.deleteLater()
        self.form = TaskForm.for_executor(
            executor,
            credential_names=self.credential_names,
            editors=family_editors(self.registry.family_of(name), self.editors),
        )
        self.form.setObjectName("taskForm")
        self.form.changed.connect(self._form_changed)
        self.params_scroll.setWidget(self.form)
        self.summary.setText(executor.describe())
        self.summary.setVisible(bool(executor.describe()))
        self.params_box.setTitle(f"Parameters — {name}")
        self.name_edit.setPlaceholderText(f"default: {name}")
        self.category_edit.setPlaceholderText(self._family_category() or "general")
        self._show_message("")
        self._form_changed()

    @Slot()
    def _form_changed(self) -> None:
        if self.form is None:
            return
        name = self.current_type() or ""
        values = self.form.values()
        self.name_edit.setPlaceholderText(f"default: {self.registry.default_name(name, values)}")

    # ------------------------------------------------------------------ duplicate

    @Slot(Task, str)
    def apply_template(self, task: Task, name: str = "") -> None:
        """Fill the form from the template `name`'s new task (its settings carry over as a
        duplicate's do)."""
        self.template = task.copy()
        self.setWindowTitle(f"New task from template “{name or task.name}”")
        self._fill_from(task)

    def _fill_from(self, task: Task) -> None:
        if not self.select_type(task.type_name):
            self._select_first()
            self._show_message(
                f"The task type {task.type_name!r} is not available here (no executor is "
                "registered for it): choose another type."
            )
        elif self.form is not None:
            self.form.set_values(task.params)
        self.name_edit.setText(task.name)
        # Empty means the type's family category, so "general" is kept only when typed.
        general = task.category == "general" and not self._family_category()
        self.category_edit.setText("" if general else task.category)
        self.tags_edit.setText(", ".join(task.tags))
        self.priority_combo.setCurrentIndex(self.priority_combo.findData(task.priority))
        # A task the engine took has its queue, retries and timeout filled (None: no timeout);
        # a template it never took (a schedule's) keeps None for "the queue's default".
        taken = task.queue is not None
        retries = task.max_retries
        self.retries_spin.setValue(QUEUE_DEFAULT if retries is None else retries)
        timeout = task.timeout_s
        if timeout is None:
            self.timeout_spin.setValue(0 if taken else QUEUE_DEFAULT)
        else:
            self.timeout_spin.setValue(round(timeout))
        if task.queue:
            self.queue_defaults.add_queue(task.queue)
        self.queue_combo.setCurrentIndex(max(0, self.queue_combo.findData(task.queue)))
        self.permission_combo.setCurrentIndex(
            max(0, self.permission_combo.findData(Permission(task.permission)))
        )
        for key, spin in self.needs.items():
            value = task.resources.get(key)
            spin.setValue(float(value) if isinstance(value, (int, float)) else 0.0)
        self.after_edit.setText(", ".join(task.depends_on))
        self.notify_edit.setText(task.notify_webhook or "")

    def _family_category(self) -> str | None:
        """The category the chosen type's family gives tasks that name none (`Family.category`)."""
        family = self.registry.family_of(self.current_type() or "")
        return family.category if family is not None else None

    # ------------------------------------------------------------------ result

    def tags(self) -> list[str]:
        """The tags typed, trimmed, without blanks or repeats."""
        parts = (t.strip() for t in self.tags_edit.text().split(","))
        return list(dict.fromkeys(t for t in parts if t))

    def resources(self) -> dict[str, Any]:
        """What the "Needs" boxes ask for (only the ones set), plus the duplicated task's
        other needs (e.g. disk_path)."""
        needs: dict[str, Any] = {}
        if self.template is not None:
            needs = {k: v for k, v in self.template.resources.items() if k not in self.needs}
        for key, spin in self.needs.items():
            if spin.value() > 0:
                needs[key] = int(spin.value()) if key == "cpu_cores" else spin.value()
        return needs

    def depends_on(self) -> list[str]:
        parts = (p.strip() for p in self.after_edit.text().replace(" ", ",").split(","))
        return list(dict.fromkeys(p for p in parts if p))

    def notify_webhook(self) -> str | None:
        """The "Notify webhook" URL typed (None: none, its queue's applies)."""
        return self.notify_edit.text().strip() or None

    def build_task(self) -> Task:
        """The task the dialog describes now; QueueError if its params do not validate."""
        name = self.current_type()
        if name is None or self.form is None:
            raise QueueError("VALIDATION_INVALID_PARAMS", "choose a task type")
        executor = self.registry.get(name)
        if executor is None:
            raise QueueError("QUEUE_UNKNOWN_TASK_TYPE", f"no executor for {name!r}")
        params = executor.validate(self.form.values())
        fields: dict[str, Any] = {}
        if self.template is not None:
            # Settings the dialog has no widget for carry over from the duplicated task.
            t = self.template
            fields = {
                "retry_backoff": t.retry_backoff,
                "retry_on": list(t.retry_on),
                "no_retry_on": list(t.no_retry_on),
                "on_interrupt": t.on_interrupt,
                "ttl_s": t.ttl_s,
                "allow_dependency_failure": t.allow_dependency_failure,
            }
        timeout = sent(self.timeout_spin.value())
        queue = self.queue_combo.currentData()
        return Task(
            task_type=parse_task_type(name),
            params=params,
            name=self.name_edit.text().strip() or self.registry.default_name(name, params),
            category=self.category_edit.text().strip() or self._family_category() or "general",
            tags=self.tags(),
            priority=Priority(self.priority_combo.currentData()),
            max_retries=sent(self.retries_spin.value()),  # None: the queue's default
            timeout_s=None if timeout is None else float(timeout),  # 0 ("none"): no timeout
            queue=None if queue is None else str(queue),  # None: the priority picks it
            permission=Permission(self.permission_combo.currentData()),
            resources=self.resources(),
            depends_on=self.depends_on(),
            notify_webhook=self.notify_webhook(),
            **fields,
        )

    def task(self) -> Task | None:
        """The task accepted with OK (None before, or after Cancel)."""
        return self._task

    @Slot()
    def accept(self) -> None:
        """Queue only params that validate; otherwise show why, under each field. With a
        submitter, close only once it took the task."""
        task = self.checked_task()
        if task is None:
            return
        if not self.submits():
            self._task = task
            super().accept()
            return
        self.ok_button.setEnabled(False)
        self._jobs.spawn(self._send(task), "submit the task form")

    def submits(self) -> bool:
        """Whether OK hands the task to the engine before closing."""
        return self.submit is not None

    async def _submit(self, task: Task) -> None:
        """Hand `task` over (QueueError: refused). Subclasses save it elsewhere."""
        assert self.submit is not None
        self.queued_id = await self.submit(task)

    async def _send(self, task: Task) -> None:
        try:
            await self._submit(task)
        except QueueError as exc:
            text = error_text(exc)
            if "dependency_id" in exc.details:
                self._show_after_problem(f"{exc.code.value}: {exc}")
            self._show_message(text)
            self.saveFailed.emit(text)
            return
        finally:
            self.ok_button.setEnabled(True)
        self._task = task
        QDialog.accept(self)

    def checked_task(self) -> Task | None:
        """`build_task()` once the form is valid; None (the problems shown) otherwise."""
        if self.form is None or not self.form.is_valid():
            self._show_message("Correct the fields marked in red.")
            bad = self.form.first_invalid_widget() if self.form is not None else None
            if bad is not None:
                self.params_scroll.ensureWidgetVisible(bad)
                bad.setFocus()
            return None
        url = self.notify_webhook()
        problem = url_problem(url, "Notify webhook") if url is not None else None
        self._show_notify_problem(problem or "")
        if problem is not None:  # as the engine would refuse it (engine/adding.py)
            self._show_message("Correct “Notify webhook”: nothing was queued yet.")
            self.notify_edit.setFocus()
            return None
        try:
            task = self.build_task()
        except QueueError as exc:
            self._show_message(str(exc))
            return None
        if self.known_tasks is not None and task.depends_on:
            try:
                task.depends_on = resolve_run_after(
                    task.depends_on, self.known_tasks, allow_failed=task.allow_dependency_failure
                )
            except QueueError as exc:
                self._show_after_problem(f"{exc.code.value}: {exc}")
                self._show_message("Correct “Run after”: nothing was queued yet.")
                self.after_edit.setFocus()
                return None
        self._show_after_problem("")
        self._show_message("")
        return task

    def _show_after_problem(self, text: str) -> None:
        _show_problem(self.after_edit, self.after_message, text)

    def _show_notify_problem(self, text: str) -> None:
        _show_problem(self.notify_edit, self.notify_message, text)

    def _show_message(self, text: str) -> None:
        self.message.setText(text)
        self.message.setVisible(bool(text))


def _problem_label(name: str) -> QLabel:
    """A hidden red label that says what is wrong with the field above it."""
    label = QLabel()
    label.setObjectName(name)
    label.setWordWrap(True)
    # Top-aligned: the form may give a wrapped label more height than its lines need.
    label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
    label.setStyleSheet(themed("color: #c62828;"))
    label.hide()
    return label


def _show_problem(edit: QLineEdit, label: QLabel, text: str) -> None:
    """Show `text` under `edit` and frame it red (empty `text`: clear both)."""
    label.setText(text)
    label.setVisible(bool(text))
    edit.setStyleSheet(themed("border: 1px solid #c62828;") if text else "")
