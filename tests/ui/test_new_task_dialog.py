"""NewTaskDialog: type picker by family, generated form, task settings, Duplicate."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import asyncio
from pathlib import Path
from typing import Any, ClassVar

import pytest
from pydantic import Field
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QDialog, QLineEdit, QSpinBox
from pytestqt.qtbot import QtBot

from qtqueue.core.task import Permission, Priority, Task, TaskStatus, TaskType
from qtqueue.engine.queue import TaskQueue
from qtqueue.executors import Executor, ExecutorRegistry, RunContext, default_registry
from qtqueue.executors.base import Params
from qtqueue.executors.family import Family
from qtqueue.ui.new_task_dialog import NewTaskDialog
from qtqueue.ui.paramform.form import TaskForm


class PushParams(Params):
    image: str = Field(..., description="Image to push")
    credential: str | None = Field(None, description="Registry login")


class FakeDockerPush(Executor):
    """Registered under a docker type name, so the picker shows a Docker group."""

    task_type: ClassVar[TaskType] = TaskType.DOCKER_PUSH
    params_model = PushParams
    summary = "Push an image"

    async def run(self, ctx: RunContext) -> dict[str, Any] | None:
        return None


class LoneExecutor(Executor):
    """A single plug-in executor (the older `qtqueue.executors` entry-point group): no family."""

    task_type: ClassVar[str] = "lone_tool"
    summary = "A tool without a family"

    async def run(self, ctx: RunContext) -> dict[str, Any] | None:
        return None


@pytest.fixture
def registry() -> ExecutorRegistry:
    """A Docker family of one small stand-in type, the built-in shell and system families,
    a handler and a plug-in executor that came without a family."""
    built_in = default_registry(entry_points=False)
    docker = built_in.family("docker")
    assert docker is not None
    reg = ExecutorRegistry()
    reg.add_family(
        Family("docker", docker.title, lambda: [FakeDockerPush()], name_keys=docker.name_keys)
    )
    for family in built_in.families():
        if family.name in ("shell", "system"):  # a registry of known shape: no new family
            reg.add_family(family)
    reg.register_handler("resize_images", lambda _task_id, params: {"n": len(params)})
    reg.register(LoneExecutor())
    return reg


def open_dialog(qtbot: QtBot, registry: ExecutorRegistry, **kwargs: Any) -> NewTaskDialog:
    dialog = NewTaskDialog(registry, **kwargs)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    return dialog


def current_form(dialog: NewTaskDialog) -> TaskForm:
    form = dialog.findChild(TaskForm, "taskForm")
    assert form is not None
    return form


def pick(dialog: NewTaskDialog, type_name: str) -> None:
    picker = dialog.findChild(QComboBox, "taskTypePicker")
    index = picker.findData(type_name, Qt.ItemDataRole.UserRole + 1)
    assert index >= 0, type_name
    picker.setCurrentIndex(index)


def click_ok(qtbot: QtBot, dialog: NewTaskDialog) -> None:
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)


def test_the_picker_groups_registered_types_by_family(
    qtbot: QtBot, registry: ExecutorRegistry
) -> None:
    dialog = open_dialog(qtbot, registry)
    picker = dialog.findChild(QComboBox, "taskTypePicker")
    model = picker.model()
    rows = [
        (
            model.index(r, 0).data().strip(),
            bool(model.flags(model.index(r, 0)) & Qt.ItemFlag.ItemIsSelectable),
        )
        for r in range(model.rowCount())
    ]

    # Each family's group is titled by its `Family.title`, in registration order; each
    # type reads as words (its executor's `title`, else made from its name).
    assert rows == [
        ("Docker", False),
        ("Docker push", True),
        ("Shell", False),
        ("Shell command", True),
        ("Script", True),
        ("System", False),
        ("System backup", True),
        ("System cleanup", True),
        ("System monitor", True),
        ("System update", True),
        ("Handlers", False),
        ("Resize images", True),
        ("Plug-ins", False),
        ("Lone tool", True),
    ]
    assert dialog.current_type() == "custom_command"
    assert dialog.objectName() == "newTaskDialog"
    for name in ("taskName", "taskCategory", "taskTags"):
        assert isinstance(dialog.findChild(QLineEdit, name), QLineEdit)
    for name in ("taskMaxRetries", "taskTimeout"):
        assert isinstance(dialog.findChild(QSpinBox, name), QSpinBox)
    priority = dialog.findChild(QComboBox, "taskPriority")
    assert [priority.itemText(i) for i in range(priority.count())] == [
        "Low",
        "Normal",
        "High",
        "Urgent",
    ]
    assert priority.currentText() == "Normal"


def test_picking_a_type_rebuilds_the_form(qtbot: QtBot, registry: ExecutorRegistry) -> None:
    dialog = open_dialog(qtbot, registry)
    assert "command" in current_form(dialog).field_names()

    pick(dialog, "custom_script")

    qtbot.waitUntil(lambda: len(dialog.findChildren(TaskForm)) == 1)  # the old one is gone
    form = current_form(dialog)
    assert form.field_names()[0] == "script_path"
    assert form is dialog.form
    assert dialog.params_box.title() == "Parameters — custom_script"

    pick(dialog, "system_monitor")
    qtbot.waitUntil(lambda: len(dialog.findChildren(TaskForm)) == 1)
    assert current_form(dialog).field_names() == [
        "monitor_type",
        "duration_s",
        "interval_s",
        "disk_path",
        "top_processes",
    ]


def test_ok_refuses_until_the_form_validates_then_gives_a_valid_task(
    qtbot: QtBot, registry: ExecutorRegistry
) -> None:
    dialog = open_dialog(qtbot, registry)
    form = current_form(dialog)

    click_ok(qtbot, dialog)

    assert dialog.isVisible() and dialog.task() is None
    assert form.error_text("command") == "required"
    assert dialog.message.text() == "Correct the fields marked in red."

    command = form.input_widget("command")
    assert isinstance(command, QLineEdit)
    qtbot.keyClicks(command, "true")
    qtbot.keyClicks(dialog.findChild(QLineEdit, "taskName"), "smoke test")
    qtbot.keyClicks(dialog.findChild(QLineEdit, "taskCategory"), "checks")
    qtbot.keyClicks(dialog.findChild(QLineEdit, "taskTags"), " nightly, ci ,, nightly")
    dialog.findChild(QComboBox, "taskPriority").setCurrentIndex(2)
    retries = dialog.findChild(QSpinBox, "taskMaxRetries")
    retries.selectAll()
    qtbot.keyClicks(retries, "3")
    timeout = dialog.findChild(QSpinBox, "taskTimeout")
    timeout.selectAll()
    qtbot.keyClicks(timeout, "90")

    with qtbot.waitSignal(dialog.accepted):
        click_ok(qtbot, dialog)

    assert dialog.result() == QDialog.DialogCode.Accepted
    task = dialog.task()
    assert isinstance(task, Task)
    assert task.task_type == TaskType.CUSTOM_COMMAND
    executor = registry.get(task.task_type)
    assert executor is not None
    assert executor.validate(task.params) == task.params
    assert task.params["command"] == "true"
    assert task.name == "smoke test"
    assert task.category == "checks"
    assert task.tags == ["nightly", "ci"]
    assert task.priority is Priority.HIGH
    assert task.max_retries == 3
    assert task.timeout_s == 90.0


def test_defaults_for_name_category_and_timeout(qtbot: QtBot, registry: ExecutorRegistry) -> None:
    dialog = open_dialog(qtbot, registry)
    command = current_form(dialog).input_widget("command")
    assert isinstance(command, QLineEdit)
    qtbot.keyClicks(command, "echo")
    assert dialog.name_edit.placeholderText() == "default: echo"

    with qtbot.waitSignal(dialog.accepted):
        click_ok(qtbot, dialog)

    task = dialog.task()
    assert task is not None
    assert (task.name, task.category, task.tags, task.priority) == (
        "echo",
        "system",  # the shell family's category (`Family.category`), as the placeholder shows
        [],
        Priority.NORMAL,
    )
    assert dialog.category_edit.placeholderText() == "system"
    # Queue, retries and timeout unset: the engine fills them from the queue the priority picks.
    assert (task.queue, task.max_retries, task.timeout_s) == (None, None, None)


def test_duplicate_opens_filled_from_an_existing_task(
    qtbot: QtBot, registry: ExecutorRegistry
) -> None:
    original = Task(
        TaskType.CUSTOM_SCRIPT,
        {"script_path": "/opt/nightly.sh", "script_args": ["--fast"], "env": {"A": "1"}},
        name="nightly",
        category="backup",
        tags=["cron", "db"],
        priority=Priority.URGENT,
        max_retries=2,
        retry_on=["NETWORK_TIMEOUT"],
        no_retry_on=["SYSTEM_PROCESS_KILLED"],
        timeout_s=600,
        resources={"cpu_cores": 2},
        permission=Permission.SUPERVISED,
        status=TaskStatus.FAILED,
    )

    dialog = open_dialog(qtbot, registry, task=original)

    assert dialog.windowTitle() == "Duplicate task"
    assert dialog.current_type() == "custom_script"
    values = current_form(dialog).values()
    assert values["script_path"] == "/opt/nightly.sh"
    assert values["script_args"] == ["--fast"]
    assert values["env"] == {"A": "1"}
    assert dialog.findChild(QLineEdit, "taskName").text() == "nightly"
    assert dialog.findChild(QLineEdit, "taskCategory").text() == "backup"
    assert dialog.findChild(QLineEdit, "taskTags").text() == "cron, db"
    assert dialog.findChild(QComboBox, "taskPriority").currentText() == "Urgent"
    assert dialog.findChild(QSpinBox, "taskMaxRetries").value() == 2
    assert dialog.findChild(QSpinBox, "taskTimeout").value() == 600

    with qtbot.waitSignal(dialog.accepted):
        click_ok(qtbot, dialog)

    copy = dialog.task()
    assert copy is not None
    assert copy.id != original.id and copy.status is TaskStatus.PENDING
    script = registry.get("custom_script")
    assert script is not None and copy.params == script.validate(original.params)
    assert (copy.name, copy.category, copy.tags, copy.priority) == (
        "nightly",
        "backup",
        ["cron", "db"],
        Priority.URGENT,
    )
    assert (copy.max_retries, copy.timeout_s) == (2, 600.0)
    assert (copy.retry_on, copy.no_retry_on) == (["NETWORK_TIMEOUT"], ["SYSTEM_PROCESS_KILLED"])
    assert copy.resources == {"cpu_cores": 2} and copy.permission is Permission.SUPERVISED


def test_duplicating_a_task_of_an_unregistered_type_says_so(
    qtbot: QtBot, registry: ExecutorRegistry
) -> None:
    dialog = open_dialog(qtbot, registry, task=Task("gone_plugin", {"x": 1}, name="old"))

    assert "'gone_plugin' is not available here" in dialog.message.text()
    assert dialog.current_type() == "docker_push"  # the first selectable type
    assert dialog.findChild(QLineEdit, "taskName").text() == "old"


def test_credential_fields_pick_from_the_names_given(
    qtbot: QtBot, registry: ExecutorRegistry
) -> None:
    dialog = open_dialog(qtbot, registry, credential_names=["hub", "quay"])
    pick(dialog, "docker_push")
    qtbot.waitUntil(lambda: len(dialog.findChildren(TaskForm)) == 1)
    picker = current_form(dialog).input_widget("credential")
    assert isinstance(picker, QComboBox) and not picker.isEditable()
    assert [picker.itemText(i) for i in range(picker.count())] == ["(none)", "hub", "quay"]

    picker.setCurrentIndex(2)
    qtbot.keyClicks(current_form(dialog).input_widget("image"), "app:1")
    with qtbot.waitSignal(dialog.accepted):
        click_ok(qtbot, dialog)
    task = dialog.task()
    assert task is not None and task.params == {"image": "app:1", "credential": "quay"}


def test_the_real_docker_types_have_their_forms(qtbot: QtBot) -> None:
    registry = default_registry(entry_points=False)
    dialog = open_dialog(qtbot, registry, credential_names=["hub"])
    picker = dialog.findChild(QComboBox, "taskTypePicker")
    model = picker.model()
    groups: dict[str, list[str]] = {}
    title = ""
    for row in range(model.rowCount()):
        index = model.index(row, 0)
        if model.flags(index) & Qt.ItemFlag.ItemIsSelectable:
            groups[title].append(index.data(Qt.ItemDataRole.UserRole + 1))  # the type name
        else:
            title = index.data()
            groups[title] = []
    # Every built-in family's group, under its title, holds exactly that family's types.
    for family in registry.families():
        own = sorted(e.name for e in registry if registry.family_of(e.name) is family)
        assert own and groups[family.title] == own, family.name
    assert "docker_push" in groups["Docker"]
    pick(dialog, "docker_push")
    qtbot.waitUntil(lambda: len(dialog.findChildren(TaskForm)) == 1)
    form = current_form(dialog)
    picker = form.input_widget("credential")
    assert isinstance(picker, QComboBox) and picker.itemText(1) == "hub"
    qtbot.keyClicks(form.input_widget("image_name"), "127.0.0.1:5000/app")
    picker.setCurrentIndex(1)
    with qtbot.waitSignal(dialog.accepted):
        click_ok(qtbot, dialog)
    task = dialog.task()
    assert task is not None and task.task_type == "docker_push"
    assert task.params["image_name"] == "127.0.0.1:5000/app"
    assert task.params["tag"] == "latest" and task.params["credential"] == "hub"


def test_a_handler_takes_json_params(qtbot: QtBot, registry: ExecutorRegistry) -> None:
    dialog = open_dialog(qtbot, registry)
    pick(dialog, "resize_images")
    qtbot.waitUntil(lambda: len(dialog.findChildren(TaskForm)) == 1)
    current_form(dialog).set_values({"width": 320})

    with qtbot.waitSignal(dialog.accepted):
        click_ok(qtbot, dialog)

    task = dialog.task()
    assert task is not None
    assert (task.task_type, task.params) == ("resize_images", {"width": 320})


def test_a_task_from_the_dialog_runs_to_completion(
    qtbot: QtBot, registry: ExecutorRegistry, tmp_path: Path
) -> None:
    dialog = open_dialog(qtbot, registry)
    command = current_form(dialog).input_widget("command")
    assert isinstance(command, QLineEdit)
    qtbot.keyClicks(command, "true")
    with qtbot.waitSignal(dialog.accepted):
        click_ok(qtbot, dialog)
    task = dialog.task()
    assert task is not None

    async def run() -> Task:
        async with TaskQueue(tmp_path / "q", registry=default_registry(entry_points=False)) as q:
            task_id = await q.add_task(task)
            return await q.wait_for(task_id, timeout_s=30)

    done = asyncio.run(run())
    assert done.status is TaskStatus.COMPLETED
    assert done.progress == 100
    assert done.result == {"exit_code": 0}


def test_the_scheduling_box_sets_queue_approval_needs_and_dependencies(
    qtbot: QtBot, registry: ExecutorRegistry, tmp_path: Path
) -> None:
    """What the dialog asks for reaches the engine: the task waits in its queue for approval
    and for the task it runs after, with its needs recorded; duplicating it keeps them."""
    dialog = open_dialog(qtbot, registry)
    qtbot.keyClicks(current_form(dialog).input_widget("command"), "true")
    queue_box = dialog.findChild(QComboBox, "taskQueue")
    assert [queue_box.itemText(i) for i in range(queue_box.count())] == [
        "By priority (→ default)", "high_priority", "default", "low_priority"]  # fmt: skip
    queue_box.setCurrentIndex(queue_box.findData("high_priority"))
    approval = dialog.findChild(QComboBox, "taskPermission")
    approval.setCurrentIndex(approval.findData(Permission.HUMAN_REQUIRED))
    dialog.needs["cpu_cores"].setValue(1)
    dialog.needs["memory_gb"].setValue(0.5)

    async def scenario() -> tuple[Task, Task]:
        async with TaskQueue(tmp_path / "q", registry=default_registry(entry_points=False)) as q:
            first = await q.add_task(Task(TaskType.CUSTOM_COMMAND, {"command": "sleep 30",
                                                                    "shell": True}))
            qtbot.keyClicks(dialog.after_edit, first)
            with qtbot.waitSignal(dialog.accepted):
                click_ok(qtbot, dialog)
            made = dialog.task()
            assert made is not None
            task_id = await q.add_task(made)
            stored = await q.get_task(task_id)
            await q.cancel_task(first)
            return made, stored

    made, stored = asyncio.run(scenario())
    assert stored.queue == "high_priority"
    assert stored.permission is Permission.HUMAN_REQUIRED
    assert stored.resources == {"cpu_cores": 1, "memory_gb": 0.5}
    assert stored.depends_on == made.depends_on and len(made.depends_on) == 1
    assert stored.wait_reason == "awaiting approval"

    again = open_dialog(qtbot, registry, task=stored)
    assert again.findChild(QComboBox, "taskQueue").currentData() == "high_priority"
    assert again.findChild(QComboBox, "taskPermission").currentData() == Permission.HUMAN_REQUIRED
    assert again.needs["memory_gb"].value() == 0.5
    assert again.after_edit.text() == made.depends_on[0]


def shown_dialog(qtbot: QtBot, registry: ExecutorRegistry, **kwargs: Any) -> NewTaskDialog:
    """The dialog shown, for a test running on the qasync loop (no nested event loop)."""
    dialog = NewTaskDialog(registry, **kwargs)
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


async def queue_from(qtbot: QtBot, dialog: NewTaskDialog, q: TaskQueue) -> Task:
    """OK in `dialog`, then the task it made as the engine stored it."""
    with qtbot.waitSignal(dialog.accepted):
        click_ok(qtbot, dialog)
    made = dialog.task()
    assert made is not None
    return await q.get_task(await q.add_task(made))


def spin_text(dialog: NewTaskDialog, name: str) -> str:
    box = dialog.findChild(QSpinBox, name)
    assert box is not None
    return box.text()


def choose(dialog: NewTaskDialog, combo_name: str, data: object) -> None:
    combo = dialog.findChild(QComboBox, combo_name)
    index = combo.findData(data)
    assert index >= 0, data
    combo.setCurrentIndex(index)


@pytest.mark.parametrize(
    ("priority", "queue", "retries", "timeout_s", "shown_timeout"),
    [
        (Priority.URGENT, "high_priority", 3, 3600.0, "1 h"),
        (Priority.HIGH, "high_priority", 3, 3600.0, "1 h"),
        (Priority.NORMAL, "default", 3, 7200.0, "2 h"),
        (Priority.LOW, "low_priority", 2, 14400.0, "4 h"),
    ],
)
def test_a_task_left_to_the_defaults_lands_in_the_queue_its_priority_picks(
    qtbot: QtBot,
    registry: ExecutorRegistry,
    tmp_path: Path,
    priority: Priority,
    queue: str,
    retries: int,
    timeout_s: float,
    shown_timeout: str,
) -> None:
    """The dialog names no queue, retries or timeout unless asked: it shows the queue the
    priority picks and that queue's defaults, and the engine gives the task exactly those."""

    async def scenario() -> Task:
        async with TaskQueue(tmp_path / "q", registry=default_registry(entry_points=False)) as q:
            dialog = shown_dialog(qtbot, registry, queues=q.list_queues())
            qtbot.keyClicks(current_form(dialog).input_widget("command"), "true")
            choose(dialog, "taskPriority", priority)
            assert dialog.findChild(QComboBox, "taskQueue").currentText() == (
                f"By priority (→ {queue})"
            )
            assert spin_text(dialog, "taskMaxRetries") == f"queue's default ({retries})"
            assert spin_text(dialog, "taskTimeout") == f"queue's default ({shown_timeout})"
            return await queue_from(qtbot, dialog, q)

    stored = asyncio.run(scenario())
    assert (stored.queue, stored.max_retries, stored.timeout_s) == (queue, retries, timeout_s)


def test_explicit_queue_retries_and_timeout_are_kept(
    qtbot: QtBot, registry: ExecutorRegistry, tmp_path: Path
) -> None:
    """A queue chosen by name wins over the priority, its defaults are the ones shown; 0
    retries means run once and "none" no timeout, both sent as such; a duplicate of the
    stored task keeps every one of them explicit."""

    async def scenario() -> tuple[Task, Task, Task]:
        async with TaskQueue(tmp_path / "q", registry=default_registry(entry_points=False)) as q:
            await q.set_queue("nightly", timeout_s=600, max_retries=5)
            dialog = shown_dialog(qtbot, registry, queues=q.list_queues())
            qtbot.keyClicks(current_form(dialog).input_widget("command"), "true")
            choose(dialog, "taskPriority", Priority.URGENT)
            choose(dialog, "taskQueue", "nightly")
            assert spin_text(dialog, "taskMaxRetries") == "queue's default (5)"
            assert spin_text(dialog, "taskTimeout") == "queue's default (10 m 00 s)"
            choose(dialog, "taskQueue", "low_priority")
            assert spin_text(dialog, "taskMaxRetries") == "queue's default (2)"
            retries = dialog.findChild(QSpinBox, "taskMaxRetries")
            retries.selectAll()
            qtbot.keyClicks(retries, "0")
            timeout = dialog.findChild(QSpinBox, "taskTimeout")
            timeout.selectAll()
            qtbot.keyClicks(timeout, "none")
            assert timeout.text() == "none"
            once = await queue_from(qtbot, dialog, q)

            dialog = shown_dialog(qtbot, registry, queues=q.list_queues())
            qtbot.keyClicks(current_form(dialog).input_widget("command"), "true")
            choose(dialog, "taskQueue", "nightly")
            timeout = dialog.findChild(QSpinBox, "taskTimeout")
            timeout.selectAll()
            qtbot.keyClicks(timeout, "90")
            nightly = await queue_from(qtbot, dialog, q)

            again = shown_dialog(
                qtbot, registry, task=once, queues=q.list_queues()
            )
            assert again.findChild(QComboBox, "taskQueue").currentData() == "low_priority"
            assert (spin_text(again, "taskMaxRetries"), spin_text(again, "taskTimeout")) == (
                "0",
                "none",
            )
            return once, nightly, await queue_from(qtbot, again, q)

    once, nightly, copy = asyncio.run(scenario())
    assert (once.queue, once.priority, once.max_retries, once.timeout_s) == (
        "low_priority",
        Priority.URGENT,
        0,
        None,  # no timeout, not low_priority's 4 h
    )
    assert (nightly.queue, nightly.max_retries, nightly.timeout_s) == ("nightly", 5, 90.0)
    assert (copy.queue, copy.max_retries, copy.timeout_s) == ("low_priority", 0, None)


def test_a_duplicate_of_a_task_left_to_its_queue_keeps_what_it_got(
    qtbot: QtBot, registry: ExecutorRegistry, tmp_path: Path
) -> None:
    """Duplicating a task the engine filled from its queue sends those values explicitly: the
    copy stays in that queue with those retries and timeout even after its priority changes."""

    async def scenario() -> Task:
        async with TaskQueue(tmp_path / "q", registry=default_registry(entry_points=False)) as q:
            first = await q.get_task(
                await q.add_task(Task(TaskType.CUSTOM_COMMAND, {"command": "true"}))
            )
            dialog = shown_dialog(
                qtbot, registry, task=first, queues=q.list_queues()
            )
            choose(dialog, "taskPriority", Priority.LOW)
            return await queue_from(qtbot, dialog, q)

    copy = asyncio.run(scenario())
    assert (copy.queue, copy.priority, copy.max_retries, copy.timeout_s) == (
        "default",
        Priority.LOW,
        3,
        7200.0,
    )


def test_an_empty_category_is_the_type_familys(qtbot: QtBot, tmp_path: Path) -> None:
    """A type whose family declares a category gets it when the category is left empty; one
    typed is kept, "general" included, also in a duplicate."""
    dialog = open_dialog(qtbot, default_registry(entry_points=False))
    pick(dialog, "system_monitor")
    assert dialog.category_edit.placeholderText() == "system"
    with qtbot.waitSignal(dialog.accepted):
        click_ok(qtbot, dialog)
    made = dialog.task()
    assert made is not None and made.category == "system"

    general = made.copy()
    general.category = "general"
    again = open_dialog(qtbot, default_registry(entry_points=False), task=general)
    assert again.category_edit.text() == "general"
    with qtbot.waitSignal(again.accepted):
        click_ok(qtbot, again)
    copy = again.task()
    assert copy is not None and copy.category == "general"
