"""The github family's detail widget (qt.py), fed the logs of real tasks: a clone against
git-http-backend and a list against the local GitHub REST API, cut into chunks anywhere, and
rendered offscreen."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before anything imports Qt
pytest.importorskip("PySide6", reason="PySide6 not installed: pip install -e '.[test-gui]'")
pytest.importorskip("pytestqt", reason="pytest-qt not installed: pip install -e '.[test-gui]'")

from pathlib import Path

from git_server import GitServer, make_bare_repo
from github_api_server import GitHubApiServer
from github_env import LOGIN
from pytestqt.qtbot import QtBot

from qtqueue.core.task import Task, TaskStatus, TaskType
from qtqueue.engine.queue import TaskQueue
from qtqueue.families.github.qt import GitHubView, detail_widget

T = TaskType


def feed_in_pieces(view: GitHubView, task: Task, log: str, size: int) -> None:
    """The log as the pane hands it over: in chunks of `size` characters, cut anywhere."""
    for start in range(0, len(log), size):
        view.feed(task.id, log[start : start + size])
    view.finish(task.id)


def cells(view: GitHubView) -> list[list[str]]:
    tree = view.view
    return [
        [tree.topLevelItem(r).text(c) for c in range(tree.columnCount())]
        for r in range(tree.topLevelItemCount())
    ]


async def test_a_clone_shows_its_git_phases_against_git_http_backend(
    qtbot: QtBot, gq: TaskQueue, git_http: GitServer, tmp_path: Path
) -> None:
    make_bare_repo(git_http.root, "app", {f"f{n}.bin": os.urandom(4096) for n in range(80)})
    task_id = await gq.add_task(
        Task(
            T.GITHUB_CLONE,
            {"repository": f"{git_http.url}/app.git", "destination": str(tmp_path / "c")},
        )
    )
    task = await gq.wait_for(task_id, timeout_s=60)
    assert task.status is TaskStatus.COMPLETED, task.error
    view = detail_widget()
    qtbot.addWidget(view)
    assert view.shows(task)
    with qtbot.waitSignal(view.updated):
        feed_in_pieces(view, task, await gq.read_log(task.id), size=37)
    rows = {row[0]: row for row in cells(view)}
    assert view.title() == "Git transfer"
    receiving = rows["Receiving objects"]
    assert (
        receiving[1] == "done"
        and receiving[2] == f"{task.result['objects']} / {task.result['objects']}"
    )
    assert receiving[3].endswith(("KiB", "MiB"))
    assert "remote: Counting objects" in rows
    view.resize(640, 240)
    shot = tmp_path / "github-transfer.png"
    assert view.grab().save(str(shot)) and shot.stat().st_size > 0


async def test_a_list_shows_the_repositories_against_local_github_api(
    qtbot: QtBot, gq: TaskQueue, api: GitHubApiServer, tmp_path: Path
) -> None:
    for name in ("web", "api", "docs"):
        api.add_repo(LOGIN, name, private=name == "api")
    task_id = await gq.add_task(Task(T.GITHUB_LIST_REPOS, {"api_url": api.url}))
    task = await gq.wait_for(task_id, timeout_s=60)
    assert task.status is TaskStatus.COMPLETED, task.error
    view = detail_widget()
    qtbot.addWidget(view)
    view.feed("earlier", "[git] Receiving objects: 100% (3/3), done.\n")  # another task's
    view.reset()
    feed_in_pieces(view, task, await gq.read_log(task.id), size=11)
    assert view.title() == "Repositories (3)"
    assert [row[:3] for row in cells(view)] == [
        [f"{LOGIN}/web", "public", "main"],
        [f"{LOGIN}/api", "private", "main"],
        [f"{LOGIN}/docs", "public", "main"],
    ]
    view.resize(640, 200)
    shot = tmp_path / "github-repos.png"
    assert view.grab().save(str(shot)) and shot.stat().st_size > 0


def test_other_tasks_are_not_shown(qtbot: QtBot) -> None:
    view = detail_widget()
    qtbot.addWidget(view)
    assert not view.shows(Task(T.GITHUB_CREATE_REPO, {"name": "x"}))
    assert not view.shows(Task(T.DOCKER_PULL, {"image": "busybox"}))
