"""Each failure of a Kubernetes task gets its documented code, fast: a dead cluster, a refused
token, a missing object, a missing namespace, a missing or broken kubeconfig. Tokens from the
keyring reach the API server and nowhere else."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from pathlib import Path

import kmock
import pytest
from auth_server import auth_server
from kube_env import NAMESPACE, KubeEnv, kubernetes_registry, run, write_kubeconfig

from qtqueue.core.errors import TaskErrorCode
from qtqueue.core.task import TaskStatus, TaskType
from qtqueue.engine.credentials import KeyringVault
from qtqueue.engine.queue import TaskQueue

C = TaskErrorCode
S = TaskStatus
T = TaskType

#: What the API server answers for a request into a namespace that does not exist.
NAMESPACE_MISSING = {
    "kind": "Status",
    "apiVersion": "v1",
    "metadata": {},
    "status": "Failure",
    "message": 'namespaces "ghost" not found',
    "reason": "NotFound",
    "details": {"name": "ghost", "kind": "namespaces"},
    "code": 404,
}


def closed_port() -> int:
    """A port of 127.0.0.1 nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


async def test_a_dead_cluster_is_cluster_unavailable_at_once(kq: TaskQueue, tmp_path: Path) -> None:
    dead = write_kubeconfig(tmp_path / "dead", f"http://127.0.0.1:{closed_port()}")
    began = time.monotonic()
    for task_type, params in (
        (T.K8S_GET, {"kind": "pods"}),
        (T.K8S_DEPLOY, {"name": "web", "image": "x:1"}),
        (T.K8S_DELETE, {"kind": "deploy", "name": "web"}),
        (T.K8S_SCALE, {"name": "web", "replicas": 2}),
    ):
        done = await run(kq, task_type, kubeconfig=str(dead), **params)
        assert done.error_code == C.K8S_CLUSTER_UNAVAILABLE.value, (task_type, done.error)
        assert "127.0.0.1" in done.error
    assert time.monotonic() - began < 10


async def test_a_cluster_that_accepts_but_never_answers_fails_within_the_request_timeout(
    data_dir: Path, tmp_path: Path
) -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # connections complete in the kernel; nothing ever answers
        port = silent.getsockname()[1]
        kubeconfig = write_kubeconfig(tmp_path / "silent", f"http://127.0.0.1:{port}")
        settings = {"k8s_kubeconfig": str(kubeconfig), "k8s_request_timeout_s": 1.0}
        async with TaskQueue(
            data_dir, registry=kubernetes_registry(), executor_settings=settings
        ) as queue:
            began = time.monotonic()
            done = await run(queue, T.K8S_GET, kind="pods")
            took = time.monotonic() - began
    assert done.error_code == C.K8S_CLUSTER_UNAVAILABLE.value
    assert "did not answer in time" in done.error
    assert took < 10


async def test_a_missing_or_broken_kubeconfig_or_context_says_which(
    kq: TaskQueue, tmp_path: Path
) -> None:
    missing = await run(kq, T.K8S_GET, kind="pods", kubeconfig=str(tmp_path / "nope"))
    assert missing.error_code == C.K8S_CLUSTER_UNAVAILABLE.value
    assert "nope: no such file" in missing.error
    broken = tmp_path / "broken"
    broken.write_text("clusters: [oops")
    bad = await run(kq, T.K8S_GET, kind="pods", kubeconfig=str(broken))
    assert bad.error_code == C.K8S_CLUSTER_UNAVAILABLE.value
    assert "not a valid kubeconfig" in bad.error
    other = await run(kq, T.K8S_GET, kind="pods", context="elsewhere")
    assert other.error_code == C.VALIDATION_INVALID_PARAMS.value
    assert "elsewhere" in other.error and "contexts: local" in other.error


async def test_missing_objects_are_resource_not_found_naming_them(
    kq: TaskQueue, kube: KubeEnv
) -> None:
    for task_type, params in (
        (T.K8S_GET, {"kind": "deploy", "name": "absent"}),
        (T.K8S_DELETE, {"kind": "Deployment", "name": "absent"}),
        (T.K8S_SCALE, {"name": "absent", "replicas": 1}),
    ):
        done = await run(kq, task_type, **params)
        assert done.error_code == C.K8S_RESOURCE_NOT_FOUND.value, (task_type, done.error)
        assert "Deployment 'absent'" in done.error and NAMESPACE in done.error


async def test_a_missing_namespace_is_namespace_not_found(kq: TaskQueue, kube: KubeEnv) -> None:
    """The emulator keeps no namespaces: it is told to answer for namespace `ghost` what the
    API server answers when a namespace does not exist (404, details.kind "namespaces")."""
    kube.km[kmock.namespace("ghost")] << 404 << NAMESPACE_MISSING
    kube.km["/api/v1/namespaces/ghost"] << 404 << NAMESPACE_MISSING
    manifest = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\n"
    for task_type, params in (
        (T.K8S_DEPLOY, {"manifest": manifest}),
        (T.K8S_GET, {"kind": "cm", "name": "settings"}),
        (T.K8S_DELETE, {"kind": "cm", "name": "settings"}),
    ):
        done = await run(kq, task_type, namespace="ghost", **params)
        assert done.error_code == C.K8S_NAMESPACE_NOT_FOUND.value, (task_type, done.error)
        assert "namespace 'ghost' not found" in done.error


@pytest.mark.usefixtures("secret_service")
async def test_keyring_token_used_and_wrong_one_refused_against_local_token_checking_api(
    data_dir: Path, tmp_path: Path
) -> None:
    """Against a tiny API server of the suite's own that checks bearer tokens (auth_server.py):
    kmock's emulator accepts any."""
    good, wrong = "good-token-7c1e55", "wrong-token-93ab02"
    vault = KeyringVault()
    await asyncio.to_thread(vault.set, "k8s-good", good)
    await asyncio.to_thread(vault.set, "k8s-wrong", wrong)
    async with auth_server(good) as server:
        kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", server.url, token="stale-token")
        settings = {"k8s_kubeconfig": str(kubeconfig)}
        async with TaskQueue(
            data_dir, registry=kubernetes_registry(), executor_settings=settings
        ) as queue:
            stale = await run(queue, T.K8S_GET, kind="configmaps")
            refused = await run(queue, T.K8S_GET, kind="configmaps", token_credential="k8s-wrong")
            accepted = await run(queue, T.K8S_GET, kind="configmaps", token_credential="k8s-good")
            tasks = [stale, refused, accepted]
            logs = [await queue.read_log(t.id) for t in tasks]
    assert stale.error_code == C.K8S_AUTHENTICATION_FAILED.value
    assert refused.error_code == C.K8S_AUTHENTICATION_FAILED.value
    assert accepted.status is S.COMPLETED, accepted.error
    assert accepted.result["count"] == 0
    assert server.seen == ["Bearer stale-token", f"Bearer {wrong}", f"Bearer {good}"]
    for task, log in zip(tasks, logs, strict=True):
        shown = json.dumps([task.error, task.error_details, task.result, task.params]) + log
        assert good not in shown and wrong not in shown
