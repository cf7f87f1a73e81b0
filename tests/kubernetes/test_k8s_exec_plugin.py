"""A kubeconfig whose user is an `exec` credential plugin (kubelogin, aws eks get-token...):
real small shell-script plugins. One that answers has its token used (against the suite's own
token-checking API, auth_server.py) and never shown; one that waits, as kubelogin waits for a
browser login, ends the task with K8S_AUTHENTICATION_FAILED within the request timeout, and
neither that nor a cancel leaves any process of it behind."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from auth_server import auth_server
from helpers.waiting import eventually
from kube_env import kubernetes_registry, run, submit, write_kubeconfig

from qtqueue.core.errors import TaskErrorCode
from qtqueue.core.task import Task, TaskStatus, TaskType
from qtqueue.engine.queue import TaskQueue

C = TaskErrorCode
S = TaskStatus
T = TaskType

TOKEN = "plugin-token-5d2e90c1"

#: Answers as the ExecCredential protocol says, only when called as it says: stdin closed
#: (a plugin that reads it must not wait on the task's), KUBERNETES_EXEC_INFO non-interactive.
ANSWERING = """#!/bin/sh
if read -r line; then echo "stdin was open" >&2; exit 3; fi
case "$KUBERNETES_EXEC_INFO" in
  *'"interactive": false'*) ;;
  *) echo "no KUBERNETES_EXEC_INFO" >&2; exit 4 ;;
esac
printf '{"apiVersion": "%s", "kind": "ExecCredential", "status": {"token": "%s"}}' \\
  client.authentication.k8s.io/v1beta1 "$PLUGIN_TOKEN"
"""

#: Waits forever (as for a browser login), through a child process, after noting both pids.
WAITING = """#!/bin/sh
sleep 300 &
echo $$ $! > "$PLUGIN_PIDS"
wait
"""

FAILING = """#!/bin/sh
echo "error: you must be logged in to the server" >&2
exit 1
"""


def plugin_kubeconfig(tmp_path: Path, server: str, script: str) -> Path:
    """A kubeconfig for `server` whose user is the exec plugin `script` (a relative path, as
    kubectl allows: relative to the kubeconfig's folder)."""
    plugin = tmp_path / "bin" / "plugin.sh"
    plugin.parent.mkdir(exist_ok=True)
    plugin.write_text(script)
    plugin.chmod(0o755)
    path = write_kubeconfig(tmp_path / "kubeconfig", server)
    config = json.loads(path.read_text())
    config["users"][0]["user"] = {
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1beta1",
            "command": "./bin/plugin.sh",
            "env": [
                {"name": "PLUGIN_TOKEN", "value": TOKEN},
                {"name": "PLUGIN_PIDS", "value": str(tmp_path / "pids")},
            ],
            "interactiveMode": "Never",
        }
    }
    path.write_text(json.dumps(config))
    return path


def alive(pid: int) -> bool:
    """Whether process `pid` still runs (a zombie waiting to be reaped does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def plugin_pids(tmp_path: Path) -> list[int] | None:
    path = tmp_path / "pids"
    text = path.read_text() if path.exists() else ""
    return [int(p) for p in text.split()] if len(text.split()) == 2 else None


def queue_for(data_dir: Path, kubeconfig: Path, request_timeout_s: float) -> TaskQueue:
    settings = {"k8s_kubeconfig": str(kubeconfig), "k8s_request_timeout_s": request_timeout_s}
    return TaskQueue(data_dir, registry=kubernetes_registry(), executor_settings=settings)


@dataclass
class Outcome:
    """A K8S_GET run with a plugin: the task, its log, the Authorization headers the API
    server saw, and how long it took."""

    task: Task
    log: str
    seen: list[str]
    took: float


async def get_with_plugin(
    data_dir: Path, tmp_path: Path, script: str, request_timeout_s: float
) -> Outcome:
    async with auth_server(TOKEN) as server:
        kubeconfig = plugin_kubeconfig(tmp_path, server.url, script)
        async with queue_for(data_dir, kubeconfig, request_timeout_s) as queue:
            began = time.monotonic()
            done = await run(queue, T.K8S_GET, kind="configmaps")
            took = time.monotonic() - began
            return Outcome(done, await queue.read_log(done.id), server.seen, took)


async def test_an_answering_plugin_s_token_is_used_and_never_shown_against_local_token_checking_api(
    data_dir: Path, tmp_path: Path
) -> None:
    out = await get_with_plugin(data_dir, tmp_path, ANSWERING, 10.0)
    assert out.task.status is S.COMPLETED, out.task.error
    assert out.seen == [f"Bearer {TOKEN}"]
    shown = json.dumps([out.task.error, out.task.error_details, out.task.result]) + out.log
    assert TOKEN not in shown


async def test_a_failing_plugin_is_authentication_failed_with_its_message(
    data_dir: Path, tmp_path: Path
) -> None:
    out = await get_with_plugin(data_dir, tmp_path, FAILING, 10.0)
    assert out.task.error_code == C.K8S_AUTHENTICATION_FAILED.value
    assert "you must be logged in" in out.task.error and "exit status 1" in out.task.error
    assert out.seen == []


async def test_a_plugin_that_waits_for_a_login_fails_within_the_request_timeout_and_is_killed(
    data_dir: Path, tmp_path: Path
) -> None:
    out = await get_with_plugin(data_dir, tmp_path, WAITING, 1.0)
    assert out.task.error_code == C.K8S_AUTHENTICATION_FAILED.value
    assert "within 1 s" in out.task.error and "interactive login" in out.task.error
    assert out.took < 10
    pids = plugin_pids(tmp_path)
    assert pids is not None
    assert not [pid for pid in pids if alive(pid)]  # the plugin and the child it started


async def test_cancelling_a_task_whose_plugin_waits_kills_the_plugin(
    data_dir: Path, tmp_path: Path
) -> None:
    async with auth_server(TOKEN) as server:
        kubeconfig = plugin_kubeconfig(tmp_path, server.url, WAITING)
        async with queue_for(data_dir, kubeconfig, 120.0) as queue:
            task_id = await submit(queue, T.K8S_GET, kind="configmaps")
            pids = await eventually(lambda: plugin_pids(tmp_path), what="the plugin runs")
            assert all(alive(pid) for pid in pids)
            cancelled = await queue.cancel_task(task_id)
            assert cancelled.status is S.CANCELLED
            await eventually(lambda: not any(alive(pid) for pid in pids), what="the plugin is gone")
    assert os.path.exists(tmp_path / "pids")
