"""Statistics that lead somewhere: every chart's point and bar shows its figures under the
pointer, and a click lists the tasks behind it in the Tasks tab (real engine, real charts,
the real pointer)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QPoint
from PySide6.QtWidgets import QLabel, QToolTip, QWidget
from pytestqt.qtbot import QtBot

from qtqueue.core.errors import error_info
from qtqueue.core.task import TERMINAL, Task, TaskStatus, TaskType
from qtqueue.ui.main_window import MainWindow
from qtqueue.ui.stats.charts import Hit

from .conftest import Run, in_status, until, until_row
from .stats_env import click, hover, move_to, point_at

WEEK_S = 7 * 86400.0


def command(line: str, **fields: Any) -> Task:
    return Task(TaskType.CUSTOM_COMMAND, {"command": line, "shell": True}, **fields)


def shown_ids(window: MainWindow) -> set[str]:
    proxy, model = window.proxy, window.model
    return {
        model.task(proxy.mapToSource(proxy.index(r, 0)).row()).id for r in range(proxy.rowCount())
    }


def selected_ids(window: MainWindow) -> set[str]:
    model = window.model
    return {
        model.task(window.proxy.mapToSource(i).row()).id
        for i in window.table.selectionModel().selectedRows()
    }


def finish(window: MainWindow, run: Run, tasks: list[Task]) -> list[str]:
    """Run `tasks` to their end; show the statistics tab once its charts hold them."""

    view = window.stats_view

    async def scenario() -> list[str]:
        ids = await window.queue.add_tasks(tasks)
        for i in ids:
            await until_row(window, i, in_status(*TERMINAL), timeout_s=20)
        await until(lambda: view.finished_count() == len(ids), window.statsUpdated)
        view.range_box.addItem("Last hour in one bucket", (3600.0, WEEK_S))
        view.range_box.setCurrentIndex(view.range_box.count() - 1)
        window.form.tabs.setCurrentWidget(window.form.statsTab)
        await until(
            lambda: any(h.request for h in view.links["throughput"].hits), view.historyShown
        )
        return ids

    return run(scenario())


def hit_named(hits: list[Hit], start: str) -> Hit:
    [hit] = [h for h in hits if h.text.startswith(start)]
    return hit


def test_the_failed_bar_shows_its_count_and_a_click_lists_the_failed_tasks(
    window: MainWindow, run: Run, qtbot: QtBot
) -> None:
    ids = finish(window, run, [command("true"), command("true"), command("exit 3", max_retries=0)])
    links = window.stats_view.links["status"]
    failed = hit_named(links.hits, "Failed or timed out")

    assert hover(qtbot, links, failed).startswith("Failed or timed out: 1 tasks")
    click(links, failed)

    assert window.form.tabs.currentWidget() is window.form.tasksTab
    assert window.form.filterStatus.currentText() == "Failed or timed out"
    assert shown_ids(window) == {ids[2]}


def test_a_time_bucket_tells_its_figures_and_a_click_filters_the_list_to_its_tasks(
    window: MainWindow, run: Run, qtbot: QtBot
) -> None:
    ids = finish(
        window, run, [command("true") for _ in range(3)] + [command("exit 1", max_retries=0)]
    )
    view = window.stats_view
    [bucket] = [h for h in view.links["success"].hits if h.request is not None]

    text = hover(qtbot, view.links["success"], bucket)
    assert "Finished: 4 (3 completed, 1 failed or timed out, 0 cancelled)" in text
    assert "Success rate: 75 %" in text
    assert hover(qtbot, view.links["throughput"], bucket) == text  # same column, same figures

    click(view.links["throughput"], bucket)
    assert window.form.tabs.currentWidget() is window.form.tasksTab
    assert window.form.filterStatus.currentText() == "Finished"
    assert bucket.request is not None and window.filters.period == bucket.request.finished
    assert shown_ids(window) == set(ids)
    chip = window.findChild(QWidget, "periodFilterRow")
    label = window.findChild(QLabel, "periodFilterLabel")
    assert chip is not None and chip.isVisibleTo(window)
    assert label is not None and label.text() == f"Finished {bucket.request.period}"


def test_a_task_type_bar_tells_its_durations_and_a_click_filters_to_that_type(
    window: MainWindow, run: Run, qtbot: QtBot
) -> None:
    ids = finish(window, run, [command("true"), Task(TaskType.SYSTEM_MONITOR, {})])
    links = window.stats_view.links["duration"]
    monitor = hit_named(links.hits, "System monitor")

    assert "median" in hover(qtbot, links, monitor) and "over 1 completed runs" in monitor.text
    click(links, monitor)

    assert window.form.filterType.currentData() == "system_monitor"
    assert shown_ids(window) == {ids[1]}


def test_the_top_errors_chart_names_each_code_with_its_meaning_and_leads_to_its_tasks(
    window: MainWindow, run: Run, qtbot: QtBot
) -> None:
    ids = finish(
        window,
        run,
        [command("exit 1", max_retries=0), command("exit 1", max_retries=0), command("true")],
    )
    failed = window.model.task_by_id(ids[0])
    assert failed is not None and failed.status == TaskStatus.FAILED
    code = failed.error_code
    assert code is not None
    view = window.stats_view
    run(until(lambda: view.error_codes == [code], window.statsUpdated))
    [bar] = view.links["errors"].hits

    text = hover(qtbot, view.links["errors"], bar)
    assert text.startswith(f"{code}: 2 tasks")
    assert error_info(code).description in text
    click(view.links["errors"], bar)

    assert window.form.tabs.currentWidget() is window.form.tasksTab
    assert window.form.filterStatus.currentText() == "Failed or timed out"
    assert ids[2] not in shown_ids(window)  # the completed task is not among them
    assert selected_ids(window) == {ids[0], ids[1]}


def test_the_pointer_off_every_bar_shows_no_tooltip_and_a_click_there_changes_nothing(
    window: MainWindow, run: Run, qtbot: QtBot
) -> None:
    finish(window, run, [command("true")])
    links = window.stats_view.links["status"]
    point_at(links, links.hits[0])
    assert links.hovered == links.hits[0] and QToolTip.isVisible()
    move_to(links, QPoint(3, 3))  # the title's corner: no bar there
    assert links.hovered is None
    qtbot.waitUntil(lambda: not QToolTip.isVisible(), timeout=3000)
    with qtbot.assertNotEmitted(window.stats_view.filterRequested):
        click(links, Hit(-50.0, -49.0, ""))  # far above the first bar
    assert window.form.tabs.currentWidget() is window.form.statsTab


def test_the_machine_load_chart_tells_the_cpu_and_memory_of_a_second_under_the_pointer(
    window: MainWindow, qtbot: QtBot
) -> None:
    view = window.stats_view
    window.form.tabs.setCurrentWidget(window.form.statsTab)
    links = view.links["system"]
    qtbot.waitUntil(lambda: len(links.hits) >= 2, timeout=5000)
    latest = links.hits[-1]

    text = hover(qtbot, links, latest)
    assert text.startswith(f"{-latest.middle:.0f} s ago: CPU ")
    assert "memory" in text and latest.request is None  # a machine's load lists no tasks


def test_every_status_bar_leads_to_the_status_filter_of_the_same_name(
    window: MainWindow, run: Run
) -> None:
    view = window.stats_view
    window.show_stats(run(window.queue.get_queue_stats()))  # an empty store: bars of 0
    window.form.tabs.setCurrentWidget(window.form.statsTab)
    links = view.links["status"]
    assert [h.text.split(":")[0] for h in links.hits] == list(view.status_counts)
    for hit in links.hits:
        window.form.tabs.setCurrentWidget(window.form.statsTab)
        click(links, hit)
        assert window.form.tabs.currentWidget() is window.form.tasksTab
        assert window.form.filterStatus.currentText() == hit.text.split(":")[0]
