"""The task list's filters (issue 16): the search covers category, tags, error code and error
message and Esc clears it; the empty table says why, with a link out; the detail pane lets go
of a task the filters hide; a task the user opens while the filters hide it says so, with
"Show it"; the type choice reads each type's name in words."""

from __future__ import annotations

import time
from collections.abc import Callable

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from qtqueue.core.task import TERMINAL, Task, TaskStatus, TaskType
from qtqueue.ui.main_window import MainWindow
from qtqueue.ui.task_list.empty_state import CLEAR_LINK, NEW_LINK, SHOW_LINK
from qtqueue.ui.task_list.model import TaskTableModel
from qtqueue.ui.task_list.proxy import TaskFilterProxy
from qtqueue.ui.task_list.status_filters import BY_KEY, QUESTIONS

from .filters_env import command, shown_ids, shown_names, until, until_task

Run = Callable[..., object]


def search(window: MainWindow, qtbot: QtBot, text: str) -> list[str]:
    box = window.form.searchBox
    box.clear()
    qtbot.keyClicks(box, text)
    box.returnPressed.emit()
    return shown_names(window)


def test_search_finds_category_tags_error_code_and_error_message(
    window: MainWindow, run: Run, qtbot: QtBot
) -> None:
    async def scenario() -> Task:
        ids = await window.queue.add_tasks(
            [
                command("true", name="unit tests", category="build", tags=["nightly"]),
                command(
                    "echo 'registry said: access denied' >&2; exit 3",
                    name="push image",
                    category="deploy",
                    max_retries=0,
                ),
            ]
        )
        for i in ids:
            await until_task(window, i, lambda t: t.status in TERMINAL)
        failed = window.model.task_by_id(ids[1])
        assert failed is not None
        return failed

    failed = run(scenario())
    assert failed.error_code and failed.error
    assert search(window, qtbot, "NIGHTLY") == ["unit tests"]  # a tag
    assert search(window, qtbot, "deploy") == ["push image"]  # a category
    assert search(window, qtbot, failed.error_code.lower()) == ["push image"]  # the code
    assert search(window, qtbot, failed.error.split()[0]) == ["push image"]  # its words
    assert search(window, qtbot, "build nightly") == ["unit tests"]  # every word

    box = window.form.searchBox
    box.setFocus()
    qtbot.keyClick(box, Qt.Key.Key_Escape)
    assert box.text() == ""
    assert shown_names(window) == ["push image", "unit tests"]  # at once, no pause


def test_a_changed_error_is_found_by_the_search_at_once() -> None:
    model = TaskTableModel()
    proxy = TaskFilterProxy()
    proxy.setSourceModel(model)
    t = Task(TaskType.CUSTOM_COMMAND, {"command": "true"}, name="job")
    model.reset([t])
    proxy.set_search_text("quota")
    assert proxy.rowCount() == 0
    failed = t.copy()
    failed.status = TaskStatus.FAILED
    failed.error = "Disk quota exceeded"
    model.apply(changed=[failed])
    assert proxy.rowCount() == 1


def test_the_questions_and_scheduled_choices_keep_their_tasks() -> None:
    model = TaskTableModel()
    proxy = TaskFilterProxy()
    proxy.setSourceModel(model)
    asking = Task(TaskType.CUSTOM_COMMAND, {"command": "true"}, name="asks")
    asking.status = TaskStatus.RUNNING
    later = Task(TaskType.CUSTOM_COMMAND, {"command": "true"}, name="later")
    later.run_at = time.time() + 600
    model.reset([asking, later])
    proxy.set_choice(BY_KEY[QUESTIONS])
    assert proxy.rowCount() == 0
    proxy.set_asking({asking.id})  # a question came: the list follows
    assert proxy.rowCount() == 1
    proxy.set_choice(BY_KEY["scheduled"])
    assert [proxy.index(r, 0).data() for r in range(proxy.rowCount())] == ["later"]
    proxy.set_choice(BY_KEY["all"])
    assert proxy.rowCount() == 2 and not proxy.filtering


def test_the_empty_table_says_why_and_its_links_lead_out(
    window: MainWindow, run: Run, qtbot: QtBot
) -> None:
    empty = window.sidebar.empty
    assert empty.isVisible() and "No tasks yet" in empty.text()
    opened: list[bool] = []
    window.form.actionNewTask.triggered.disconnect()  # the dialog itself is not under test
    window.form.actionNewTask.triggered.connect(lambda: opened.append(True))
    empty.linkActivated.emit(NEW_LINK)
    assert opened == [True]

    done = run(window.queue.add_task(command("true", name="backup", category="ops")))
    run(until_task(window, done, lambda t: t.status == TaskStatus.COMPLETED))
    qtbot.waitUntil(lambda: not empty.isVisible())
    f = window.form
    f.filterStatus.setCurrentIndex(f.filterStatus.findText("Failed or timed out"))
    f.filterCategory.setCurrentIndex(f.filterCategory.findText("ops"))
    qtbot.keyClicks(f.searchBox, "backup")
    f.searchBox.returnPressed.emit()
    assert empty.isVisible() and "No tasks match these filters" in empty.text()
    table_rect = window.table.viewport().rect()
    assert table_rect.contains(empty.geometry())  # over the table, not beside it

    empty.linkActivated.emit(CLEAR_LINK)  # "Clear filters"
    assert shown_names(window) == ["backup"]
    assert not empty.isVisible()
    assert (f.filterStatus.currentIndex(), f.filterCategory.currentIndex()) == (0, 0)
    assert f.searchBox.text() == "" and not window.proxy.filtering
    assert window.sidebar.bar.status.list.selectedItems()[0].text().startswith("All")


def test_the_detail_pane_lets_go_of_a_task_the_filters_hide(
    window: MainWindow, run: Run, qtbot: QtBot
) -> None:
    done = run(window.queue.add_task(command("true", name="finished one")))
    run(until_task(window, done, lambda t: t.status == TaskStatus.COMPLETED))
    window.select_tasks([done])
    assert window.detail.task is not None and window.detail.task.id == done
    f = window.form
    f.filterStatus.setCurrentIndex(f.filterStatus.findText("Failed or timed out"))
    qtbot.waitUntil(lambda: window.detail.task is None)
    assert window.detail.form.pages.currentWidget() is window.detail.form.emptyPage
    f.filterStatus.setCurrentIndex(0)
    window.select_tasks([done])
    assert window.detail.task is not None


def test_a_new_task_the_filters_hide_says_so_and_show_it_selects_it(
    window: MainWindow, run: Run, qtbot: QtBot
) -> None:
    f = window.form
    f.filterStatus.setCurrentIndex(f.filterStatus.findText("Failed or timed out"))
    banner = window.sidebar.banner
    assert not banner.isVisible()

    async def add_as_the_dialog_does() -> str:
        task_id = await window.queue.add_task(
            command("sleep 30", name="fresh <one>", run_at=time.time() + 3600)
        )
        window.select_task(task_id)
        await until(lambda: banner.isVisible(), window.model.batchApplied)
        return task_id

    task_id = run(add_as_the_dialog_does())
    assert "“fresh &lt;one&gt;” is hidden by the filters" in banner.label.text()
    assert "hidden by the filters" in f.statusBar.currentMessage()
    assert task_id not in shown_ids(window)

    banner.label.linkActivated.emit(SHOW_LINK)  # "Show it"
    assert not banner.isVisible()
    assert not window.proxy.filtering
    assert [t.id for t in window.selected_tasks()] == [task_id]
    assert window.detail.task is not None and window.detail.task.id == task_id

    # A task the filters show raises no banner.
    other = run(window.queue.add_task(command("true", name="shown", run_at=time.time() + 3600)))
    window.select_task(other)
    run(until(lambda: window.model.task_by_id(other) is not None, window.model.batchApplied))
    assert not banner.isVisible()


def test_the_type_choice_reads_type_names_in_words(window: MainWindow, run: Run) -> None:
    done = run(window.queue.add_task(command("true", name="a command")))
    run(until_task(window, done, lambda t: t.status == TaskStatus.COMPLETED))
    combo = window.form.filterType
    texts = [combo.itemText(i) for i in range(combo.count())]
    title = window.queue.registry.titles()["custom_command"]  # "Shell command"
    assert title in texts and "custom_command" not in texts
    combo.setCurrentIndex(combo.findText(title))
    assert combo.currentData() == "custom_command"
    assert shown_names(window) == ["a command"]
