"""The window attaches to an engine that another process runs (`qtqueue run`): the same table,
controls and live log over the local API; closing the window leaves that engine running; the
engine going away is said in the window, not a crash."""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers.cli import qtqueue_env
from helpers.qt_loop import until_row
from PySide6.QtCore import QSettings
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QDialogButtonBox, QMessageBox, QPushButton

from qtqueue.app import create_main_window, wait_for_condition
from qtqueue.core.errors import QueueError
from qtqueue.core.task import ACTIVE, Task, TaskStatus
from qtqueue.executors import default_registry
from qtqueue.ui.main_window import MainWindow
from qtqueue.ui.new_task_dialog import NewTaskDialog
from qtqueue.ui.schedule_dialog import ScheduleEditor
from qtqueue.ui.settings_dialog import SettingsDialog

from .attach_env import Headless, headless_engine

Run = Callable[..., Any]


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Headless]:
    """One headless engine for the module's tests (each works on tasks of its own)."""
    with headless_engine(tmp_path_factory.mktemp("attach")) as running:
        yield running


@pytest.fixture
def attach_window(
    run: Run, open_windows: list[MainWindow], tmp_path: Path
) -> Callable[[Path], MainWindow]:
    """`attach_window(data_dir)`: the window opened on a data directory, shown. A test shuts
    it down itself (`run(w.shutdown())`) while its loop still runs: pytest-qt processes Qt
    events before fixtures are torn down, and a request under way must not be stepped then,
    outside the running loop."""

    def make(data_dir: Path) -> MainWindow:
        settings = QSettings(str(tmp_path / "window.ini"), QSettings.Format.IniFormat)
        w: MainWindow = run(
            create_main_window(
                data_dir, settings=settings, registry=default_registry(entry_points=False)
            )
        )
        open_windows.append(w)
        w.resize(1200, 800)
        w.show()
        return w

    return make


def status_in_engine(engine: Headless, task_id: str) -> str:
    """The task's status as the engine's own CLI reports it."""
    return str(json.loads(engine.cli("show", task_id, "--json"))["status"])


def shown_in_engine(engine: Headless, task_id: str) -> dict[str, Any]:
    """The task's fields as the engine's own CLI shows them (`qtqueue show ID --json`)."""
    shown: dict[str, Any] = json.loads(engine.cli("show", task_id, "--json"))["task"]
    return shown


async def queued(dialog: NewTaskDialog) -> str:
    """Click OK on a task form (or schedule editor) and wait for the engine's answer: the new
    task's id once it took it; the refusal shown in the form fails the test."""
    answer: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    dialog.accepted.connect(lambda: answer.done() or answer.set_result(""))
    dialog.saveFailed.connect(lambda text: answer.done() or answer.set_exception(
        AssertionError(f"the engine refused it: {text}")))  # fmt: skip
    dialog.ok_button.click()
    await asyncio.wait_for(answer, 15)
    return dialog.queued_id or ""


def test_the_window_attaches_and_shows_the_engines_tasks(
    engine: Headless, attach_window: Callable[[Path], MainWindow], run: Run
) -> None:
    before = engine.add("true", name="added before the window")
    w = attach_window(engine.data_dir)
    assert not w.queue.owns_engine
    assert w.queue.engine_pid == engine.proc.pid
    assert w.model.task_by_id(before) is not None
    words = f"attached to the engine of PID {engine.proc.pid}"
    assert words in w.windowTitle()
    assert w.engine_link.label.text() == f"Attached to the engine of PID {engine.proc.pid}"
    restore = w.dialogs.restore_action
    assert not restore.isEnabled()
    assert "stops the engine" in restore.toolTip()
    assert str(engine.proc.pid) in restore.toolTip()
    # The statistics tab's history comes from the engine too.
    run(until_row(w, before, lambda t: t.status == TaskStatus.COMPLETED))
    history = run(w.queue.get_history(3600, 60))
    assert sum(b["completed"] for b in history["buckets"]) >= 1  # the task added before
    run(w.shutdown())


def test_a_task_added_by_the_cli_appears_live(
    engine: Headless, attach_window: Callable[[Path], MainWindow], run: Run
) -> None:
    w = attach_window(engine.data_dir)

    async def scenario() -> Task:
        task_id = (await engine.acli("add", "command", "--name", "from the CLI", "--", "true"))
        return await until_row(w, task_id.strip(), lambda t: t.status == TaskStatus.COMPLETED)

    shown = run(scenario(), 30)
    assert shown.name == "from the CLI"
    run(w.shutdown())


def test_cancel_in_the_window_cancels_the_task_in_the_engine(
    engine: Headless, attach_window: Callable[[Path], MainWindow], run: Run
) -> None:
    w = attach_window(engine.data_dir)
    task_id = engine.add("sleep", "60", name="long sleeper")

    async def scenario() -> None:
        await until_row(w, task_id, lambda t: t.status in ACTIVE)
        w.select_tasks([task_id])
        assert w.form.actionCancel.isEnabled()
        w.form.actionCancel.trigger()
        boxes = [b for b in w.findChildren(QMessageBox, "confirmCancelTasks") if b.isVisible()]
        assert len(boxes) == 1
        act = boxes[0].findChild(QPushButton, "confirmAct")
        assert act is not None
        act.click()
        await until_row(w, task_id, lambda t: t.status == TaskStatus.CANCELLED)

    run(scenario(), 30)
    run(w.shutdown())
    assert status_in_engine(engine, task_id) == "cancelled"


def test_the_detail_pane_follows_the_log_live(
    engine: Headless, attach_window: Callable[[Path], MainWindow], run: Run, tmp_path: Path
) -> None:
    w = attach_window(engine.data_dir)
    go = tmp_path / "go"
    task_id = engine.add(
        "sh", "-c", f"echo first-line; while [ ! -e {go} ]; do sleep 0.05; done; echo second-line",
        name="talks twice",
    )
    pane = w.detail

    async def scenario() -> None:
        await until_row(w, task_id, lambda t: t.status in ACTIVE)
        w.select_tasks([task_id])
        await wait_for_condition(
            lambda: "first-line" in pane.log_text(), pane.logLoaded,
            pane.form.logView.textChanged, timeout_s=15,
        )
        assert "second-line" not in pane.log_text()  # the command has not written it yet
        go.touch()  # now it does, while the pane shows the log
        await wait_for_condition(
            lambda: "second-line" in pane.log_text(), pane.form.logView.textChanged, timeout_s=15
        )

    run(scenario(), 40)
    run(w.shutdown())


def test_the_settings_dialog_reads_and_changes_the_attached_engines_settings(
    engine: Headless, attach_window: Callable[[Path], MainWindow], run: Run
) -> None:
    engine.cli("config", "set", "engine.max_concurrent=3")
    w = attach_window(engine.data_dir)
    w.dialogs.settings_action.trigger()
    dialog = w.findChild(SettingsDialog, "settingsDialog")
    assert dialog is not None and dialog.isVisible()
    assert dialog.maxConcurrent.value() == 3  # the engine's, not this process's default
    dialog.maxConcurrent.setValue(6)
    dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
    assert dialog.saving is not None
    run(dialog.saving)
    run(w.shutdown())
    shown = json.loads(engine.cli("config", "get", "engine.max_concurrent", "--json"))
    assert shown == {"engine.max_concurrent": 6}  # applied by the engine and saved


def test_a_screenshot_of_the_attached_window_leaves_the_engine_running(
    engine: Headless, tmp_path: Path
) -> None:
    task_id = engine.add("true", name="in the picture")
    png = tmp_path / "attached.png"
    done = subprocess.run(
        [sys.executable, "-m", "qtqueue", "--data-dir", str(engine.data_dir), "gui",
         "--screenshot", str(png), "--size", "1000x640"],
        capture_output=True, text=True, timeout=60, check=False,
        env={**qtqueue_env(tmp_path), "QT_QPA_PLATFORM": "offscreen"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    image = QImage(str(png))
    assert (image.width(), image.height()) == (1000, 640)
    assert engine.proc.poll() is None and (engine.data_dir / "engine.json").exists()
    assert json.loads(engine.cli("show", task_id, "--json"))["name"] == "in the picture"


def test_a_question_is_answered_from_the_attached_window(
    engine: Headless, attach_window: Callable[[Path], MainWindow], run: Run
) -> None:
    w = attach_window(engine.data_dir)
    ask = f"{shlex.quote(sys.executable)} -m qtqueue ask 'Which branch?'"
    task_id = engine.add("sh", "-c", ask, name="asks the way")
    box = w.detail.answers

    async def scenario() -> None:
        await wait_for_condition(
            lambda: w.questions.count == 1, w.questions.refreshed, timeout_s=20
        )
        w.select_tasks([task_id])
        await wait_for_condition(lambda: box.open_question is not None, box.loaded, timeout_s=15)
        assert box.question.text() == "Which branch?"
        box.input.setText("release-2")
        box.answer_button.click()
        await until_row(w, task_id, lambda t: t.status == TaskStatus.COMPLETED, 20)

    run(scenario(), 60)
    run(w.shutdown())
    assert "release-2" in engine.cli("log", task_id)  # the command was told the answer


def test_closing_the_window_leaves_the_engine_running(
    engine: Headless, attach_window: Callable[[Path], MainWindow], run: Run
) -> None:
    w = attach_window(engine.data_dir)
    running = engine.add("sleep", "60", name="keeps running")
    closed: list[bool] = []
    w.closed.connect(lambda: closed.append(True))

    async def scenario() -> None:
        await until_row(w, running, lambda t: t.status in ACTIVE)
        w.close()  # no question: quitting this window stops none of the engine's tasks
        await wait_for_condition(lambda: bool(closed), w.closed, timeout_s=15)

    run(scenario(), 30)
    assert w.is_shut_down
    assert engine.proc.poll() is None
    assert (engine.data_dir / "engine.json").exists()
    assert status_in_engine(engine, running) == "running"
    engine.cli("cancel", running)


def test_the_engine_stopping_is_shown_and_its_return_followed(
    tmp_path: Path, attach_window: Callable[[Path], MainWindow], run: Run
) -> None:
    with headless_engine(tmp_path / "first") as first:
        gone = first.add("true", name="removed while away")
        w = attach_window(first.data_dir)
        run(until_row(w, gone, lambda t: t.status == TaskStatus.COMPLETED))
        label = w.engine_link.label
        first.proc.send_signal(signal.SIGTERM)
        run(wait_for_condition(
            lambda: "stopped" in label.text(), w.bridge.engineLinkChanged, timeout_s=20
        ))  # fmt: skip
        assert first.proc.wait(20) == 0
    assert w.isVisible()
    assert f"engine of PID {first.proc.pid} stopped" in w.windowTitle()
    assert "stopped" in w.statusBar().currentMessage()

    # An engine started again on the folder is found and followed, with what it holds.
    again = first.cli("add", "command", "--name", "added while away", "--", "true").strip()
    first.cli("remove", gone)
    with headless_engine(tmp_path / "first") as second:
        run(wait_for_condition(
            lambda: "stopped" not in label.text() and w.model.task_by_id(again) is not None,
            w.bridge.engineLinkChanged, w.model.batchApplied, timeout_s=20,
        ))  # fmt: skip
        assert w.model.task_by_id(gone) is None
        assert w.queue.engine_pid == second.proc.pid != os.getpid()
        assert label.text() == f"Attached to the engine of PID {second.proc.pid}"
        run(w.shutdown())  # before this engine stops: the window follows no engine any more


def test_a_second_window_attaches_to_the_engine_of_the_first(
    make_window: Callable[..., MainWindow],
    attach_window: Callable[[Path], MainWindow],
    data_dir: Path,
    run: Run,
) -> None:
    owner = make_window(data_dir)
    assert owner.queue.owns_engine
    assert "this window runs the engine" in owner.windowTitle()
    assert owner.dialogs.restore_action.isEnabled()
    second = attach_window(data_dir)
    assert not second.queue.owns_engine and second.queue.engine_pid == os.getpid()

    async def scenario() -> None:
        task_id = await owner.queue.add_task(Task.from_dict(
            {"task_type": "custom_command", "params": {"command": "true"}, "name": "seen twice"}
        ))  # fmt: skip
        await until_row(second, task_id, lambda t: t.status == TaskStatus.COMPLETED)
        await second.shutdown()

    run(scenario(), 30)
    assert owner.queue.started  # the second window's closing stopped nothing of the first's


def add_by_api(engine: Headless, **task: Any) -> str:
    """Add a task with fields the CLI's `add` has no option for (`qtqueue api`); its id."""
    request = {"action": "add_task", "params": {"task_type": "custom_command", **task}}
    return str(json.loads(engine.cli("api", json.dumps(request)))["result"]["id"])


def test_the_new_task_form_adds_a_task_to_the_attached_engine(
    engine: Headless, attach_window: Callable[[Path], MainWindow], run: Run
) -> None:
    w = attach_window(engine.data_dir)
    w.form.actionNewTask.trigger()
    dialog = w.findChild(NewTaskDialog)
    assert dialog is not None and dialog.isVisible() and dialog.select_type("custom_command")
    assert dialog.form is not None
    dialog.form.set_values({"command": "echo typed-in-the-form", "shell": True})
    dialog.name_edit.setText("from the attached form")

    async def scenario() -> Task:
        task_id = await queued(dialog)
        return await until_row(w, task_id, lambda t: t.status == TaskStatus.COMPLETED)

    done = run(scenario(), 30)
    assert [t.id for t in w.selected_tasks()] == [done.id]
    run(w.shutdown())
    shown = shown_in_engine(engine, done.id)
    assert (shown["name"], shown["status"]) == ("from the attached form", "completed")
    assert shown["created_by"]  # the engine named the user, as for a task added in process
    assert "typed-in-the-form" in engine.cli("log", done.id)


def test_duplicate_in_the_attached_window_adds_a_copy(
    engine: Headless, attach_window: Callable[[Path], MainWindow], run: Run
) -> None:
    original = engine.add("echo", "copied", name="to duplicate")
    w = attach_window(engine.data_dir)
    run(until_row(w, original, lambda t: t.status == TaskStatus.COMPLETED))
    w.select_tasks([original])
    assert w.task_actions.duplicate.isEnabled()
    w.task_actions.duplicate.trigger()
    dialog = w.findChild(NewTaskDialog)
    assert dialog is not None and dialog.template is not None
    assert dialog.template.status == TaskStatus.COMPLETED  # engine-owned fields, left behind

    async def scenario() -> Task:
        copy = await queued(dialog)
        assert copy and copy != original
        return await until_row(w, copy, lambda t: t.status == TaskStatus.COMPLETED)

    copy = run(scenario(), 30)
    run(w.shutdown())
    shown, first = shown_in_engine(engine, copy.id), shown_in_engine(engine, original)
    assert shown["name"] == "to duplicate" and shown["params"] == first["params"]
    assert shown["created_at"] > first["created_at"]


def test_a_schedule_is_added_and_edited_from_the_attached_window(
    engine: Headless, attach_window: Callable[[Path], MainWindow], run: Run
) -> None:
    w = attach_window(engine.data_dir)
    w.form.actionSchedules.trigger()
    schedules = w.dialogs.schedule_dialog
    assert schedules is not None and schedules.isVisible()

    def fill(editor: ScheduleEditor, command: str, name: str) -> None:
        assert editor.select_type("custom_command") and editor.form is not None
        editor.form.set_values({"command": command, "shell": True})
        editor.schedule_name.setText(name)

    def named(name: str) -> list[Any]:
        return [s for s in w.queue.schedules.list_schedules() if s.name == name]

    async def scenario() -> str:
        editor = schedules.add_schedule()
        fill(editor, "echo hourly", "attached hourly")
        editor.kind_combo.setCurrentIndex(0)
        editor.when_edit.setText("1h")
        await queued(editor)
        await wait_for_condition(lambda: bool(named("attached hourly")),
                                 w.bridge.schedulesChanged, timeout_s=15)  # fmt: skip
        [s] = named("attached hourly")
        schedules.select(s.id)
        editor = schedules.edit_schedule()
        assert editor is not None and editor.when_edit.text() == "1h"
        fill(editor, "echo every two hours", "attached, edited")
        editor.when_edit.setText("2h")
        await queued(editor)
        await wait_for_condition(lambda: bool(named("attached, edited")),
                                 w.bridge.schedulesChanged, timeout_s=15)  # fmt: skip
        return str(s.id)

    schedule_id = run(scenario(), 40)
    run(w.shutdown())
    shown = json.loads(engine.cli("schedule", "show", schedule_id, "--json"))
    shown = shown.get("schedule", shown)
    assert (shown["name"], shown["interval_s"]) == ("attached, edited", 7200)
    assert shown["template"]["params"]["command"] == "echo every two hours"
    engine.cli("schedule", "rm", schedule_id)


def test_requeue_of_an_empty_selection_changes_nothing(
    engine: Headless, attach_window: Callable[[Path], MainWindow], run: Run
) -> None:
    dead = add_by_api(
        engine, params={"command": "false"}, name="dies", max_retries=1, retry_backoff=[0.05]
    )
    w = attach_window(engine.data_dir)
    run(until_row(w, dead, lambda t: t.dead_letter))
    before = shown_in_engine(engine, dead)
    w.select_tasks([])  # e.g. another client requeued the selected one a moment before

    async def scenario() -> list[str]:
        await w.task_actions.requeue_selected_dead_letters()
        return await w.queue.requeue_dead_letters([])

    assert run(scenario()) == []  # as in process: no ids, nothing requeued
    run(w.shutdown())
    after = shown_in_engine(engine, dead)
    assert after["dead_letter"] and after["status"] == "failed"
    assert after["retry_count"] == before["retry_count"]  # never queued again


def test_the_attached_port_answers_bad_input_as_the_engine_in_process_does(
    engine: Headless, attach_window: Callable[[Path], MainWindow], run: Run
) -> None:
    """A wrong missed policy is the engine's coded refusal (not a ValueError of the window's
    process); input bytes go to the command as they are, and bytes that are not text (which
    the local API cannot carry) are a coded refusal, the task left running."""
    talker = add_by_api(engine, params={"command": "cat", "interactive": True}, name="cat")
    w = attach_window(engine.data_dir)
    template = {"task_type": "custom_command", "params": {"command": "true"}}

    async def scenario() -> tuple[QueueError, QueueError]:
        count = len(w.queue.schedules.list_schedules())
        with pytest.raises(QueueError) as missed:
            await w.queue.schedules.add_schedule(template, every="1h", missed="never")
        assert len(w.queue.schedules.list_schedules()) == count  # nothing created
        await until_row(w, talker, lambda t: t.status == TaskStatus.RUNNING)
        with pytest.raises(QueueError) as not_text:
            await w.queue.send_input(talker, b"\xff\xfe binary\n")
        await w.queue.send_input(talker, "héllo\n".encode(), eof=True)
        await until_row(w, talker, lambda t: t.status == TaskStatus.COMPLETED)
        return missed.value, not_text.value

    missed, not_text = run(scenario(), 30)
    assert missed.code.value == "VALIDATION_INVALID_FORMAT" and "never" in str(missed)
    assert not_text.code.value == "VALIDATION_INVALID_FORMAT" and "UTF-8" in str(not_text)
    run(w.shutdown())
    log = engine.cli("log", talker)
    assert "héllo" in log and "binary" not in log
