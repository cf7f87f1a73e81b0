"""The system family's detail-pane widget (qt.py), offscreen: the table a real update (Debian's
apt-get -s) and a real cleanup wrote to their logs, read back row by row from chunks cut
anywhere."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before anything imports Qt
pytest.importorskip("PySide6", reason="PySide6 not installed: pip install -e '.[test-gui]'")
pytest.importorskip("pytestqt", reason="pytest-qt not installed: pip install -e '.[test-gui]'")

import time
from pathlib import Path

from pytestqt.qtbot import QtBot
from system_env import run

from qtqueue.core.task import Task, TaskStatus, TaskType
from qtqueue.engine.queue import TaskQueue
from qtqueue.families.system.qt import SystemTableView, detail_widget


def rows(view: SystemTableView) -> list[list[str]]:
    items = [view.view.topLevelItem(i) for i in range(view.view.topLevelItemCount())]
    return [[it.text(c) for c in range(view.view.columnCount())] for it in items if it]


async def test_the_table_shows_a_real_cleanups_files_fed_in_pieces(
    queue: TaskQueue, qtbot: QtBot, tmp_path: Path
) -> None:
    root = tmp_path / "r"
    root.mkdir()
    for name, size in (("a.log", 10), ("b.log", 2000)):
        (root / name).write_bytes(b"x" * size)
        old = time.time() - 30 * 86400
        os.utime(root / name, (old, old))
    done = await run(queue, TaskType.SYSTEM_CLEANUP, {"roots": [str(root)], "qtqueue_logs": False})
    assert done.status is TaskStatus.COMPLETED, done.error
    log = await queue.read_log(done.id)
    view = detail_widget()
    qtbot.addWidget(view)
    assert view.shows(done) and not view.shows(Task(TaskType.SYSTEM_MONITOR, {}))
    half = len(log) // 2 + 3
    with qtbot.waitSignal(view.updated) as updated:
        view.feed(done.id, log[:half])
        view.feed(done.id, log[half:])
    view.finish(done.id)
    assert updated.args == [done.id]
    assert sorted(rows(view)) == [[str(root / "a.log"), "10"], [str(root / "b.log"), "2000"]]
    assert view.title() == "Would remove (2)"
    view.reset()
    assert rows(view) == [] and view.title() == "System"


async def test_the_table_shows_what_a_real_apt_would_upgrade(
    queue: TaskQueue, qtbot: QtBot
) -> None:
    done = await run(queue, TaskType.SYSTEM_UPDATE, {})
    assert done.status is TaskStatus.COMPLETED, done.error
    assert done.result is not None
    view = detail_widget()
    qtbot.addWidget(view)
    view.feed(done.id, await queue.read_log(done.id))
    view.finish(done.id)
    expected = [
        [c["package"], c["from"] or "(new)", c["to"], c["arch"]] for c in done.result["changes"]
    ]
    assert rows(view) == expected
    assert view.title() == f"Upgradable packages ({len(expected)})"
