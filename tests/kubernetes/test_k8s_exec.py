"""K8S_EXEC through a real TaskQueue against the suite's own pods/exec endpoint (pod_endpoints.py:
the Kubernetes API's exec over a v4.channel.k8s.io WebSocket beside the kmock emulator, the
command run for real as a local process): output live in the log, the exit status in the result
or the error, cancel ending the command, and the codes of what fails."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from helpers.processes import gone
from helpers.waiting import eventually
from pod_endpoints import (  # noqa: F401  (pod_api_fixture: the `pod_api` fixture)
    TASK_S,
    PodApi,
    free_port,
    pod_api_fixture,
    run,
    submit,
)

from qtqueue.core.errors import TaskErrorCode
from qtqueue.core.task import TaskStatus, TaskType
from qtqueue.engine.credentials import KeyringVault
from qtqueue.engine.queue import TaskQueue

C = TaskErrorCode
S = TaskStatus
EXEC = TaskType.K8S_EXEC


async def test_stdout_stderr_and_exit_0_complete_with_the_output_against_suite_pod_endpoints(
    queue: TaskQueue, pod_api: PodApi
) -> None:
    await pod_api.add_pod("toolbox")
    done = await run(
        queue,
        pod_api,
        EXEC,
        pod="toolbox",
        command=["sh", "-c", "echo migrated 12 tables; echo 'warning: slow index' >&2"],
    )
    assert done.status is S.COMPLETED, done.error
    assert done.result == {
        "pod": "toolbox",
        "container": "app",
        "namespace": "default",
        "command": ["sh", "-c", "echo migrated 12 tables; echo 'warning: slow index' >&2"],
        "exit_code": 0,
        "stdout": "migrated 12 tables\n",
        "stderr": "warning: slow index\n",
    }
    log = await queue.read_log(done.id)
    assert "migrated 12 tables" in log and "warning: slow index" in log
    assert pod_api.execs[-1].returncode == 0  # it really ran, behind the endpoint


async def test_a_non_zero_exit_fails_naming_the_exit_status_against_suite_pod_endpoints(
    queue: TaskQueue, pod_api: PodApi
) -> None:
    await pod_api.add_pod("toolbox")
    done = await run(
        queue, pod_api, EXEC, pod="toolbox", command="sh -c 'echo disk almost full >&2; exit 3'"
    )
    assert done.status is S.FAILED
    assert done.error_code == C.SYSTEM_COMMAND_FAILED.value
    assert done.error is not None
    assert "exited with code 3" in done.error and "disk almost full" in done.error
    assert done.error_details["exit_code"] == 3
    assert done.error_details["stderr"] == "disk almost full\n"


async def test_output_reaches_the_log_while_the_command_runs_against_suite_pod_endpoints(
    queue: TaskQueue, pod_api: PodApi, tmp_path: Path
) -> None:
    await pod_api.add_pod("toolbox")
    flag = tmp_path / "go-on"
    script = f"echo step one; while [ ! -e {flag} ]; do sleep 0.05; done; echo step two"
    task_id = await submit(queue, pod_api, EXEC, pod="toolbox", command=["sh", "-c", script])
    await eventually(lambda: _has(queue, task_id, "step one"), TASK_S, "the first output")
    assert (await queue.get_task(task_id)).status is S.RUNNING
    flag.touch()
    done = await queue.wait_for(task_id, timeout_s=TASK_S)
    assert done.status is S.COMPLETED, done.error
    assert done.result is not None and done.result["stdout"] == "step one\nstep two\n"


async def test_cancel_closes_the_session_and_ends_the_command_against_suite_pod_endpoints(
    queue: TaskQueue, pod_api: PodApi
) -> None:
    await pod_api.add_pod("toolbox")
    task_id = await submit(
        queue, pod_api, EXEC, pod="toolbox", command=["sh", "-c", "echo working; exec sleep 60"]
    )
    await eventually(lambda: _has(queue, task_id, "working"), TASK_S, "the command to start")
    started = time.monotonic()
    await queue.cancel_task(task_id)
    done = await queue.wait_for(task_id, timeout_s=TASK_S)
    assert done.status is S.CANCELLED
    assert time.monotonic() - started < 5.0
    command = pod_api.execs[-1]
    await eventually(command.done.is_set, TASK_S, "the endpoint to end the command")
    assert command.returncode is not None and command.returncode < 0  # killed, not finished
    assert gone(command.pid)


async def test_an_unknown_program_is_system_command_not_found_against_suite_pod_endpoints(
    queue: TaskQueue, pod_api: PodApi
) -> None:
    await pod_api.add_pod("toolbox")
    done = await run(queue, pod_api, EXEC, pod="toolbox", command=["no-such-tool", "--help"])
    assert done.status is S.FAILED
    assert done.error_code == C.SYSTEM_COMMAND_NOT_FOUND.value
    assert done.error is not None and "no-such-tool" in done.error


async def test_a_missing_pod_is_k8s_resource_not_found_against_suite_pod_endpoints(
    queue: TaskQueue, pod_api: PodApi
) -> None:
    done = await run(queue, pod_api, EXEC, pod="ghost", command=["true"])
    assert done.status is S.FAILED
    assert done.error_code == C.K8S_RESOURCE_NOT_FOUND.value
    assert pod_api.execs == []


async def test_a_container_still_creating_is_k8s_pod_failed_against_suite_pod_endpoints(
    queue: TaskQueue, pod_api: PodApi
) -> None:
    await pod_api.add_pod("starting", state="waiting")
    done = await run(queue, pod_api, EXEC, pod="starting", command=["true"])
    assert done.status is S.FAILED
    assert done.error_code == C.K8S_POD_FAILED.value
    assert done.error is not None and "waiting to start: ContainerCreating" in done.error


async def test_exec_refused_by_rbac_is_k8s_authentication_failed_against_suite_pod_endpoints(
    queue: TaskQueue, pod_api: PodApi
) -> None:
    await pod_api.add_pod("toolbox")
    pod_api.exec_forbidden_for = "viewer"
    done = await run(queue, pod_api, EXEC, pod="toolbox", command=["true"])
    assert done.status is S.FAILED
    assert done.error_code == C.K8S_AUTHENTICATION_FAILED.value
    assert done.error is not None and "may not create pods/exec" in done.error


async def test_a_dead_api_server_is_k8s_cluster_unavailable_against_suite_pod_endpoints(
    queue: TaskQueue, pod_api: PodApi, tmp_path: Path
) -> None:
    dead = pod_api.kubeconfig(tmp_path / "dead", server=f"http://127.0.0.1:{free_port()}")
    started = time.monotonic()
    done = await run(queue, pod_api, EXEC, pod="toolbox", command=["true"], kubeconfig=str(dead))
    assert done.status is S.FAILED
    assert done.error_code == C.K8S_CLUSTER_UNAVAILABLE.value
    assert time.monotonic() - started < 10.0


@pytest.mark.usefixtures("secret_service")
async def test_a_keyring_token_is_used_refused_coded_never_shown_against_suite_pod_endpoints(
    queue: TaskQueue, pod_api: PodApi, tmp_path: Path, data_dir: Path
) -> None:
    # The kubeconfig's own token is wrong: only the keyring's can succeed.
    await pod_api.add_pod("toolbox")
    config = str(pod_api.kubeconfig(tmp_path / "stale", token="stale-token"))
    vault = KeyringVault()
    await asyncio.to_thread(vault.set, "cluster-token", pod_api.token)
    await asyncio.to_thread(vault.set, "old-token", "revoked-token-77aa")

    ok = await run(
        queue,
        pod_api,
        EXEC,
        pod="toolbox",
        command=["echo", "authorised"],
        kubeconfig=config,
        token_credential="cluster-token",
    )
    assert ok.status is S.COMPLETED, ok.error
    refused = await run(
        queue,
        pod_api,
        EXEC,
        pod="toolbox",
        command=["true"],
        kubeconfig=config,
        token_credential="old-token",
    )
    assert refused.status is S.FAILED
    assert refused.error_code == C.K8S_AUTHENTICATION_FAILED.value

    await queue.settled()
    stored = b"".join(p.read_bytes() for p in sorted(data_dir.rglob("*")) if p.is_file())
    for secret in (pod_api.token, "revoked-token-77aa"):
        assert secret.encode() not in stored
        assert secret not in repr((ok.result, refused.error, refused.error_details))


async def _has(queue: TaskQueue, task_id: str, text: str) -> bool:
    return text in await queue.read_log(task_id)
