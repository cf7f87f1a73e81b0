"""The ollama family's detail-pane widget (qt.py), offscreen: a real pull's log, read back as
one row per model layer with its state and bytes, fed in chunks cut anywhere."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before anything imports Qt
pytest.importorskip("PySide6", reason="PySide6 not installed: pip install -e '.[test-gui]'")
pytest.importorskip("pytestqt", reason="pytest-qt not installed: pip install -e '.[test-gui]'")

from pathlib import Path

from ollama_server import OllamaServer
from pytestqt.qtbot import QtBot

from qtqueue.core.task import Task, TaskStatus, TaskType
from qtqueue.engine.queue import TaskQueue
from qtqueue.families.ollama.progress import short_digest
from qtqueue.families.ollama.qt import PullLayerView, detail_widget


async def test_the_layer_view_shows_each_layer_of_a_pull_against_local_ollama_api(
    oq: TaskQueue, ollama: OllamaServer, qtbot: QtBot, tmp_path: Path
) -> None:
    model = ollama.library["smollm2:135m"]
    done = await oq.wait_for(
        await oq.add_task(Task(TaskType.OLLAMA_PULL, {"model": model.name})), timeout_s=30
    )
    assert done.status is TaskStatus.COMPLETED, done.error
    log = await oq.read_log(done.id)

    view = detail_widget()
    qtbot.addWidget(view)
    assert isinstance(view, PullLayerView) and view.shows(done)
    assert not view.shows(Task(TaskType.OLLAMA_LIST, {}))
    half = len(log) // 2 + 7  # cut inside a line: that line waits for the next chunk
    with qtbot.waitSignal(view.updated) as updated:
        view.feed(done.id, log[:half])
    assert updated.args == [done.id]
    view.feed(done.id, log[half:])
    view.finish(done.id)

    rows = [
        [view.view.topLevelItem(i).text(c) for c in range(3)]  # type: ignore[union-attr]
        for i in range(view.view.topLevelItemCount())
    ]
    assert rows == [
        [short_digest(model.digests[0]), "done", "100 % · 60.0 kB / 60.0 kB"],
        [short_digest(model.digests[1]), "done", "100 % · 20.0 kB / 20.0 kB"],
        [short_digest(model.digests[2]), "done", "100 % · 1.0 kB / 1.0 kB"],
    ]
    assert view.title() == "Model layers (3)"
    view.resize(520, 200)
    shot = tmp_path / "ollama_pull_layers.png"
    assert view.grab().save(str(shot))
    assert shot.stat().st_size > 0
    view.reset()
    assert view.view.topLevelItemCount() == 0 and view.title() == "Model layers"
