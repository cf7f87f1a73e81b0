"""The detail pane against a real engine: a Docker pull's layers read live from its log, why a
pending task waits (dependencies, approval, resources), the culprit of a dependency failure,
and input sent to a running command's stdin."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QTextDocumentFragment
from PySide6.QtWidgets import QLabel, QSplitter, QTreeWidget
from pytestqt.qtbot import QtBot

from qtqueue.core.task import Permission, Task, TaskStatus, TaskType
from qtqueue.executors import ExecutorRegistry, default_registry
from qtqueue.executors.base import RunContext
from qtqueue.families.docker import DockerPullExecutor, LayerProgress, parse_layer_lines
from qtqueue.families.docker.qt import LayerFeed
from qtqueue.ui.detail_pane import DetailPane, resources_in_words
from qtqueue.ui.main_window import MainWindow

from .conftest import Run, in_status, picture, until, until_row


def command(line: str, **kw: Any) -> Task:
    return Task(TaskType.CUSTOM_COMMAND, {"command": line, "shell": True}, **kw)


def rows(view: QTreeWidget) -> list[list[str]]:
    return [
        [view.topLevelItem(i).text(c) for c in range(view.columnCount())]
        for i in range(view.topLevelItemCount())
    ]


def show(window: MainWindow, task_id: str) -> DetailPane:
    window.select_tasks([task_id])
    pane = window.detail
    assert pane.task is not None and pane.task.id == task_id
    return pane


def banner_lines(label: QLabel) -> list[str]:
    """The lines a (rich text) banner shows."""
    return QTextDocumentFragment.fromHtml(label.text()).toPlainText().splitlines()


def grab(pane: DetailPane, path: Path) -> QImage:
    pane.window().resize(1200, 900)
    splitter = pane.parentWidget()
    if isinstance(splitter, QSplitter):  # the window's table beside, the pane given most room
        splitter.setSizes([220, 660])
    return picture(pane, path)


class Gates:
    """Registered handlers that run until the test opens their gate."""

    def __init__(self) -> None:
        self.events: dict[str, asyncio.Event] = {}

    def gate(self, name: str) -> asyncio.Event:
        return self.events.setdefault(name, asyncio.Event())

    async def handler(self, task_id: str, params: dict[str, Any]) -> dict[str, Any]:
        await self.gate(params["gate"]).wait()
        return {}


@pytest.fixture
def gates(window: MainWindow) -> Gates:
    g = Gates()
    window.queue.register_handler("gated", g.handler)
    return g


# --------------------------------------------------------------------------- image layers

#: What a daemon streams for a pull, in two bursts (the stand-in waits between them).
FIRST_BURST = [
    {"id": "a1f0c3d2e4b5", "status": "Pulling fs layer", "progressDetail": {}},
    {"id": "b7e9d8c6a5f4", "status": "Pulling fs layer", "progressDetail": {}},
    {"id": "c3d4e5f6a7b8", "status": "Already exists", "progressDetail": {}},
    {
        "id": "a1f0c3d2e4b5",
        "status": "Downloading",
        "progressDetail": {"current": 1_200_000, "total": 4_000_000},
    },
    {
        "id": "b7e9d8c6a5f4",
        "status": "Downloading",
        "progressDetail": {"current": 30_000_000, "total": 31_457_280},
    },
]
SECOND_BURST = [
    {"id": "a1f0c3d2e4b5", "status": "Download complete", "progressDetail": {}},
    {"id": "a1f0c3d2e4b5", "status": "Pull complete", "progressDetail": {}},
]


class PullStandIn(DockerPullExecutor):
    """The Docker pull executor with the daemon replaced by a recorded stream: the same
    params, the same `LayerProgress` turning messages into `layer ...` log lines."""

    def __init__(self) -> None:
        self.go_on = asyncio.Event()

    async def run(self, ctx: RunContext) -> dict[str, Any] | None:
        ctx.phase(TaskStatus.PULLING)
        layers = LayerProgress("Pulling")
        ctx.log(f"Pulling {ctx.params.image}")
        for burst in (FIRST_BURST, SECOND_BURST):
            for message in burst:
                line = layers.feed(message)
                if line is not None:
                    ctx.log(line)
            ctx.progress(layers.percent, layers.step())
            if burst is FIRST_BURST:
                await self.go_on.wait()
        return {"image": ctx.params.image}


@pytest.fixture
def pull(make_window: Callable[..., MainWindow], data_dir: Path) -> tuple[MainWindow, PullStandIn]:
    # The docker family as installed, its pull replaced by the stand-in.
    built_in = default_registry(entry_points=False)
    docker = built_in.family("docker")
    assert docker is not None
    stand_in = PullStandIn()
    registry = ExecutorRegistry()
    for family in built_in.families():
        if family is not docker:
            registry.add_family(family)
    pulls = TaskType.DOCKER_PULL.value
    registry.add_family(
        dataclasses.replace(
            docker,
            executors=lambda: [*(e for e in docker.executors() if e.name != pulls), stand_in],
        )
    )
    return make_window(data_dir, registry=registry), stand_in


def test_a_pull_shows_each_layer_and_follows_the_log_as_it_grows(
    pull: tuple[MainWindow, PullStandIn], run: Run, shots: Path
) -> None:
    window, stand_in = pull
    pane = window.detail
    box = pane.family_widget("layersBox")
    assert box is not None
    view = box.findChild(QTreeWidget, "layerView")

    async def scenario() -> None:
        task_id = await window.queue.add_task(
            Task(TaskType.DOCKER_PULL, {"image": "registry.example/team/app:1.4"})
        )
        await until_row(window, task_id, in_status(TaskStatus.PULLING))
        show(window, task_id)
        await until(lambda: view.topLevelItemCount() == 3, pane.familyViewUpdated)
        assert rows(view) == [
            ["a1f0c3d2e4b5", "Downloading", "30 % · 1.2 MB / 4.0 MB"],
            ["b7e9d8c6a5f4", "Downloading", "95 % · 30.0 MB / 31.5 MB"],
            ["c3d4e5f6a7b8", "Already exists", "—"],
        ]
        assert box.isVisible() and box.title() == "Image layers (3)"
        grab(pane, shots / "detail_pane_docker_pull.png")
        stand_in.go_on.set()
        await until(
            lambda: view.topLevelItem(0).text(1) == "Pull complete", pane.familyViewUpdated
        )
        await until_row(window, task_id, in_status(TaskStatus.COMPLETED))

    run(scenario())
    assert rows(view)[0] == ["a1f0c3d2e4b5", "Pull complete", "100 % · 4.0 MB / 4.0 MB"]
    assert view.topLevelItemCount() == 3  # updated in place, never duplicated


def test_the_layer_table_is_hidden_for_other_task_types(window: MainWindow, run: Run) -> None:
    async def scenario() -> str:
        task_id = await window.queue.add_task(command("echo 'layer abc: Pushed 1/1 bytes'"))
        await until_row(window, task_id, in_status(TaskStatus.COMPLETED))
        return task_id

    pane = show(window, run(scenario()))
    run(until(lambda: "layer abc" in pane.log_text(), pane.logLoaded))
    box = pane.family_widget("layersBox")
    assert box is not None and not box.isVisible()
    view = box.findChild(QTreeWidget, "layerView")
    assert view is not None and view.topLevelItemCount() == 0


def test_the_layer_feed_reads_chunks_cut_anywhere_like_the_whole_log() -> None:
    log = (
        "Pulling app\n"
        "layer aaa: Downloading 10/100 bytes\n"
        "layer bbb: Waiting\n"
        "some other output\n"
        "layer aaa: Downloading 60/100 bytes\n"
        "layer aaa: Pull complete 100/100 bytes\n"
        "layer bbb: Already exists"  # the last line may have no newline yet
    )
    for cut in range(0, len(log), 7):
        feed = LayerFeed()
        assert feed.feed(log[:cut]).keys() <= parse_layer_lines(log[:cut]).keys()
        feed.feed(log[cut:])
        feed.finish()
        assert feed.layers == parse_layer_lines(log), cut
    feed = LayerFeed()
    assert feed.feed("no layers here\n" * 1000) == {}
    assert feed.feed("layer ccc: Pushed") == {}  # unfinished: waits for its newline
    assert feed.feed("\n")["ccc"].status == "Pushed"


# --------------------------------------------------------------------------- scheduling facts


def test_a_task_waiting_on_a_dependency_says_so_and_follows_it_to_completion(
    window: MainWindow, gates: Gates, run: Run, shots: Path
) -> None:
    pane = window.detail
    f = pane.form

    async def scenario() -> None:
        first = await window.queue.add_task(
            Task("gated", {"gate": "first"}, name="build the image")
        )
        await until_row(window, first, in_status(TaskStatus.RUNNING))
        then = await window.queue.add_task(
            command(
                "true",
                name="deploy",
                depends_on=[first],
                queue="low_priority",
                resources={"cpu_cores": 1},
                tags=["schedule:nightly-7f3a"],
            )
        )
        await until_row(window, then, lambda t: t.wait_reason.startswith("waiting for 1"))
        show(window, then)
        await until(
            lambda: rows(f.dependencyView) == [["build the image", "Running", first[:8]]],
            pane.dependenciesUpdated,
        )
        assert f.waitBanner.isVisible()
        assert banner_lines(f.waitBanner)[0] == f"Waiting for 1 dependency: {first[:8]}…"
        assert f.dependencyPolicyValue.text() == "this task fails too"
        assert f.queueValue.text() == "low_priority"
        assert f.permissionValue.text() == "autonomous: runs without asking"
        assert f.resourcesValue.text() == "1 CPU core"
        assert f.scheduleValue.text() == "nightly-7f3a"
        assert not f.culpritValue.isVisible()
        grab(pane, shots / "detail_pane_waiting.png")
        gates.gate("first").set()
        await until(lambda: rows(f.dependencyView)[0][1] == "Completed", pane.dependenciesUpdated)
        await until_row(window, then, in_status(TaskStatus.COMPLETED))
        await until(lambda: not f.waitBanner.isVisible(), window.model.batchApplied)

    run(scenario())


def test_a_dependency_failure_names_the_culprit(window: MainWindow, run: Run) -> None:
    pane = window.detail
    f = pane.form

    async def scenario() -> tuple[str, str]:
        ok, bad = await window.queue.add_tasks(
            [command("true", name="fetch data"), command("exit 3", name="compile", max_retries=0)]
        )
        await window.queue.wait_for(bad, 20)
        then = await window.queue.add_task(command("true", depends_on=[ok, bad]))
        await until_row(window, then, in_status(TaskStatus.FAILED))
        show(window, then)
        await until(
            lambda: len(rows(f.dependencyView)) == 2 and "…" not in rows(f.dependencyView)[1],
            pane.dependenciesUpdated,
        )
        return ok, bad

    ok, bad = run(scenario())
    assert f.errorCode.text() == "QUEUE_DEPENDENCY_FAILED"
    assert f.culpritValue.isVisible()
    assert f.culpritValue.text() == f"compile ({bad[:8]}): failed"
    assert rows(f.dependencyView) == [
        ["fetch data", "Completed", ok[:8]],
        ["compile", "Failed", bad[:8]],
    ]
    culprit = f.dependencyView.topLevelItem(1)
    assert culprit.font(0).bold() and not f.dependencyView.topLevelItem(0).font(0).bold()
    assert culprit.toolTip(2) == bad
    assert not f.waitBanner.isVisible()


def test_a_task_that_needs_approval_says_it_waits_for_a_person(
    window: MainWindow, run: Run
) -> None:
    f = window.detail.form
    later = time.time() + 3600

    async def scenario() -> str:
        task_id = await window.queue.add_task(
            command(
                "true",
                name="drop the table",
                permission=Permission.HUMAN_REQUIRED,
                expires_at=later,
            )
        )
        await until_row(window, task_id, lambda t: t.wait_reason == "awaiting approval")
        return task_id

    task_id = run(scenario())
    show(window, task_id)
    assert f.waitBanner.isVisible() and banner_lines(f.waitBanner)[0] == "Awaiting approval"
    assert f.permissionValue.text().startswith("awaiting approval")
    assert f.expiresValue.isVisible() and "(in 59 m" in f.expiresValue.text()
    assert not f.dependencyView.isVisible() and not f.resourcesValue.isVisible()

    async def approve() -> None:
        await window.queue.approve_task(task_id)
        await until_row(window, task_id, in_status(TaskStatus.COMPLETED))

    run(approve())
    assert f.permissionValue.text().startswith("approved 20")
    assert not f.waitBanner.isVisible()


def test_a_task_waiting_for_resources_shows_what_it_needs(
    window: MainWindow, gates: Gates, run: Run
) -> None:
    f = window.detail.form
    cores = window.queue.resources.probe.cpu_cores()
    needs = {"cpu_cores": 1, "memory_gb": 0.5, "disk_gb": 0.01, "disk_path": "/"}

    async def scenario() -> str:
        holder = await window.queue.add_task(
            Task("gated", {"gate": "hold"}, resources={"cpu_cores": cores})
        )
        await until_row(window, holder, in_status(TaskStatus.RUNNING))
        task_id = await window.queue.add_task(command("true", name="train", resources=needs))
        await until_row(window, task_id, lambda t: bool(t.wait_reason))
        return task_id

    task_id = run(scenario())
    show(window, task_id)
    assert f.resourcesValue.text() == "1 CPU core, 0.5 GB of memory, 0.01 GB of disk on /"
    # The banner says what the engine's start checks say: why, how often, how long, needs.
    checks = window.queue.overview.start_checks(task_id)
    assert checks is not None and checks.attempts >= 1
    headline, facts = banner_lines(f.waitBanner)
    assert headline.startswith("Waiting") and checks.last_reason[1:] in headline
    times = "once" if checks.attempts == 1 else f"{checks.attempts} times"
    assert facts.startswith(f"checked {times} and could not start · waiting for ")
    assert facts.endswith(" · needs 1 CPU core, 0.5 GB of memory, 0.01 GB of disk on /")
    gates.gate("hold").set()
    run(until_row(window, task_id, in_status(TaskStatus.COMPLETED)))
    assert not f.waitBanner.isVisible()


def test_resources_in_words_names_every_need() -> None:
    assert (
        resources_in_words(
            {
                "cpu_cores": 4,
                "memory_gb": 8,
                "disk_gb": 20,
                "disk_path": "/data",
                "gpu_memory_gb": 6,
            }
        )
        == "4 CPU cores, 8 GB of memory, 20 GB of disk on /data, 6 GB of GPU memory"
    )
    assert resources_in_words({"disk_gb": 1.5}) == "1.5 GB of disk on the home folder"
    assert resources_in_words({}) == ""


# --------------------------------------------------------------------------- input


def test_input_typed_in_the_pane_reaches_a_running_command(
    window: MainWindow, run: Run, qtbot: QtBot
) -> None:
    pane = window.detail
    f = pane.form
    reverse = Task(
        TaskType.CUSTOM_COMMAND,
        {"command": sys.executable, "args": ["-c", "print(input()[::-1])"], "interactive": True},
        name="reverse a line",
    )

    async def scenario() -> str:
        task_id = await window.queue.add_task(reverse)
        await until_row(window, task_id, in_status(TaskStatus.RUNNING))
        show(window, task_id)
        assert f.stdinInput.isEnabled() and f.sendInputButton.isEnabled()
        assert f.stdinInput.objectName() == "stdinInput"
        qtbot.keyClicks(f.stdinInput, "stressed")
        qtbot.keyClick(f.stdinInput, Qt.Key.Key_Return)
        await until_row(window, task_id, in_status(TaskStatus.COMPLETED))
        await until(lambda: "desserts" in pane.log_text(), f.logView.textChanged)
        return task_id

    task_id = run(scenario())
    assert "> stressed" in pane.log_text()
    assert "desserts" in run(window.queue.read_log(task_id))
    assert not f.stdinInput.isEnabled() and not f.sendInputButton.isEnabled()
    assert f.stdinInput.placeholderText().startswith("Finished")
    assert not f.inputError.isVisible()


def test_a_command_started_without_interactive_input_takes_none(
    window: MainWindow, run: Run, tmp_path: Path
) -> None:
    fifo = tmp_path / "go"
    os.mkfifo(fifo)
    f = window.detail.form

    async def scenario() -> str:
        task_id = await window.queue.add_task(command(f"cat {fifo}"))
        await until_row(window, task_id, in_status(TaskStatus.RUNNING))
        return task_id

    task_id = run(scenario())
    show(window, task_id)
    assert f.stdinInput.isVisible() and not f.stdinInput.isEnabled()
    assert "interactive" in f.stdinInput.placeholderText()
    writer = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)  # cat is reading: it is open
    os.close(writer)
    run(until_row(window, task_id, in_status(TaskStatus.COMPLETED)))


def test_a_refused_input_shows_the_engines_message_and_fix(
    window: MainWindow, gates: Gates, run: Run, qtbot: QtBot
) -> None:
    """A handler that says it is interactive but has no stdin: the engine refuses."""
    pane = window.detail
    f = pane.form

    async def scenario() -> str:
        task_id = await window.queue.add_task(Task("gated", {"gate": "x", "interactive": True}))
        await until_row(window, task_id, in_status(TaskStatus.RUNNING))
        show(window, task_id)
        assert f.sendInputButton.isEnabled()
        f.stdinInput.setText("hello")
        messages: list[str] = []
        pane.inputFailed.connect(messages.append)
        qtbot.mouseClick(f.sendInputButton, Qt.MouseButton.LeftButton)
        await until(lambda: bool(messages), pane.inputFailed)
        gates.gate("x").set()
        return messages[0]

    message = run(scenario())
    assert "takes no input now" in message
    assert f.inputError.isVisible()
    assert "takes no input now" in f.inputError.text()
    assert "Refresh the task list" in f.inputError.text()
    assert "Traceback" not in f.inputError.text()
    assert f.stdinInput.text() == "hello"  # kept, to send again


def test_a_paused_running_task_says_it_is_suspended_and_holds_its_slot(
    window: MainWindow, gates: Gates, run: Run, shots: Path
) -> None:
    f = window.detail.form

    async def scenario() -> None:
        running = await window.queue.add_task(Task("gated", {"gate": "g"}, name="render"))
        await until_row(window, running, in_status(TaskStatus.RUNNING))
        held = await window.queue.add_task(command("true", name="later"))
        await window.queue.pause_task(held)
        await window.queue.pause_task(running)
        await until_row(window, running, in_status(TaskStatus.PAUSED))
        show(window, running)
        assert f.statusValue.text().endswith(
            "suspended; it still holds its slot in queue 'default'"
        )
        grab(window.detail, shots / "detail_pane_suspended.png")
        show(window, held)
        assert "holds no slot" in f.statusValue.text()
        await window.queue.resume_task(running)
        gates.gate("g").set()
        await until_row(window, running, in_status(TaskStatus.COMPLETED))

    run(scenario())
