"""The detail pane of issue 16 against a real engine: each task opens at the top, the command
that runs first, dependencies as links that select their task, "Open credentials" where the fix
is a stored credential, the "awaiting input" sign, and a cancelled task in words."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QTreeWidget
from pytestqt.qtbot import QtBot

from qtqueue.core.task import Task, TaskStatus, TaskType
from qtqueue.executors import default_registry
from qtqueue.ui.credentials_dialog import CredentialsDialog
from qtqueue.ui.detail_pane import DetailPane
from qtqueue.ui.main_window import MainWindow
from qtqueue.ui.task_in_words import cancelled_in_words, command_line

from .conftest import Run, in_status, picture, until, until_row
from .detail_env import select_shown


def shell(line: str, **kw: Any) -> Task:
    return Task(TaskType.CUSTOM_COMMAND, {"command": line, "shell": True}, **kw)


def names(view: QTreeWidget) -> list[str]:
    return [view.topLevelItem(i).text(0) for i in range(view.topLevelItemCount())]


def test_each_task_opens_at_the_top_with_its_error_in_view(window: MainWindow, run: Run) -> None:
    pane = window.detail
    f = pane.form
    window.resize(1280, 720)
    long = Task(
        TaskType.CUSTOM_COMMAND,
        {"command": "true", "env": {f"VAR_{i}": str(i) for i in range(40)}},
        name="many params",
    )

    async def scenario() -> tuple[str, str]:
        first = await window.queue.add_task(long)
        failed = await window.queue.add_task(shell("exit 3", name="broken", max_retries=0))
        await until_row(window, failed, in_status(TaskStatus.FAILED))
        await until_row(window, first, in_status(TaskStatus.COMPLETED))
        return first, failed

    first, failed = run(scenario())
    select_shown(window, run, first)
    bar = f.infoScroll.verticalScrollBar()
    assert bar.maximum() > 0
    bar.setValue(bar.maximum())  # the user read down to its parameters
    select_shown(window, run, failed)
    assert pane.task is not None and pane.task.id == failed
    assert bar.value() == 0
    assert not f.errorBox.visibleRegion().isEmpty()  # the error is what shows first
    assert f.errorCode.text() == "SYSTEM_COMMAND_FAILED"


def test_the_pane_shows_the_command_that_runs_first(window: MainWindow, run: Run) -> None:
    f = window.detail.form
    argv = Task(
        TaskType.CUSTOM_COMMAND,
        {"command": "echo", "args": ["hello world", "it's"]},
        name="greet",
    )

    async def scenario() -> None:
        plain = await window.queue.add_task(argv)
        line = await window.queue.add_task(shell("echo done", name="shell line"))
        await until_row(window, plain, in_status(TaskStatus.COMPLETED))
        await until_row(window, line, in_status(TaskStatus.COMPLETED))
        window.select_task(plain)
        await until(lambda: f.commandLine.text() != "", window.detail.logLoaded)
        assert f.commandLine.text() == "echo 'hello world' 'it'\"'\"'s'"
        assert not f.commandLine.visibleRegion().isEmpty()
        window.select_task(line)
        assert f.commandLine.text() == "/bin/sh -c 'echo done'"
        await until(lambda: "done" in window.detail.log_text(), window.detail.logLoaded)

    run(scenario())


def test_another_type_shows_its_one_line_summary(qtbot: QtBot) -> None:
    registry = default_registry(entry_points=False)
    pane = DetailPane(families=registry.families())
    qtbot.addWidget(pane)
    pull = Task(TaskType.DOCKER_PULL, {"image": "nginx:1.27"}, name="get nginx")
    pane.show_task(pull)
    assert pane.form.commandLine.text() == "Docker pull: nginx:1.27"
    assert pane.form.typeValue.text() == "Docker pull (docker_pull)"  # in words, and its name
    script = Task(
        TaskType.CUSTOM_SCRIPT,
        {"script_path": "/opt/my jobs/run.py", "script_args": ["-v"], "interpreter": "python3 -u"},
    )
    assert command_line(script) == "python3 -u '/opt/my jobs/run.py' -v"


def test_a_dependency_is_a_link_that_selects_it(
    window: MainWindow, run: Run, qtbot: QtBot, shots: Path
) -> None:
    pane = window.detail
    view = pane.form.dependencyView

    async def scenario() -> tuple[str, str]:
        fetch = await window.queue.add_task(shell("true", name="fetch data"))
        await until_row(window, fetch, in_status(TaskStatus.COMPLETED))
        then = await window.queue.add_task(
            shell("true", name="publish", depends_on=[fetch], run_at=time.time() + 3600)
        )
        await until_row(window, then, in_status(TaskStatus.PENDING))
        window.select_task(then)
        await until(lambda: names(view) == ["fetch data"], pane.dependenciesUpdated)
        return fetch, then

    fetch, _then = run(scenario())
    item = view.topLevelItem(0)
    assert item.font(0).underline()
    picture(pane, shots / "detail_dependency_link.png")
    view.scrollToItem(item)
    select_shown(
        window,
        run,
        fetch,
        lambda: qtbot.mouseClick(
            view.viewport(), Qt.MouseButton.LeftButton, pos=view.visualItemRect(item).center()
        ),
    )
    assert pane.task is not None and pane.task.id == fetch
    assert [t.id for t in window.selected_tasks()] == [fetch]


def test_a_missing_credential_offers_to_open_the_credentials(
    window: MainWindow, run: Run, qtbot: QtBot
) -> None:
    f = window.detail.form
    denied = shell(
        "echo 'denied: requested access to the resource is denied' >&2; exit 1",
        name="push image",
        max_retries=0,
    )

    async def scenario() -> tuple[str, str]:
        push = await window.queue.add_task(denied)
        other = await window.queue.add_task(shell("exit 3", name="broken", max_retries=0))
        await until_row(window, push, in_status(TaskStatus.FAILED))
        await until_row(window, other, in_status(TaskStatus.FAILED))
        return push, other

    push, other = run(scenario())
    select_shown(window, run, other)
    assert not f.openCredentialsButton.isVisible()  # a failing command needs no credential
    select_shown(window, run, push)
    assert f.errorCode.text() == "DOCKER_AUTHENTICATION_FAILED"
    assert f.openCredentialsButton.isVisible()
    qtbot.mouseClick(f.openCredentialsButton, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(
        lambda: any(d.isVisible() for d in window.findChildren(CredentialsDialog)), timeout=5000
    )
    for dialog in window.findChildren(CredentialsDialog):
        dialog.close()


def test_an_interactive_task_waiting_for_input_says_so(
    window: MainWindow, run: Run, qtbot: QtBot, shots: Path
) -> None:
    pane = window.detail
    f = pane.form
    ask = Task(
        TaskType.CUSTOM_COMMAND,
        {
            "command": sys.executable,
            "args": [
                "-c",
                "import sys; sys.stdout.write('Your name? '); sys.stdout.flush();"
                " print('hello ' + input())",
            ],
            "interactive": True,
        },
        name="ask a name",
    )

    async def scenario() -> str:
        task_id = await window.queue.add_task(ask)
        await until_row(window, task_id, in_status(TaskStatus.RUNNING))
        window.select_task(task_id)
        await until(
            lambda: f.awaitingInput.isVisible(),
            window.model.durationsTicked,
            pane.logLoaded,
            timeout_s=15,
        )
        assert "Awaiting input" in f.awaitingInput.text()
        picture(pane, shots / "detail_awaiting_input.png")
        qtbot.keyClicks(f.stdinInput, "Ada")
        qtbot.keyClick(f.stdinInput, Qt.Key.Key_Return)
        await until_row(window, task_id, in_status(TaskStatus.COMPLETED))
        await until(lambda: not f.awaitingInput.isVisible(), window.model.batchApplied)
        return task_id

    run(scenario())


def test_a_cancelled_task_says_who_cancelled_it(window: MainWindow, run: Run) -> None:
    f = window.detail.form

    async def scenario() -> str:
        task_id = await window.queue.add_task(shell("sleep 60", name="long sleep"))
        await until_row(window, task_id, in_status(TaskStatus.RUNNING))
        await window.queue.cancel_task(task_id)
        await until_row(window, task_id, in_status(TaskStatus.CANCELLED))
        return task_id

    task_id = run(scenario())
    select_shown(window, run, task_id)
    assert f.errorBox.isVisible()
    assert f.errorBox.title() == "Cancelled"
    assert f.errorMessage.text() == "Cancelled by the user"
    # No empty rows: no code, description or fix to show for a person's cancel.
    assert not f.errorCode.isVisible() and not f.errorSuggestion.isVisible()
    assert "None" not in f.errorMessage.text()


def test_cancelled_in_words_never_says_none() -> None:
    t = Task(TaskType.CUSTOM_COMMAND, {"command": "true"})
    t.status = TaskStatus.CANCELLED
    t.error = None
    assert cancelled_in_words(t) == "Cancelled by the user"
    t.error = "None"
    assert cancelled_in_words(t) == "Cancelled by the user"
    t.error_details = {"cancelled_by": "the scheduler"}
    assert cancelled_in_words(t) == "Cancelled by the scheduler"
