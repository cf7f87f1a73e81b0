"""The detail pane's live CPU and memory graph of a running task's process tree, against a
real engine running real commands; and why it is not shown otherwise."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings

from qtqueue.app import create_main_window, wait_for_condition
from qtqueue.core.task import ACTIVE, TERMINAL, Task, TaskType
from qtqueue.executors import default_registry
from qtqueue.ui.main_window import MainWindow
from qtqueue.ui.process_graph import NOT_OWNER, NOT_RUNNING

from .attach_env import headless_engine
from .conftest import Run, in_status, until, until_row


def command(line: str) -> Task:
    return Task(TaskType.CUSTOM_COMMAND, {"command": line, "shell": True}, max_retries=0)


def test_a_running_command_shows_the_cpu_and_memory_of_its_whole_process_tree(
    window: MainWindow, run: Run
) -> None:
    graph = window.detail.process_graph

    async def scenario() -> str:
        # A shell with two children: the tree is three processes.
        [task_id] = await window.queue.add_tasks([command("sleep 30 & sleep 30; wait")])
        await until_row(window, task_id, lambda t: t.status in ACTIVE and t.pid is not None)
        window.select_task(task_id)
        await until(lambda: len(graph.memory_mib) >= 2, graph.sampled, timeout_s=10)
        return task_id

    task_id = run(scenario())
    assert graph.sampling and graph.reason == ""
    assert graph.graphs.isVisible() and not graph.reason_label.isVisible()
    assert all(m > 0 for m in graph.memory_mib)
    _x, y = graph.plots().memory_curve.getData()
    assert y is not None and len(y) == len(graph.memory_mib)
    figures = graph.figures_label.text()
    processes = int(figures.rsplit("(", 1)[1].split()[0])
    assert processes >= 3, figures  # the shell and both sleeps, not the shell alone

    async def cancel() -> None:
        await window.queue.cancel_task(task_id)
        await until_row(window, task_id, in_status(*TERMINAL))
        await until(lambda: not graph.sampling, window.model.batchApplied)

    run(cancel())
    assert graph.reason == NOT_RUNNING
    assert graph.reason_label.isVisible() and not graph.graphs.isVisible()


def test_a_finished_task_says_the_graph_shows_while_a_task_runs(
    window: MainWindow, run: Run
) -> None:
    graph = window.detail.process_graph

    async def scenario() -> None:
        [task_id] = await window.queue.add_tasks([command("true")])
        await until_row(window, task_id, in_status(*TERMINAL))
        window.select_task(task_id)
        await until(lambda: window.detail.task is not None, window.model.batchApplied)

    run(scenario())
    assert graph.isVisible() and graph.reason_label.text() == NOT_RUNNING
    assert not graph.sampling and not graph.graphs.isVisible()


def test_a_window_attached_to_another_engine_says_why_it_shows_no_graph(
    run: Run, open_windows: list[MainWindow], tmp_path: Path
) -> None:
    with headless_engine(tmp_path / "attach") as engine:
        task_id = engine.add("sleep", "30", name="sleeps").strip()
        settings = QSettings(str(tmp_path / "window.ini"), QSettings.Format.IniFormat)
        w: MainWindow = run(
            create_main_window(
                engine.data_dir, settings=settings, registry=default_registry(entry_points=False)
            )
        )
        open_windows.append(w)
        w.resize(1200, 800)
        w.show()
        graph = w.detail.process_graph

        def running() -> bool:
            t = w.model.task_by_id(task_id)
            return t is not None and t.status in ACTIVE and t.pid is not None

        async def scenario() -> tuple[str, bool, int]:
            await wait_for_condition(running, w.model.batchApplied, timeout_s=15)
            w.select_task(task_id)
            await wait_for_condition(
                lambda: w.detail.task is not None, w.model.batchApplied, timeout_s=10
            )
            # While the task runs, with a process id the window cannot vouch for:
            seen = (graph.reason_label.text(), graph.sampling, len(graph.memory_mib))
            await w.queue.cancel_task(task_id)
            return seen

        assert not w.queue.owns_engine
        text, sampling, samples = run(scenario(), 30)
        assert text == NOT_OWNER and graph.reason_label.isVisible()
        assert not sampling and samples == 0
        run(w.shutdown())


def test_the_graph_darkens_with_a_dark_palette(window: MainWindow) -> None:
    from PySide6.QtGui import QColor, QPalette

    graph = window.detail.process_graph
    dark = QPalette(graph.palette())
    dark.setColor(QPalette.ColorRole.Window, QColor("#2b2b2b"))
    dark.setColor(QPalette.ColorRole.Base, QColor("#1e1e1e"))
    dark.setColor(QPalette.ColorRole.Text, QColor("#e5e5e5"))
    assert graph.plots().cpu_plot.backgroundBrush().color().lightness() > 200
    graph.setPalette(dark)
    for plot in (graph.plots().cpu_plot, graph.plots().memory_plot):
        assert plot.backgroundBrush().color().lightness() < 60
        assert plot.getAxis("left").textPen().color().lightness() > 200
