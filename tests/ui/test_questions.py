"""Questions a running task asks a person, in the window: the Questions view with its count
badge, the tray message, and the answer box in the detail pane, over a real engine (a python
executor calling `ctx.ask`, and a shell command running `qtqueue ask`)."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Any, ClassVar

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from qtqueue.core.question import Question
from qtqueue.core.task import Task, TaskStatus, TaskType
from qtqueue.executors.base import Executor, Params, RunContext
from qtqueue.ui.app_settings import KEY_NOTIFICATIONS, NotificationMode
from qtqueue.ui.main_window import MainWindow

from .conftest import Run, in_status, picture, until, until_row

QTQUEUE = str(Path(sys.executable).with_name("qtqueue"))


class AskParams(Params):
    message: str
    request_type: str = "question"


class Asks(Executor):
    """Asks a person through `ctx.ask` and finishes with what it was told."""

    task_type: ClassVar[str] = "asks"
    params_model = AskParams

    async def run(self, ctx: RunContext) -> dict[str, Any] | None:  # type: ignore[type-arg]
        q = await ctx.ask(
            ctx.params.message, request_type=ctx.params.request_type, context={"branch": "main"}
        )
        return {"answer": q.answer, "response_type": q.response_type, "by": q.generated_by}


def tab_text(window: MainWindow) -> str:
    return window.form.tabs.tabText(window.form.tabs.indexOf(window.questions))


async def open_questions(window: MainWindow, count: int) -> None:
    """Wait until the Questions view lists `count` open questions."""
    await until(lambda: window.questions.count == count, window.questions.refreshed)


def test_a_task_that_asks_shows_in_the_badge_and_goes_on_with_the_answer_from_the_pane(
    window: MainWindow, qtbot: QtBot, run: Run
) -> None:
    window.queue.register_executor(Asks())
    notes: list[tuple[str, str]] = []
    window.notifier.notification.connect(lambda title, message, _f: notes.append((title, message)))
    assert window.questions.action.text() == "Questions"

    task_id = run(window.queue.add_task(Task("asks", {"message": "Which branch?"}, name="deploy")))
    run(open_questions(window, 1))

    assert window.questions.action.text() == "Questions (1)"
    assert tab_text(window) == "Questions (1)"
    row = window.questions.list.topLevelItem(0)
    assert row is not None
    assert [row.text(c) for c in range(3)] == ["deploy", "Question", "Which branch?"]
    assert row.text(4).endswith("s")  # time left, counting down from 30 minutes
    assert notes == [("Task asks a question", "deploy — Which branch?")]

    # Opening the question selects its task; the detail pane shows the answer box.
    window.questions.open_question(0)
    assert window.form.tabs.currentWidget() is window.form.tasksTab
    box = window.detail.answers
    run(until(lambda: box.open_question is not None, box.loaded))
    assert box.isVisible()
    assert box.question.text() == "Which branch?"
    assert box.context.text() == "branch: main"
    assert box.answer_button.isVisible() and not box.approve_button.isVisible()
    assert window.focusWidget() is box.input  # opened from the list: ready to type

    qtbot.keyClicks(box.input, "release-2")
    qtbot.mouseClick(box.answer_button, Qt.MouseButton.LeftButton)

    done = run(until_row(window, task_id, in_status(TaskStatus.COMPLETED)))
    assert done.result == {"answer": "release-2", "response_type": "answer", "by": "human"}
    run(open_questions(window, 0))
    assert window.questions.action.text() == "Questions"
    # The pane lists the answered question, and who answered it.
    run(until(lambda: box.history.topLevelItemCount() == 1, box.loaded))
    item = box.history.topLevelItem(0)
    assert item is not None
    assert [item.text(c) for c in range(3)] == ["Which branch?", "answered: release-2", "human"]
    assert not box.open_part.isVisible()


def test_a_command_asks_for_approval_with_qtqueue_ask_and_is_approved_in_the_pane(
    window: MainWindow, qtbot: QtBot, run: Run
) -> None:
    line = f"{shlex.quote(QTQUEUE)} ask --type approval 'Deploy to production?'"
    task_id = run(
        window.queue.add_task(
            Task(TaskType.CUSTOM_COMMAND, {"command": line, "shell": True}, name="ship")
        )
    )
    run(open_questions(window, 1))
    window.select_task(task_id)
    box = window.detail.answers
    run(until(lambda: box.open_question is not None, box.loaded))
    assert box.title().startswith("Approval")
    assert box.approve_button.isVisible() and box.reject_button.isVisible()
    assert not box.answer_button.isVisible()

    qtbot.keyClicks(box.input, "go ahead")
    qtbot.mouseClick(box.approve_button, Qt.MouseButton.LeftButton)

    done = run(until_row(window, task_id, in_status(TaskStatus.COMPLETED)), 30)
    assert done.status == TaskStatus.COMPLETED, done.error
    assert "go ahead" in window.queue.log_path(task_id).read_text()
    run(open_questions(window, 0))
    questions: list[Question] = run(window.queue.questions.list(open_only=False, task_id=task_id))
    assert [(q.response_type, q.generated_by) for q in questions] == [("approval", "human")]


def test_an_empty_answer_is_refused_in_the_box_and_nothing_is_sent(
    window: MainWindow, qtbot: QtBot, run: Run
) -> None:
    window.queue.register_executor(Asks())
    task_id = run(window.queue.add_task(Task("asks", {"message": "Name?"}, name="ask")))
    run(open_questions(window, 1))
    window.select_task(task_id)
    box = window.detail.answers
    run(until(lambda: box.open_question is not None, box.loaded))

    qtbot.mouseClick(box.answer_button, Qt.MouseButton.LeftButton)

    assert box.error.isVisible() and box.error.text() == "Type an answer first."
    still: list[Question] = run(window.queue.questions.list(task_id=task_id))
    assert [q.status for q in still] == ["open"]
    assert window.questions.count == 1


def test_with_notifications_off_a_question_still_counts_but_is_not_announced(
    window: MainWindow, run: Run
) -> None:
    window.app_settings.qsettings.setValue(KEY_NOTIFICATIONS, NotificationMode.NONE.value)
    window.queue.register_executor(Asks())
    seen: list[str] = []
    window.notifier.notification.connect(lambda title, _m, _f: seen.append(title))

    run(window.queue.add_task(Task("asks", {"message": "Quietly?"}, name="quiet")))
    run(open_questions(window, 1))  # the view has handed the question to the notifier

    window.notifier.flush()
    assert seen == []
    assert window.questions.action.text() == "Questions (1)"


# --------------------------------------------------------------------------- pictures


def test_the_window_pictured_with_a_question_open_and_a_task_held_by_resources(
    window: MainWindow, qtbot: QtBot, run: Run, shots: Path
) -> None:
    window.queue.register_executor(Asks())
    cores = window.queue.resources.probe.cpu_cores()
    asker = run(
        window.queue.add_task(
            Task(
                "asks",
                {
                    "message": "Push the image to the production registry now?",
                    "request_type": "approval",
                },
                name="release 2.4",
                resources={"cpu_cores": cores},
            )
        )
    )
    run(open_questions(window, 1))
    held = run(
        window.queue.add_task(
            Task(
                TaskType.CUSTOM_COMMAND,
                {"command": "echo training", "shell": True},
                name="train model",
                resources={"cpu_cores": 1, "memory_gb": 2},
            )
        )
    )
    run(until_row(window, held, lambda t: window.queue.overview.start_checks(t.id) is not None))

    window.select_task(asker)
    box = window.detail.answers
    run(until(lambda: box.open_question is not None, box.loaded))
    picture(window, shots / "question-open.png")
    window.form.tabs.setCurrentWidget(window.questions)
    picture(window, shots / "questions-view.png")
    window.form.tabs.setCurrentWidget(window.form.tasksTab)

    window.select_task(held)
    assert window.detail.wait_banner.checks is not None
    assert window.detail.form.waitBanner.isVisible()
    picture(window, shots / "held-by-resources.png")

    window.select_task(asker)
    run(until(lambda: box.open_question is not None, box.loaded))
    qtbot.mouseClick(box.reject_button, Qt.MouseButton.LeftButton)  # no words: a bare no
    done = run(until_row(window, asker, in_status(TaskStatus.COMPLETED)))
    assert done.result == {"answer": "rejected", "response_type": "rejection", "by": "human"}
    run(until(lambda: box.history.topLevelItemCount() == 1, box.loaded))
    item = box.history.topLevelItem(0)
    assert item is not None and (item.text(1), item.text(2)) == ("rejected", "human")
    picture(window, shots / "question-answered.png")
    run(until_row(window, held, in_status(TaskStatus.COMPLETED)))
