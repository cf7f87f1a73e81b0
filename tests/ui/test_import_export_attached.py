"""Import into a window attached to a headless engine (`qtqueue run`): the tasks go over the
local API all at once, and an entry only the engine can refuse (an unknown queue) adds none."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QMessageBox

from qtqueue.api.wire import MAX_BODY_BYTES
from qtqueue.app import create_main_window
from qtqueue.executors import default_registry
from qtqueue.ui.main_window import MainWindow

from .attach_env import Headless, headless_engine

Run = Callable[..., Any]


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Headless]:
    with headless_engine(tmp_path / "e") as running:
        yield running


def _tasks_file(path: Path, *entries: dict[str, Any]) -> Path:
    path.write_text(json.dumps({"format": "qtqueue-tasks", "version": 1, "tasks": entries}))
    return path


def _entry(name: str, **more: Any) -> dict[str, Any]:
    return {"task_type": "custom_command", "name": name, "params": {"command": "true"}, **more}


def _engine_names(engine: Headless) -> list[str]:
    shown = json.loads(engine.cli("ls", "--json"))
    tasks = shown if isinstance(shown, list) else shown.get("tasks", [])
    return sorted(t["name"] for t in tasks)


def test_an_attached_window_imports_all_or_none(
    engine: Headless, run: Run, open_windows: list[MainWindow], tmp_path: Path
) -> None:
    settings = QSettings(str(tmp_path / "window.ini"), QSettings.Format.IniFormat)
    w: MainWindow = run(
        create_main_window(
            engine.data_dir, settings=settings, registry=default_registry(entry_points=False)
        )
    )
    open_windows.append(w)
    w.show()
    assert not w.queue.owns_engine

    refused = _tasks_file(
        tmp_path / "refused.json", _entry("first"), _entry("second", queue="no_such_queue")
    )
    assert run(w.data_files.import_from(refused)) == []
    boxes = [b for b in w.findChildren(QMessageBox, "importFailed") if b.isVisible()]
    assert len(boxes) == 1 and "no_such_queue" in boxes[0].text()  # the engine's refusal
    assert _engine_names(engine) == []  # the engine refused the batch: none of it was added

    good = _tasks_file(tmp_path / "good.json", _entry("first"), _entry("second"))
    added = run(w.data_files.import_from(good))

    assert len(added) == 2
    assert _engine_names(engine) == ["first", "second"]
    run(w.shutdown())


def test_an_attached_window_imports_a_file_over_the_request_limit(
    engine: Headless, run: Run, open_windows: list[MainWindow], tmp_path: Path
) -> None:
    """5,000 tasks (1.4 MB: over the local API's 1 MiB request) reach the engine at once: it
    reads the file itself."""
    settings = QSettings(str(tmp_path / "window.ini"), QSettings.Format.IniFormat)
    w: MainWindow = run(
        create_main_window(
            engine.data_dir, settings=settings, registry=default_registry(entry_points=False)
        )
    )
    open_windows.append(w)
    assert not w.queue.owns_engine
    entries = [
        _entry(
            f"t{i}", permission="human_required", params={"command": "true", "args": ["x" * 200]}
        )
        for i in range(5000)
    ]
    big = _tasks_file(tmp_path / "big.json", *entries)
    assert big.stat().st_size > MAX_BODY_BYTES

    added = run(w.data_files.import_from(big), timeout_s=60)

    assert len(added) == 5000
    assert not [b for b in w.findChildren(QMessageBox, "importFailed") if b.isVisible()]
    stats = json.loads(engine.cli("stats", "--json"))
    assert stats["summary"]["total_tasks"] == 5000
    assert "Imported 5,000 task(s)" in w.statusBar().currentMessage()
    run(w.shutdown())
