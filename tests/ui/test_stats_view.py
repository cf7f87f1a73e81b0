"""The statistics tab against a real engine: the history it charts, machine load, and that a
hidden tab costs the engine nothing."""

from __future__ import annotations

import itertools
import math
import time
from typing import Any

import numpy as np
from pytestqt.qtbot import QtBot

from qtqueue.core.task import TERMINAL, Task, TaskType
from qtqueue.ui.main_window import MainWindow
from qtqueue.ui.stats_view import StatsView

from .conftest import Run, in_status, until, until_row

#: A bucket far wider than a test run, so every task of the test lands in the same one.
WEEK_S = 7 * 86400.0


def command(line: str, **fields: Any) -> Task:
    return Task(TaskType.CUSTOM_COMMAND, {"command": line, "shell": True}, **fields)


def curve_values(curve: Any) -> list[float]:
    """The points the curve shows (an empty bucket is NaN: a gap, not a point)."""
    _x, y = curve.getData()
    return [] if y is None else [float(v) for v in y if not math.isnan(v)]


def view_of(window: MainWindow) -> StatsView:
    view = window.findChild(StatsView, "statsView")
    assert view is window.stats_view
    return view


def show_stats_tab(window: MainWindow) -> None:
    window.form.tabs.setCurrentWidget(window.form.statsTab)


def use_one_wide_bucket(view: StatsView) -> None:
    """Select a range whose single bucket holds the whole test (no boundary to straddle)."""
    view.range_box.addItem("Last hour in one bucket", (3600.0, WEEK_S))
    view.range_box.setCurrentIndex(view.range_box.count() - 1)


async def run_to_the_end(window: MainWindow, tasks: list[Task]) -> list[str]:
    ids = await window.queue.add_tasks(tasks)
    for i in ids:
        await until_row(window, i, in_status(*TERMINAL), timeout_s=20)
    return ids


def test_three_completed_and_one_failed_make_a_75_percent_bucket_and_curve(
    window: MainWindow, run: Run
) -> None:
    view = view_of(window)
    use_one_wide_bucket(view)

    async def scenario() -> dict[str, Any]:
        tasks = [command("true") for _ in range(3)] + [command("exit 1", max_retries=0)]
        await run_to_the_end(window, tasks)
        history = await window.queue.get_history(3600, WEEK_S)
        show_stats_tab(window)
        await until(lambda: 75.0 in curve_values(view.success_curve), view.historyShown)
        return history

    history = run(scenario())
    finished = [b for b in history["buckets"] if b["finished"]]
    assert len(finished) == 1
    bucket = finished[0]
    assert (bucket["completed"], bucket["failed"], bucket["finished"]) == (3, 1, 4)
    assert bucket["success_rate"] == 75.0
    assert history["buckets"][-1]["queue_depth"] == 0
    assert curve_values(view.success_curve) == [75.0]
    _x, heights = view.throughput_bars.getData()
    assert heights is not None and 4.0 in list(heights)


def test_the_success_rate_line_does_not_cross_an_empty_bucket(window: MainWindow) -> None:
    """Hours with nothing finished have no success rate: the line stops there and starts
    again, instead of pretending the rate moved smoothly through them."""
    from PySide6.QtGui import QPainterPath

    view = view_of(window)

    def bucket(start: float, rate: float | None) -> dict[str, Any]:
        done = 0 if rate is None else 4
        return {"start": start, "success_rate": rate, "finished": done, "queue_depth": 0,
                "completed": done, "failed": 0}

    view.show_history({
        "since": 0.0, "until": 3 * 3600.0, "bucket_s": 3600.0, "durations": {},
        "buckets": [bucket(0.0, 100.0), bucket(3600.0, None), bucket(7200.0, 50.0)],
    })
    assert curve_values(view.success_curve) == [100.0, 50.0]
    path = view.success_curve.curve.getPath()
    elements = [path.elementAt(i) for i in range(path.elementCount())]
    lines = [
        (before.x, e.x)
        for before, e in itertools.pairwise(elements)
        if e.type == QPainterPath.ElementType.LineToElement and e.x != before.x
    ]
    assert lines == []  # nothing is drawn from the first point to the last across the gap
    assert len(elements) >= 2


def test_a_retried_failure_counts_once_by_its_latest_outcome(window: MainWindow, run: Run) -> None:
    async def scenario() -> dict[str, Any]:
        [task_id] = await run_to_the_end(window, [command("exit 1", max_retries=0)])
        await window.queue.retry_task(task_id)
        await window.queue.wait_for(task_id, 20)
        return await window.queue.get_history(3600, WEEK_S)

    history = run(scenario())
    finished = [b for b in history["buckets"] if b["finished"]]
    assert [(b["failed"], b["finished"]) for b in finished] == [(1, 1)]


def test_durations_show_a_median_and_a_p95_bar_per_task_type_that_ran(
    window: MainWindow, run: Run
) -> None:
    view = view_of(window)
    tasks = [command("true"), command("true"), Task(TaskType.SYSTEM_MONITOR, {})]

    async def scenario() -> dict[str, Any]:
        await run_to_the_end(window, tasks)
        show_stats_tab(window)
        await until(lambda: len(view.type_names) == 2, view.historyShown)
        return await window.queue.get_history(3600)

    history = run(scenario())
    assert view.type_names == ["custom_command", "system_monitor"]
    assert set(history["durations"]) == {"custom_command", "system_monitor"}
    assert history["durations"]["custom_command"]["count"] == 2
    for item in (view.median_bars, view.p95_bars):
        assert len(item.opts["width"]) == 2  # horizontal bars: the length is the duration
    assert all(np.asarray(view.p95_bars.opts["width"]) >= view.median_bars.opts["width"])
    ticks = view.duration_plot.getAxis("left")._tickLevels
    # The rows are named in words, as the task list names the types.
    titles = window.queue.registry.titles()
    assert view.type_titles == [titles["custom_command"], titles["system_monitor"]]
    assert [label for _pos, label in ticks[0]] == view.type_titles
    assert view.type_titles[0] != "custom_command"


def test_cpu_and_memory_curves_get_a_point_per_second(window: MainWindow, qtbot: QtBot) -> None:
    view = view_of(window)
    show_stats_tab(window)
    qtbot.waitUntil(lambda: len(curve_values(view.cpu_curve)) >= 2, timeout=5000)
    for curve in (view.cpu_curve, view.memory_curve):
        values = curve_values(curve)
        assert values and all(0.0 <= v <= 100.0 for v in values)
    assert curve_values(view.memory_curve)[-1] > 0


def test_a_hidden_statistics_tab_queries_no_history(window: MainWindow, run: Run) -> None:
    view = view_of(window)
    assert not view.isVisible()

    async def scenario() -> None:
        await run_to_the_end(window, [command("true"), command("exit 1", max_retries=0)])
        # The window's own summary refresh shows the engine's events have all arrived.
        await until(lambda: window.form.statTotal.text() == "2", window.statsUpdated)
        assert view.history_queries == 0
        show_stats_tab(window)
        await until(lambda: view.history_queries == 1, view.historyShown)
        window.form.tabs.setCurrentWidget(window.form.tasksTab)
        await run_to_the_end(window, [command("true")])
        await until(lambda: window.form.statTotal.text() == "3", window.statsUpdated)

    run(scenario())
    assert view.history_queries == 1


def test_the_summary_labels_sit_beside_the_charts(window: MainWindow) -> None:
    view = view_of(window)
    summary = window.form.statTotal.parentWidget()
    assert summary is not None and summary.objectName() == "statsSummary"
    assert view.summary_box.isAncestorOf(summary)
    assert window.form.statsView is view


def test_queue_depth_counts_the_tasks_waiting_at_each_buckets_end(
    window: MainWindow, run: Run
) -> None:
    view = view_of(window)
    use_one_wide_bucket(view)

    async def scenario() -> dict[str, Any]:
        await run_to_the_end(window, [command("true")])
        await window.queue.pause_queue()
        await window.queue.add_tasks([command("true"), command("true")])
        show_stats_tab(window)
        await until(lambda: curve_values(view.depth_curve)[-1:] == [2.0], view.historyShown)
        return await window.queue.get_history(3600, WEEK_S)

    history = run(scenario())
    assert [b["queue_depth"] for b in history["buckets"]][-1] == 2
    assert sum(b["finished"] for b in history["buckets"]) == 1


def test_a_burst_of_engine_events_refreshes_at_most_once_a_second(
    window: MainWindow, run: Run
) -> None:
    view = view_of(window)
    shown_at: list[float] = []
    view.historyShown.connect(lambda _h: shown_at.append(time.monotonic()))
    # When each query starts: on a loaded machine the first draw can take longer than the
    # second, so the spacing is measured where the debounce acts.
    asked_at: list[float] = []
    get_history = window.queue.get_history

    async def timed_history(*args: Any) -> dict[str, Any]:
        asked_at.append(time.monotonic())
        return await get_history(*args)

    window.queue.get_history = timed_history  # type: ignore[method-assign]

    async def scenario() -> None:
        show_stats_tab(window)
        await until(lambda: len(shown_at) == 1, view.historyShown)
        for _ in range(50):
            view.mark_stale()
        await until(lambda: len(shown_at) == 2, view.historyShown)

    run(scenario())
    assert view.history_queries == 2
    assert len(asked_at) == 2 and asked_at[1] - asked_at[0] >= 0.9
    assert not view._debounce.isActive()


def test_the_range_selector_picks_the_window_and_bucket_width(window: MainWindow, run: Run) -> None:
    view = view_of(window)
    ranges = {view.range_box.itemText(i) for i in range(view.range_box.count())}
    assert ranges == {"Last hour", "Last 24 hours", "Last 7 days"}
    seen: list[dict[str, Any]] = []
    view.historyShown.connect(seen.append)

    async def scenario() -> None:
        show_stats_tab(window)
        await until(lambda: len(seen) == 1, view.historyShown)
        view.range_box.setCurrentIndex(view.range_box.findText("Last hour"))
        await until(lambda: len(seen) == 2, view.historyShown)

    run(scenario())
    assert seen[0]["bucket_s"] == 900.0
    hour = seen[1]
    assert hour["bucket_s"] == 60.0 and len(hour["buckets"]) in (61, 62)
    assert time.time() - 3600 - 60 <= hour["since"] <= time.time() - 3600


def test_the_charts_follow_a_dark_palette_and_back(window: MainWindow) -> None:
    """The dark theme darkens the charts (a white card in a dark window glares) and their
    text turns light; the light palette brings white charts back."""
    from PySide6.QtGui import QColor, QPalette

    view = view_of(window)
    light = view.palette()
    dark = QPalette(light)
    dark.setColor(QPalette.ColorRole.Window, QColor("#2b2b2b"))
    dark.setColor(QPalette.ColorRole.Base, QColor("#1e1e1e"))
    dark.setColor(QPalette.ColorRole.Text, QColor("#e5e5e5"))
    plots = [view.success_plot, view.status_plot, view.errors_plot, view.system_plot]

    def looks() -> list[tuple[int, int]]:
        return [
            (
                p.backgroundBrush().color().lightness(),
                p.getAxis("bottom").textPen().color().lightness(),
            )
            for p in plots
        ]

    assert all(bg > 200 and text < 100 for bg, text in looks())
    view.setPalette(dark)
    assert all(bg < 60 and text > 200 for bg, text in looks())
    assert "#e5e5e5" in view.success_plot.getAxis("left").labelString()
    view.setPalette(light)
    assert all(bg > 200 and text < 100 for bg, text in looks())
