"""`qtqueue run --http` as a real process, with `qtqueue token` beside it: the URL printed first
and announced in engine.json, the key demanded, rotated from the command line and refused at
once, audited, and found in no file, log or command line; TLS where it is needed."""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import stat
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from helpers.cli import ok, qtqueue_command, qtqueue_env, refused, stop_engine
from helpers.waiting import wait_until

from api.http_auth_env import command_line, files_holding, http_engine, self_signed
from qtqueue.api.keys import ApiKeys

pytestmark = pytest.mark.usefixtures("secret_service")

TASK = {"task_type": "custom_command", "params": {"command": "true"}, "run_at": 4102444800.0}


def _get(
    url: str, key: str | None, method: str = "GET", body: Any = None, **kw: Any
) -> tuple[int, Any]:
    """One request with the standard library: (status, the JSON body or None)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, method=method, data=data)
    request.add_header("Content-Type", "application/json")
    if key is not None:
        request.add_header("Authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(request, timeout=30, **kw) as resp:
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, None


def _refused(status: int, body: Any) -> bool:
    return status == 401 and body["error"]["code"] == "API_KEY_REQUIRED"


def test_the_engine_serves_with_the_key_and_a_rotation_from_the_cli_refuses_the_old_one(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "q"
    run = qtqueue_command(tmp_path)
    log = tmp_path / "engine.log"
    with http_engine(data_dir, qtqueue_env(tmp_path), log) as engine:
        assert engine.url.startswith("http://127.0.0.1:")
        announced = data_dir / "engine.json"
        assert json.loads(announced.read_text())["http"] == engine.url
        assert stat.S_IMODE(announced.stat().st_mode) == 0o600
        tasks = engine.url + "/tasks/"
        assert _get(engine.url + "/health", None)[0] == 200  # public

        old = ok(run("token", "show")).strip()  # the key the engine made and serves
        assert old.startswith("qtq_")
        assert _refused(*_get(tasks, None))
        assert _get(tasks, old)[0] == 200

        rotated = run("token", "rotate", "--name", "ops")
        new = ok(rotated).strip()
        assert new.startswith("qtq_") and new != old
        assert "running engine" in rotated.stderr
        assert _refused(*_get(tasks, old))  # at once: no restart, no wait
        assert _refused(*_get(tasks, old, "POST", TASK))
        assert _get(tasks, new)[0] == 200
        assert ok(run("token", "show")).strip() == new
        status, added = _get(tasks, new, "POST", TASK)
        assert (status, added["task"]["created_by"]) == (201, "ops")  # the key's name
        task_id = added["task"]["id"]
        assert _get(f"{tasks}{task_id}", new)[1]["task"]["created_by"] == "ops"
        secrets_seen = [old, new]
        argv = command_line(engine.proc.pid)
    assert not (data_dir / "engine.json").exists()  # withdrawn on stop
    trail = data_dir / "audit.log"  # kept beside the store, only its owner reads it
    assert stat.S_IMODE(trail.stat().st_mode) == 0o600
    for text in (log.read_text(), trail.read_text()):
        assert f"ops POST /tasks/ task_id={task_id} -> 201" in text
        assert "- POST /tasks/ -> 401" in text
    for key in secrets_seen:
        assert key not in text and key not in argv
        assert files_holding(data_dir, key) == []
        assert files_holding(tmp_path, key) == []  # the engine's log and audit.log included


def test_a_started_engine_reads_the_key_rotated_while_none_ran(tmp_path: Path) -> None:
    run = qtqueue_command(tmp_path)
    old = ok(run("token", "show")).strip()
    rotated = run("token", "rotate")
    new = ok(rotated).strip()
    assert new != old and "no engine runs" in rotated.stderr
    with http_engine(tmp_path / "q", qtqueue_env(tmp_path), tmp_path / "e.log") as engine:
        assert _refused(*_get(engine.url + "/tasks/", old))
        assert _get(engine.url + "/tasks/", new)[0] == 200


def test_https_from_the_command_line(tmp_path: Path) -> None:
    made = self_signed(tmp_path / "tls")
    args = ("--tls-cert", str(made.cert), "--tls-key", str(made.key))
    with http_engine(tmp_path / "q", qtqueue_env(tmp_path), tmp_path / "e.log", args=args) as e:
        assert e.url.startswith("https://127.0.0.1:")
        key = ok(qtqueue_command(tmp_path)("token", "show")).strip()
        trust = ssl.create_default_context(cafile=str(made.cert))
        assert _refused(*_get(e.url + "/tasks/", None, context=trust))
        assert _get(e.url + "/tasks/", key, context=trust)[0] == 200
        with pytest.raises(urllib.error.URLError):  # not trusted: refused by the client
            _get(e.url + "/tasks/", key)


def test_bad_serving_options_are_usage_errors_with_codes(tmp_path: Path) -> None:
    run = qtqueue_command(tmp_path)
    stderr = refused(run("run", "--http", "0.0.0.0:0"), "API_TLS_REQUIRED", exit_status=2)
    assert "--tls-cert FILE --tls-key FILE" in stderr
    refused(run("run", "--http", "8080"), "VALIDATION_INVALID_FORMAT", exit_status=2)
    refused(run("run", "--http", "127.0.0.1:99999"), "VALIDATION_INVALID_FORMAT", exit_status=2)
    cert = tmp_path / "cert.pem"
    cert.write_text("not a certificate")
    refused(
        run("run", "--http", "127.0.0.1:0", "--tls-cert", str(cert)),
        "VALIDATION_MISSING_REQUIRED",
        exit_status=2,
    )
    refused(
        run("run", "--http", "127.0.0.1:0", "--tls-cert", str(cert), "--tls-key", str(cert)),
        "NETWORK_SSL_ERROR",
        exit_status=2,
    )
    alone = run("run", "--tls-cert", str(cert), "--tls-key", str(cert))
    assert alone.returncode == 2 and "--http" in alone.stderr
    assert not (tmp_path / "q").exists()  # nothing was started


def test_a_port_taken_is_a_coded_error_and_the_engine_stops(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        run = qtqueue_command(tmp_path)
        stderr = refused(run("run", "--http", f"127.0.0.1:{port}"), "NETWORK_CONNECTION_FAILED")
    assert f"127.0.0.1:{port}" in stderr
    assert not (tmp_path / "q" / "engine.json").exists()


def _stream(url: str, key: str) -> http.client.HTTPResponse:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"})
    resp: http.client.HTTPResponse = urllib.request.urlopen(request, timeout=30)
    return resp


def test_open_streams_end_cleanly_and_at_once_when_the_engine_stops(tmp_path: Path) -> None:
    data_dir = tmp_path / "q"
    talker = {"task_type": "custom_command",
              "params": {"command": "sh", "args": ["-c", "echo talking; sleep 60"]}}  # fmt: skip
    with http_engine(data_dir, qtqueue_env(tmp_path), tmp_path / "e.log") as engine:
        key = ApiKeys(data_dir).current().secret
        task_id = _get(engine.url + "/tasks/", key, "POST", talker)[1]["task"]["id"]
        wait_until(
            lambda: _get(f"{engine.url}/tasks/{task_id}", key)[1]["task"]["status"] == "running",
            what="the task runs",
        )
        log = _stream(f"{engine.url}/tasks/{task_id}/log?follow=1", key)
        assert log.readline() == b"talking\n"
        events = _stream(engine.url + "/events", key)
        assert events.readline().startswith(b"event: hello")

        started = time.perf_counter()
        assert stop_engine(engine.proc) == 0
        took = time.perf_counter() - started
        # ended, not cut: a chunked reply cut short raises IncompleteRead here
        assert log.read() == b"" and events.read() is not None
    print(f"\nthe engine stopped {took:.2f} s after SIGTERM, with a log follower open")
    assert took < 2.0  # it was 10.7 s: the follower held the server open
