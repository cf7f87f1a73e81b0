"""A window that runs its engine serves the web API (REST, admin page, metrics) where the
engine's settings ask for it, says where in its status bar (a link to the admin page), and
stops serving when it shuts down; an address it cannot serve is said there with its code
while the window works on."""

from __future__ import annotations

import asyncio
import json
import socket
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from helpers.cli import ok, qtqueue_command
from PySide6.QtWidgets import QLabel

from qtqueue.core.task import Task
from qtqueue.ui.main_window import MainWindow

pytestmark = pytest.mark.usefixtures("secret_service")


def _get_health(url: str) -> Any:
    with urllib.request.urlopen(url + "/health", timeout=30) as resp:
        return json.loads(resp.read())


def _health(run: Any, url: str) -> Any:
    """GET /health from another thread: the engine answers on this thread's loop."""
    return run(asyncio.to_thread(_get_health, url), timeout_s=40)


def test_the_window_serves_the_saved_web_api_address_and_links_the_admin_page(
    make_window: Callable[..., MainWindow], run: Any, tmp_path: Path
) -> None:
    data_dir = tmp_path / "q"
    ok(qtqueue_command(tmp_path, data_dir=data_dir)("config", "set",
                                                    "engine.http_address=127.0.0.1:0"))  # fmt: skip
    window = make_window(data_dir)
    url = json.loads((data_dir / "engine.json").read_text())["http"]
    assert _health(run, url) == {"ok": True}
    label = window.findChild(QLabel, "webApiLabel")
    assert label is not None and label.isVisible()
    assert f'href="{url}/admin/tasks"' in label.text() and label.openExternalLinks()
    assert run(window.queue.add_task(Task("custom_command", {"command": "true"}))) is not None
    run(window.shutdown())
    with pytest.raises(urllib.error.URLError):
        _health(run, url)  # the window's engine and its web API stopped together


def test_an_address_the_window_cannot_serve_is_said_and_the_window_works_on(
    make_window: Callable[..., MainWindow], run: Any, tmp_path: Path
) -> None:
    data_dir = tmp_path / "q"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        ok(qtqueue_command(tmp_path, data_dir=data_dir)(
            "config", "set", f"engine.http_address=127.0.0.1:{port}"))  # fmt: skip
        window = make_window(data_dir)
        label = window.findChild(QLabel, "webApiLabel")
        assert label is not None
        assert label.text() == "Web API off: NETWORK_CONNECTION_FAILED"
        assert str(port) in label.toolTip()
        assert "http" not in json.loads((data_dir / "engine.json").read_text())
        task_id = run(window.queue.add_task(Task("custom_command", {"command": "true"})))
        run(window.queue.wait_for(task_id, timeout_s=20))


def test_no_web_api_label_when_the_settings_name_no_address(
    make_window: Callable[..., MainWindow], tmp_path: Path
) -> None:
    window = make_window(tmp_path / "q")
    assert window.findChild(QLabel, "webApiLabel") is None
