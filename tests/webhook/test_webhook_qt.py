"""The webhook family's detail-pane widget (qt.py), offscreen: a real call's log, retried once
by a local aiohttp receiver, read back as one row per attempt, fed in chunks cut anywhere."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before anything imports Qt
pytest.importorskip("PySide6", reason="PySide6 not installed: pip install -e '.[test-gui]'")
pytest.importorskip("pytestqt", reason="pytest-qt not installed: pip install -e '.[test-gui]'")

from pytestqt.qtbot import QtBot
from webhook_server import Receiver

from qtqueue.core.task import Task, TaskStatus, TaskType
from qtqueue.engine.queue import TaskQueue
from qtqueue.families.webhook.qt import AttemptView, detail_widget


async def test_the_attempt_view_lists_each_try_against_local_receiver(
    wq: TaskQueue, receiver: Receiver, qtbot: QtBot
) -> None:
    params = {"url": receiver.url("/flaky/1?after=0"), "backoff_s": 0}
    done = await wq.wait_for(await wq.add_task(Task(TaskType.CUSTOM_WEBHOOK, params)), 30)
    assert done.status is TaskStatus.COMPLETED, done.error
    log = await wq.read_log(done.id)

    view = detail_widget()
    qtbot.addWidget(view)
    assert isinstance(view, AttemptView) and view.shows(done)
    assert not view.shows(Task(TaskType.OLLAMA_LIST, {}))
    cut = log.index("attempt 2/3") + 5  # inside a line: it waits for the next chunk
    with qtbot.waitSignal(view.updated) as updated:
        view.feed(done.id, log[:cut])
    assert updated.args == [done.id] and view.view.topLevelItemCount() == 1
    view.feed(done.id, log[cut:])
    view.finish(done.id)
    rows = [
        [view.view.topLevelItem(i).text(c) for c in range(2)]  # type: ignore[union-attr]
        for i in range(view.view.topLevelItemCount())
    ]
    assert rows[0][0] == "1/3" and "answered 503" in rows[0][1] and "retrying in 0 s" in rows[0][1]
    assert rows[1][0] == "2/3" and rows[1][1].startswith("200 OK in ")
    assert view.title() == "Attempts (2)"
    view.reset()
    assert view.view.topLevelItemCount() == 0 and view.title() == "Attempts"
