"""The status sidebar beside the task list (issue 16): live counts of the status choices,
categories and tags; a click filters the list and the filter combos follow (and back); it
folds, hides and keeps its width; counting 100,000 tasks stays quick."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QListWidget
from pytestqt.qtbot import QtBot

from qtqueue.core.task import TERMINAL, Permission, Task, TaskStatus, TaskType
from qtqueue.executors.base import Executor, Params, RunContext
from qtqueue.ui.main_window import MainWindow
from qtqueue.ui.task_list.sidebar import SideBar
from qtqueue.ui.task_list.status_filters import BY_KEY, QUESTIONS, LiveCounts, count_tasks

from .filters_env import command, shown_names, until, until_task

Run = Callable[..., object]


def click_row(qtbot: QtBot, lst: QListWidget, data: object) -> None:
    """Click the sidebar row holding `data` as a user would."""
    for i in range(lst.count()):
        item = lst.item(i)
        if item.data(Qt.ItemDataRole.UserRole) == data:
            lst.scrollToItem(item)
            center = lst.visualItemRect(item).center()
            qtbot.mouseClick(lst.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(center))
            return
    raise AssertionError(f"no sidebar row for {data!r}")


def selected(lst: QListWidget) -> list[object]:
    return [i.data(Qt.ItemDataRole.UserRole) for i in lst.selectedItems()]


def test_counting_puts_each_task_in_its_choices_categories_and_tags() -> None:
    now = 1_000_000.0

    def task(status: TaskStatus, **kw: object) -> Task:
        t = Task(TaskType.CUSTOM_COMMAND, {"command": "true"}, **kw)  # type: ignore[arg-type]
        t.status = status
        return t

    tasks = [
        task(TaskStatus.RUNNING, category="ml", tags=["gpu"]),
        task(TaskStatus.PENDING),
        task(TaskStatus.PENDING, run_at=now + 60, tags=["nightly", "gpu"]),
        task(TaskStatus.PENDING, run_at=now - 60),  # its time came: it waits for a slot
        task(TaskStatus.PENDING, permission=Permission.HUMAN_REQUIRED, category="deploy"),
        task(TaskStatus.PAUSED),
        task(TaskStatus.COMPLETED),
        task(TaskStatus.FAILED, dead_letter=True),
        task(TaskStatus.TIMEOUT),
        task(TaskStatus.CANCELLED),
    ]
    counts = count_tasks(tasks, asking={tasks[0].id}, now=now)
    assert dict(counts.statuses) == {
        "all": 10, "unfinished": 6, "running": 1, "waiting": 3, "approval": 1,
        "scheduled": 1, "paused": 1, "finished": 4, "completed": 1, "failed": 2,
        "cancelled": 1, "dead_letters": 1, "questions": 1,
    }  # fmt: skip
    assert counts.categories == {"general": 8, "ml": 1, "deploy": 1}
    assert counts.tags == {"gpu": 2, "nightly": 1}
    assert counts.next_due == now + 60  # then "Scheduled" moves to "Waiting"
    # Each count is what the list shows when that choice filters it.
    for key, n in counts.statuses.items():
        assert sum(BY_KEY[key].matches(t, now, {tasks[0].id}) for t in tasks) == n, key


def test_counts_kept_task_by_task_match_a_fresh_count() -> None:
    now = 1_000_000.0
    statuses = list(TaskStatus)
    tasks = {}
    for i in range(300):
        t = Task(
            TaskType.CUSTOM_COMMAND, {"command": "true"}, name=f"t{i}",
            category=f"c{i % 4}", tags=[f"g{i % 3}"] if i % 2 else [],
            run_at=now + (i % 5 - 2) * 60, dead_letter=i % 11 == 0,
        )  # fmt: skip
        t.status = statuses[i % len(statuses)]
        tasks[t.id] = t
    live = LiveCounts()
    live.reset(tasks.values(), asking=set(list(tasks)[:5]), now=now)
    ids = list(tasks)
    for step, task_id in enumerate(ids[::3]):  # each third task changes status, tags, category
        t = tasks[task_id].copy()
        t.status = statuses[(step * 7) % len(statuses)]
        t.tags = ["moved"] if step % 2 else []
        t.category = "other"
        tasks[task_id] = t
        live.update([t], now=now)
    gone = ids[1::7]
    live.remove(gone)
    for task_id in gone:
        del tasks[task_id]
    asking = set(ids[2:9])
    live.set_asking(asking, tasks.get)
    fresh = count_tasks(tasks.values(), asking, now=now)

    def nonzero(c: Counter[str]) -> dict[str, int]:
        return {k: n for k, n in c.items() if n}

    assert nonzero(live.counts.statuses) == nonzero(fresh.statuses)
    assert nonzero(live.counts.categories) == nonzero(fresh.categories)
    assert nonzero(live.counts.tags) == nonzero(fresh.tags)
    assert live.counts.next_due == fresh.next_due


def test_the_sidebar_counts_follow_the_engine_and_a_click_filters_the_list(
    window: MainWindow, run: Run, qtbot: QtBot
) -> None:
    bar: SideBar = window.sidebar.bar

    async def scenario() -> list[str]:
        ids = await window.queue.add_tasks(
            [
                command("true", name="unit tests", category="build", tags=["ci"]),
                command("true", name="lint", category="build", tags=["ci"]),
                command("exit 3", name="push image", category="deploy", max_retries=0),
                command("true", name="rotate logs", run_at=time.time() + 3600),
                command("true", name="to production", permission=Permission.HUMAN_REQUIRED),
            ]
        )
        for i in ids[:3]:
            await until_task(window, i, lambda t: t.status in TERMINAL)
        await until(lambda: bar.count_text("status", "all") == "All (5)", window.model.batchApplied)
        return ids

    run(scenario())
    texts = [bar.status.list.item(i).text() for i in range(bar.status.list.count())]
    assert texts == [
        "All (5)", "Running (0)", "Waiting (1)", "Awaiting approval (1)", "Scheduled (1)",
        "Paused (0)", "Completed (2)", "Failed (1)", "Cancelled (0)", "Dead letters (0)",
        "Questions (0)",
    ]  # fmt: skip
    assert bar.count_text("categories", "build") == "build (2)"
    assert bar.count_text("categories", "deploy") == "deploy (1)"
    assert bar.count_text("tags", "ci") == "ci (2)"

    f = window.form
    click_row(qtbot, bar.status.list, "failed")
    assert shown_names(window) == ["push image"]
    assert f.filterStatus.currentText() == "Failed or timed out"  # the combo follows
    click_row(qtbot, bar.status.list, "scheduled")
    assert shown_names(window) == ["rotate logs"]
    click_row(qtbot, bar.status.list, "all")
    click_row(qtbot, bar.categories.list, "build")
    assert shown_names(window) == ["lint", "unit tests"]
    assert f.filterCategory.currentData() == "build"
    click_row(qtbot, bar.categories.list, None)
    click_row(qtbot, bar.tags.list, "ci")
    assert f.filterTag.currentData() == "ci"
    assert shown_names(window) == ["lint", "unit tests"]

    # The combos are the one truth: choosing there moves the sidebar's selection.
    f.filterTag.setCurrentIndex(0)
    f.filterStatus.setCurrentIndex(f.filterStatus.findText("Awaiting approval"))
    assert selected(bar.status.list) == ["approval"]
    assert selected(bar.tags.list) == [None]
    assert shown_names(window) == ["to production"]
    # A combo choice the sidebar has no row for selects none there.
    f.filterStatus.setCurrentIndex(f.filterStatus.findText("Unfinished"))
    assert selected(bar.status.list) == []
    assert shown_names(window) == ["rotate logs", "to production"]


class _AsksOnce(Executor):
    """Runs until a person answers the one question it asks."""

    task_type: ClassVar[str] = "asks_once"
    params_model = Params

    async def run(self, ctx: RunContext) -> dict[str, Any] | None:  # type: ignore[type-arg]
        answered = await ctx.ask("Go on?")
        return {"told": answered.answer}


def test_the_questions_row_counts_and_lists_the_tasks_that_ask(
    window: MainWindow, run: Run, qtbot: QtBot
) -> None:
    bar: SideBar = window.sidebar.bar
    window.queue.register_executor(_AsksOnce())

    async def ask() -> str:
        await window.queue.add_task(command("true", name="quiet"))
        asking = await window.queue.add_task(Task("asks_once", {}, name="asking"))
        await until(lambda: bar.count_text("status", QUESTIONS) == "Questions (1)",
                    window.questions.refreshed)  # fmt: skip
        return asking

    asking = run(ask())
    click_row(qtbot, bar.status.list, QUESTIONS)
    assert shown_names(window) == ["asking"]

    async def answer() -> None:
        (question,) = await window.queue.questions.list(task_id=asking)
        await window.queue.questions.answer(question.id, "yes")
        await until(lambda: bar.count_text("status", QUESTIONS) == "Questions (0)",
                    window.questions.refreshed)  # fmt: skip

    run(answer())
    assert shown_names(window) == []  # answered: no longer among the questions


def test_a_scheduled_task_moves_to_waiting_when_its_time_comes(
    window: MainWindow, run: Run, qtbot: QtBot
) -> None:
    bar: SideBar = window.sidebar.bar

    async def scenario() -> None:
        await window.queue.pause_queue()  # it stays waiting once its time came
        await window.queue.add_task(command("true", name="soon", run_at=time.time() + 1.0))
        await until(
            lambda: bar.count_text("status", "scheduled") == "Scheduled (1)",
            window.model.batchApplied,
        )

    run(scenario())
    f = window.form
    f.filterStatus.setCurrentIndex(f.filterStatus.findText("Waiting"))
    assert shown_names(window) == []
    qtbot.waitUntil(lambda: bar.count_text("status", "waiting") == "Waiting (1)", timeout=5000)
    assert bar.count_text("status", "scheduled") == "Scheduled (0)"
    assert shown_names(window) == ["soon"]


def test_the_sidebar_folds_hides_and_keeps_its_width(
    make_window: Callable[..., MainWindow], tmp_path: Path, qtbot: QtBot
) -> None:
    first = make_window(tmp_path / "one")
    host = first.sidebar
    assert host.bar.isVisible()
    origin = QPoint(0, 0)
    assert host.bar.mapTo(first, origin).x() < first.table.mapTo(first, origin).x()
    host.bar.status.header.click()  # fold "Status"
    assert not host.bar.status.list.isVisible()
    host.bar.status.header.click()
    assert host.bar.status.list.isVisible()
    host.splitter.setSizes([300, 800])
    qtbot.waitUntil(lambda: host.bar.width() == 300)

    second = make_window(tmp_path / "two")  # the same settings
    qtbot.waitUntil(lambda: second.sidebar.bar.width() == 300)
    action = second.sidebar.action
    assert action in second.form.menuView.actions() and action.isChecked()
    action.trigger()  # View › Sidebar off
    assert not second.sidebar.bar.isVisible()

    third = make_window(tmp_path / "three")
    assert not third.sidebar.bar.isVisible() and not third.sidebar.action.isChecked()
    third.sidebar.action.trigger()
    assert third.sidebar.bar.isVisible()
    assert third.sidebar.bar.width() > 100


def test_a_hundred_thousand_tasks_are_counted_once_then_task_by_task(
    window: MainWindow, qtbot: QtBot
) -> None:
    tasks = []
    for i in range(100_000):
        t = Task(TaskType.CUSTOM_COMMAND, {"command": "true"}, name=f"job {i}", tags=[f"t{i % 7}"])
        t.status = TaskStatus.COMPLETED if i % 2 else TaskStatus.PENDING
        tasks.append(t)
    window.model.reset(tasks)  # as the stored tasks arrive
    bar = window.sidebar.bar
    assert bar.count_text("status", "all") == "All (100,000)"
    assert bar.count_text("status", "completed") == "Completed (50,000)"
    assert bar.count_text("tags", "t3") == "t3 (14,286)"
    start = time.perf_counter()
    for i in range(200):  # two hundred batches in a row, as a busy engine sends them
        done = tasks[2 * i].copy()
        done.status = TaskStatus.COMPLETED
        window.model.apply(changed=[done])
    window.model.apply(removed=[t.id for t in tasks[1:1001:2]])  # 500 completed ones go
    assert time.perf_counter() - start < 2.0  # no pass over the 100,000 per batch
    assert bar.count_text("status", "completed") == "Completed (49,700)"
    assert bar.count_text("status", "waiting") == "Waiting (49,800)"
    assert bar.count_text("status", "all") == "All (99,500)"
