"""K8S_LOGS through a real TaskQueue against the suite's own pods/log endpoint (pod_endpoints.py:
the Kubernetes API's log endpoint beside the kmock emulator, the test playing the kubelet that
prints the lines): lines streamed while the task runs, follow ended by duration_s or by cancel,
a deployment's pods read at once and prefixed, and the codes of what fails."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from helpers.waiting import eventually
from pod_endpoints import (  # noqa: F401  (pod_api_fixture: the `pod_api` fixture)
    TASK_S,
    PodApi,
    free_port,
    pod_api_fixture,
    run,
    submit,
)

from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.core.task import Task, TaskStatus, TaskType
from qtqueue.engine.queue import TaskQueue

C = TaskErrorCode
S = TaskStatus
LOGS = TaskType.K8S_LOGS


async def test_a_followed_pods_lines_reach_the_task_log_while_it_runs_against_suite_pod_endpoints(
    queue: TaskQueue, pod_api: PodApi
) -> None:
    await pod_api.add_pod("api-0")
    pod_api.write_log("api-0", "booting")
    task_id = await submit(queue, pod_api, LOGS, pod="api-0", follow=True)

    await eventually(lambda: _has(queue, task_id, "booting"), TASK_S, "the first line logged")
    pod_api.write_log("api-0", "listening on :8080")
    await eventually(lambda: _has(queue, task_id, "listening on :8080"), TASK_S, "a new line")
    assert (await queue.get_task(task_id)).status is S.RUNNING  # still following

    pod_api.end_log("api-0")  # the container terminates: the follow ends
    done = await queue.wait_for(task_id, timeout_s=TASK_S)
    assert done.status is S.COMPLETED, done.error
    assert done.result == {
        "pod": "api-0",
        "namespace": "default",
        "pods": ["api-0"],
        "lines": 2,
        "last_lines": ["booting", "listening on :8080"],
        "ended": "end of log",
    }
    assert done.progress == 100


async def test_a_follow_ends_at_duration_s_and_completes_against_suite_pod_endpoints(
    queue: TaskQueue, pod_api: PodApi
) -> None:
    await pod_api.add_pod("worker")
    pod_api.write_log("worker", "tick 1", "tick 2")
    started = time.monotonic()
    done = await run(queue, pod_api, LOGS, pod="worker", follow=True, duration_s=0.5)
    assert done.status is S.COMPLETED, done.error
    assert done.result is not None
    assert done.result["ended"] == "duration_s reached"
    assert done.result["lines"] == 2
    assert time.monotonic() - started < TASK_S / 2  # ended by the limit, not by a test timeout
    assert not pod_api.logs[("default", "worker", "app")].ended  # the container still runs


async def test_cancel_stops_a_follow_at_once_against_suite_pod_endpoints(
    queue: TaskQueue, pod_api: PodApi
) -> None:
    await pod_api.add_pod("chatty")
    pod_api.write_log("chatty", "before cancel")
    task_id = await submit(queue, pod_api, LOGS, pod="chatty", follow=True)
    await eventually(lambda: _has(queue, task_id, "before cancel"), TASK_S, "the first line")

    started = time.monotonic()
    await queue.cancel_task(task_id)
    done = await queue.wait_for(task_id, timeout_s=TASK_S)
    assert done.status is S.CANCELLED
    assert time.monotonic() - started < 5.0
    pod_api.write_log("chatty", "after cancel")  # the task has ended: nobody reads it now
    await queue.settled()
    assert "after cancel" not in await queue.read_log(task_id)
    # and the stream was closed, not left open: the API server's next write finds it gone
    await eventually(lambda: pod_api.dropped_follows == 1, TASK_S, "the follow to be dropped")


async def test_a_paused_follow_holds_its_lines_until_resumed_against_suite_pod_endpoints(
    queue: TaskQueue, pod_api: PodApi
) -> None:
    await pod_api.add_pod("api-0")
    pod_api.write_log("api-0", "before pause")
    task_id = await submit(queue, pod_api, LOGS, pod="api-0", follow=True)
    await eventually(lambda: _has(queue, task_id, "before pause"), TASK_S, "the first line")

    assert (await queue.pause_task(task_id)).status is S.PAUSED
    pod_api.write_log("api-0", "written while paused")
    assert (await queue.resume_task(task_id)).status is S.RUNNING
    await eventually(lambda: _has(queue, task_id, "written while paused"), TASK_S, "the line")
    pod_api.end_log("api-0")
    done = await queue.wait_for(task_id, timeout_s=TASK_S)
    assert done.status is S.COMPLETED, done.error
    assert done.result is not None and done.result["lines"] == 2


async def test_a_deployments_pods_are_read_together_each_line_prefixed_against_suite_pod_endpoints(
    queue: TaskQueue, pod_api: PodApi
) -> None:
    await pod_api.create(
        "/apis/apps/v1/namespaces/default/deployments",
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": []}},
            },
        },
    )
    await pod_api.add_pod("web-7d4b-a", labels={"app": "web"})
    await pod_api.add_pod("web-7d4b-b", labels={"app": "web"})
    await pod_api.add_pod("db-0", labels={"app": "db"})  # not the deployment's
    await pod_api.add_pod("web-7d4b-c", labels={"app": "web"}, state="waiting")  # rolling out
    pod_api.write_log("web-7d4b-a", "GET / 200")
    pod_api.write_log("web-7d4b-b", "GET /health 200", "GET /login 302")
    pod_api.write_log("db-0", "checkpoint complete")

    done = await run(queue, pod_api, LOGS, deployment="web")
    assert done.status is S.COMPLETED, done.error
    assert done.result is not None
    assert done.result["pods"] == ["web-7d4b-a", "web-7d4b-b"]
    assert done.result["lines"] == 3
    log = (await queue.read_log(done.id)).splitlines()
    assert "[pod/web-7d4b-a/app] GET / 200" in log
    assert "[pod/web-7d4b-b/app] GET /health 200" in log
    assert "[pod/web-7d4b-b/app] GET /login 302" in log
    assert not any("checkpoint complete" in line for line in log)
    assert any(
        line.startswith("skipped: pod 'web-7d4b-c'") and "ContainerCreating" in line for line in log
    )


async def test_every_container_of_a_pod_is_read_when_none_is_named_against_suite_pod_endpoints(
    queue: TaskQueue, pod_api: PodApi
) -> None:
    await pod_api.add_pod("batch", containers=["main", "sidecar"])
    pod_api.write_log("batch", "job done", container="main")
    pod_api.write_log("batch", "proxy idle", container="sidecar")
    done = await run(queue, pod_api, LOGS, pod="batch")
    assert done.status is S.COMPLETED, done.error
    log = (await queue.read_log(done.id)).splitlines()
    assert "[pod/batch/main] job done" in log
    assert "[pod/batch/sidecar] proxy idle" in log


async def test_tail_lines_and_timestamps_reach_the_api_server_against_suite_pod_endpoints(
    queue: TaskQueue, pod_api: PodApi
) -> None:
    await pod_api.add_pod("batch", containers=["main", "sidecar"])
    pod_api.write_log("batch", "one", "two", "three", container="main")
    done = await run(
        queue, pod_api, LOGS, pod="batch", container="main", tail_lines=2, timestamps=True
    )
    assert done.status is S.COMPLETED, done.error
    assert done.result is not None
    lines = done.result["last_lines"]
    assert [line.split(" ", 1)[1] for line in lines] == ["two", "three"]
    assert all(line[:4].isdigit() and line.split(" ", 1)[0].endswith("Z") for line in lines)
    assert pod_api.log_requests[-1]["container"] == "main"


@pytest.mark.parametrize(
    "params", [{}, {"pod": "a", "deployment": "b"}, {"pod": "Not_A_Pod"}], ids=str
)
async def test_a_task_naming_no_pod_or_deployment_both_or_a_bad_name_is_refused_at_once(
    queue: TaskQueue, params: dict[str, str]
) -> None:
    with pytest.raises(QueueError) as refused:
        await queue.add_task(Task(LOGS, params))
    assert refused.value.code == C.VALIDATION_INVALID_PARAMS


@pytest.mark.parametrize("source", ["pod", "deployment"])
async def test_a_missing_pod_or_deployment_is_k8s_resource_not_found_against_suite_pod_endpoints(
    queue: TaskQueue, pod_api: PodApi, source: str
) -> None:
    done = await run(queue, pod_api, LOGS, **{source: "ghost"})
    assert done.status is S.FAILED
    assert done.error_code == C.K8S_RESOURCE_NOT_FOUND.value
    assert done.error is not None and "'ghost'" in done.error


@pytest.mark.parametrize(("state", "follow"), [("waiting", False), ("unreported", True)])
async def test_a_container_not_started_is_k8s_pod_failed_against_suite_pod_endpoints(
    queue: TaskQueue, pod_api: PodApi, state: str, follow: bool
) -> None:
    # "unreported": no container status yet, so only the API server's answer tells.
    await pod_api.add_pod("starting", state=state)
    done = await run(queue, pod_api, LOGS, pod="starting", follow=follow)
    assert done.status is S.FAILED
    assert done.error_code == C.K8S_POD_FAILED.value
    assert done.error is not None
    assert "waiting to start: ContainerCreating" in done.error


async def test_a_dead_api_server_is_k8s_cluster_unavailable_against_suite_pod_endpoints(
    queue: TaskQueue, pod_api: PodApi, tmp_path: Path
) -> None:
    dead = pod_api.kubeconfig(tmp_path / "dead", server=f"http://127.0.0.1:{free_port()}")
    done = await run(queue, pod_api, LOGS, pod="api-0", follow=True, kubeconfig=str(dead))
    assert done.status is S.FAILED
    assert done.error_code == C.K8S_CLUSTER_UNAVAILABLE.value


async def test_a_refused_token_is_k8s_authentication_failed_against_suite_pod_endpoints(
    queue: TaskQueue, pod_api: PodApi, tmp_path: Path
) -> None:
    await pod_api.add_pod("api-0")
    wrong = pod_api.kubeconfig(tmp_path / "wrong", token="not-the-token")
    done = await run(queue, pod_api, LOGS, pod="api-0", kubeconfig=str(wrong))
    assert done.status is S.FAILED
    assert done.error_code == C.K8S_AUTHENTICATION_FAILED.value


async def _has(queue: TaskQueue, task_id: str, text: str) -> bool:
    return text in await queue.read_log(task_id)
