"""A window that runs its engine serves the web API (REST, admin page, metrics) where the
engine's settings ask for it, says where in its status bar (a link to the admin page), and
stops serving when it shuts down; an address it cannot serve is said there with its code
while the window works on."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from helpers.cli import ok, qtqueue_command
from PySide6.QtWidgets import QLabel

from qtqueue.api.keys import ApiKeys
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


def _post_task(url: str, key: str) -> Any:
    body = json.dumps({"task_type": "custom_command", "params": {"command": "true"}}).encode()
    request = urllib.request.Request(url + "/tasks/", data=body, method="POST", headers={
        "Authorization": f"Bearer {key}", "Content-Type": "application/json"})  # fmt: skip
    with urllib.request.urlopen(request, timeout=30) as resp:
        return json.loads(resp.read())


def test_the_window_keeps_the_web_apis_audit_trail_though_it_logs_only_warnings(
    make_window: Callable[..., MainWindow], run: Any, tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    caplog.set_level(logging.WARNING)  # as `qtqueue` / `qtqueue gui` set the window's logging
    data_dir = tmp_path / "q"
    ok(qtqueue_command(tmp_path, data_dir=data_dir)("config", "set",
                                                    "engine.http_address=127.0.0.1:0"))  # fmt: skip
    make_window(data_dir)
    url = json.loads((data_dir / "engine.json").read_text())["http"]
    key = ApiKeys(data_dir).current()
    added = run(asyncio.to_thread(_post_task, url, key.secret), timeout_s=40)
    trail = (data_dir / "audit.log").read_text()
    assert f"{key.name} POST /tasks/ task_id={added['task']['id']} -> 201" in trail
    assert key.secret not in trail


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
