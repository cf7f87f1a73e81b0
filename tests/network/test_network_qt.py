"""The network family's detail-pane chart (qt.py), offscreen: a real monitor's log against a
target on 127.0.0.1 and a closed port, read back as one latency curve per target with a gap
where it was down and its availability in the legend, fed in chunks cut anywhere."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before anything imports Qt
pytest.importorskip("PySide6", reason="PySide6 not installed: pip install -e '.[test-gui]'")
pytest.importorskip("pytestqt", reason="pytest-qt not installed: pip install -e '.[test-gui]'")
pytest.importorskip("pyqtgraph", reason="pyqtgraph not installed: pip install -e '.[gui]'")

import math

from network_env import TcpServer, closed_port
from pytestqt.qtbot import QtBot

from qtqueue.core.task import Task, TaskStatus, TaskType
from qtqueue.engine.queue import TaskQueue
from qtqueue.families.network.qt import MonitorChart, detail_widget


async def test_the_chart_draws_latency_and_availability_of_a_local_monitor(
    nq: TaskQueue, qtbot: QtBot
) -> None:
    server = await TcpServer().start()
    up, down = f"127.0.0.1:{server.port}", f"127.0.0.1:{closed_port()}"
    try:
        done = await nq.wait_for(
            await nq.add_task(
                Task(
                    TaskType.NETWORK_MONITOR,
                    {"targets": [up, down], "interval_s": 0.05, "duration_s": 0.3},
                )
            ),
            timeout_s=30,
        )
    finally:
        await server.stop()
    assert done.status is TaskStatus.COMPLETED, done.error
    log = await nq.read_log(done.id)

    chart = detail_widget()
    qtbot.addWidget(chart)
    assert isinstance(chart, MonitorChart) and chart.shows(done)
    assert not chart.shows(Task(TaskType.NETWORK_TEST, {"target": "x"}))
    cut = log.index("sample ") + 12  # inside the first sample line: it waits for the rest
    with qtbot.waitSignal(chart.updated) as updated:
        chart.feed(done.id, log[:cut])
        chart.feed(done.id, log[cut:])
    assert updated.args == [done.id]
    chart.finish(done.id)

    rounds = done.result["rounds"]
    up_t, up_ms = chart.series[up]
    assert len(up_t) == rounds and all(v > 0 for v in up_ms)
    assert all(math.isnan(v) for v in chart.series[down][1])  # a gap, not a zero
    assert chart.availability(up) == 100 and chart.availability(down) == 0
    labels = [label.text for _, label in chart.legend.items]
    assert any(up in t and "100 % up" in t for t in labels)
    assert any(down in t and "0 % up" in t for t in labels)
    assert "2 target(s)" in chart.title()

    chart.reset()
    assert chart.series == {} and chart.legend.items == []


def test_an_endless_monitors_chart_keeps_the_latest_points_and_counts_every_sample(
    qtbot: QtBot,
) -> None:
    """Twice as many samples as the chart keeps: the first half down, the second up. The
    curve holds the latest CHART_POINTS (all up); the legend's availability counts all (50 %)."""
    from qtqueue.families.network.monitor import Sample, format_sample
    from qtqueue.families.network.qt import CHART_POINTS

    n = 2 * CHART_POINTS
    lines = [
        format_sample(Sample(i * 0.1, "h:1", None if i < n // 2 else 1.5)) + "\n" for i in range(n)
    ]
    chart = detail_widget()
    qtbot.addWidget(chart)
    chart.feed("t1", "".join(lines))
    chart.finish("t1")
    ts, ms = chart.series["h:1"]
    assert len(ts) == len(ms) == CHART_POINTS
    assert list(ms) == [1.5] * CHART_POINTS and ts[0] == pytest.approx((n - CHART_POINTS) * 0.1)
    assert chart.availability("h:1") == 50.0


def test_a_target_never_up_draws_no_curve_and_no_warning(qtbot: QtBot) -> None:
    """A monitor whose target was down all along: the chart paints (no all-NaN series for
    pyqtgraph to warn about) and the legend says 0 % up."""
    import warnings

    from qtqueue.families.network.monitor import Sample, format_sample

    chart = detail_widget()
    qtbot.addWidget(chart)
    chart.feed("t1", "".join(format_sample(Sample(i * 0.1, "h:1", None)) + "\n" for i in range(5)))
    chart.resize(600, 300)
    chart.show()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        chart.grab()
    assert [str(w.message) for w in caught] == []
    assert chart.availability("h:1") == 0
