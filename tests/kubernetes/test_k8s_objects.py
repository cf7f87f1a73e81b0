"""K8S_DELETE and K8S_GET through a real TaskQueue against a Kubernetes API on 127.0.0.1
(kmock's emulator)."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from helpers.waiting import eventually
from kube_env import NAMESPACE, KubeEnv, run, submit
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.apps_v1 import Deployment
from lightkube.resources.core_v1 import ConfigMap, Pod, Secret

from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.core.task import Task, TaskStatus, TaskType
from qtqueue.engine.queue import TaskQueue
from qtqueue.families.kubernetes.objects import GetParams

C = TaskErrorCode
S = TaskStatus
T = TaskType


async def config_maps(kube: KubeEnv) -> list[str]:
    return [c.metadata.name async for c in kube.api.list(ConfigMap, namespace=NAMESPACE)]


async def test_delete_waits_until_a_finalizer_lets_the_object_go(
    kq: TaskQueue, kube: KubeEnv
) -> None:
    held = ConfigMap(
        metadata=ObjectMeta(name="held", namespace=NAMESPACE, finalizers=["example.com/cleanup"])
    )
    await kube.api.create(held)
    task_id = await submit(kq, T.K8S_DELETE, kind="configmap", name="held")
    running = await eventually(
        lambda: _step_mentions(kq, task_id, "finalizers: example.com/cleanup"),
        what="the task waits on the finalizer",
    )
    assert running.status is S.RUNNING
    assert "held" in await config_maps(kube)

    # The finalizer's controller finishes its cleanup: the object goes.
    await kube.api.patch(ConfigMap, "held", {"metadata": {"finalizers": []}}, namespace=NAMESPACE)
    done = await kq.wait_for(task_id, timeout_s=30)
    assert done.status is S.COMPLETED, done.error
    assert done.result == {
        "kind": "ConfigMap",
        "name": "held",
        "namespace": NAMESPACE,
        "deleted": True,
    }
    assert "held" not in await config_maps(kube)
    assert "ConfigMap team/held: gone" in await kq.read_log(task_id)

    # Deleted again: not there, unless that is fine.
    again = await run(kq, T.K8S_DELETE, kind="cm", name="held")
    assert again.error_code == C.K8S_RESOURCE_NOT_FOUND.value
    fine = await run(kq, T.K8S_DELETE, kind="cm", name="held", missing_ok=True)
    assert fine.status is S.COMPLETED and fine.result["deleted"] is False


async def _step_mentions(queue: TaskQueue, task_id: str, text: str) -> Any:
    task = await queue.get_task(task_id)
    return task if text in (task.current_step or "") else None


async def test_delete_of_a_deployment_without_finalizers_ends_when_it_is_gone(
    kq: TaskQueue, kube: KubeEnv
) -> None:
    made = await run(kq, T.K8S_DEPLOY, name="old", image="x:1", wait=False)
    assert made.status is S.COMPLETED, made.error
    done = await run(kq, T.K8S_DELETE, kind="deployments", name="old", propagation="Foreground")
    assert done.status is S.COMPLETED, done.error
    assert [d async for d in kube.api.list(Deployment, namespace=NAMESPACE)] == []


async def pod(kube: KubeEnv, name: str, labels: dict[str, str], **status: Any) -> None:
    """A pod as the kubelet reports it (the test plays the kubelet)."""
    body = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": NAMESPACE,
            "labels": labels,
            "creationTimestamp": "2020-01-01T00:00:00Z",
        },
        "spec": {"containers": [{"name": "main", "image": "x:1"}]},
        "status": status,
    }
    await kube.api.create(Pod.from_dict(body))


async def test_get_returns_the_objects_as_json_and_logs_a_table(
    kq: TaskQueue, kube: KubeEnv
) -> None:
    running = {
        "name": "main",
        "ready": True,
        "restartCount": 0,
        "image": "x:1",
        "imageID": "",
        "state": {"running": {}},
    }
    pulling = {
        "name": "main",
        "ready": False,
        "restartCount": 0,
        "image": "x:1",
        "imageID": "",
        "state": {"waiting": {"reason": "ImagePullBackOff"}},
    }
    await pod(kube, "web-1", {"app": "web"}, phase="Running", containerStatuses=[running])
    await pod(kube, "web-2", {"app": "web"}, phase="Pending", containerStatuses=[pulling])
    await pod(kube, "db-1", {"app": "db"}, phase="Running", containerStatuses=[running])

    web = await run(kq, T.K8S_GET, kind="pods", label_selector="app=web")
    assert web.status is S.COMPLETED, web.error
    assert web.result["count"] == 2
    assert sorted(i["metadata"]["name"] for i in web.result["items"]) == ["web-1", "web-2"]
    table = [line.split() for line in (await kq.read_log(web.id)).splitlines()]
    assert ["NAME", "READY/STATUS", "AGE"] in table
    rows = {row[0]: row for row in table if row and row[0].startswith("web-")}
    assert rows["web-1"][1:3] == ["1/1", "Running"]
    assert rows["web-2"][1:3] == ["0/1", "ImagePullBackOff"]
    assert rows["web-1"][3].endswith("d")  # created years ago

    one = await run(kq, T.K8S_GET, kind="po", name="db-1")
    assert [i["metadata"]["name"] for i in one.result["items"]] == ["db-1"]
    everywhere = await run(
        kq, T.K8S_GET, kind="Pod", all_namespaces=True, label_selector="app!=web"
    )
    assert [i["metadata"]["name"] for i in everywhere.result["items"]] == ["db-1"]
    assert "NAMESPACE" in (await kq.read_log(everywhere.id)).splitlines()[0]

    unknown = await run(kq, T.K8S_GET, kind="Gizmo")
    assert unknown.error_code == C.VALIDATION_INVALID_PARAMS.value
    assert "api_version" in unknown.error


@pytest.mark.parametrize(
    "params",
    [
        {"task": T.K8S_DELETE, "kind": "ConfigMap", "name": "../../other/configmaps/victim"},
        {"task": T.K8S_DELETE, "kind": "ConfigMap", "name": "victim", "namespace": "../other"},
        {"task": T.K8S_GET, "kind": "ConfigMap", "name": "../../other/configmaps/victim"},
        {"task": T.K8S_GET, "kind": "ConfigMap", "name": "Victim"},
        {"task": T.K8S_GET, "kind": "ConfigMap", "namespace": "other/configmaps"},
        {"task": T.K8S_DELETE, "kind": "clusterrole", "name": "../../other/configmaps/victim"},
    ],
    ids=lambda p: f"{p['task'].value}-{p.get('name') or p.get('namespace')}",
)
async def test_a_name_or_namespace_that_is_no_kubernetes_name_is_refused_at_add_time(
    kq: TaskQueue, kube: KubeEnv, params: dict[str, Any]
) -> None:
    # A name reaches the request's URL path: "../.." segments would address an object in
    # another namespace (they did: the victim was deleted).
    await kube.api.create(ConfigMap(metadata=ObjectMeta(name="victim", namespace="other")))
    task_type = params.pop("task")
    with pytest.raises(QueueError) as refused:
        await kq.add_task(Task(task_type, params, max_retries=0))
    assert refused.value.code == C.VALIDATION_INVALID_PARAMS
    assert "not a Kubernetes name" in refused.value.message
    left = [c.metadata.name async for c in kube.api.list(ConfigMap, namespace="other")]
    assert left == ["victim"]


def test_rbac_names_with_colons_are_kubernetes_names() -> None:
    """RBAC objects are named as path segments ("system:controller:..."), not DNS names."""
    params = GetParams.model_validate({"kind": "ClusterRole", "name": "system:aggregate-to-admin"})
    assert params.name == "system:aggregate-to-admin"
    with pytest.raises(ValueError, match="not a Kubernetes name"):
        GetParams.model_validate({"kind": "ConfigMap", "name": "system:aggregate-to-admin"})


async def test_a_manifest_whose_name_leaves_its_url_path_is_invalid_format(
    kq: TaskQueue, kube: KubeEnv
) -> None:
    await kube.api.create(ConfigMap(metadata=ObjectMeta(name="victim", namespace="other")))
    manifest = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ../../other/configmaps/victim}\n"
    done = await run(kq, T.K8S_DEPLOY, manifest=manifest)
    assert done.error_code == C.VALIDATION_INVALID_FORMAT.value
    assert "metadata.name" in done.error
    left = [c.metadata.name async for c in kube.api.list(ConfigMap, namespace="other")]
    assert left == ["victim"]


async def test_get_of_a_secret_masks_its_values_unless_asked_to_show_them(
    kq: TaskQueue, kube: KubeEnv
) -> None:
    value = "s3cr3t-db-password"
    encoded = base64.b64encode(value.encode()).decode()
    await kube.api.create(
        Secret(
            metadata=ObjectMeta(name="db", namespace=NAMESPACE),
            data={"password": encoded},
            stringData={"user": "admin-" + value},
        )
    )
    for params in ({"name": "db"}, {}):
        done = await run(kq, T.K8S_GET, kind="secret", **params)
        assert done.status is S.COMPLETED, done.error
        (item,) = done.result["items"]
        # The keys stay (what a user checks: is the key there?), the values do not.
        assert set(item["data"]) == {"password"}
        assert set(item.get("stringData") or {}) <= {"user"}
        text = repr(done.result) + await kq.read_log(done.id)
        assert encoded not in text and value not in text
        assert "masked" in await kq.read_log(done.id)

    shown = await run(kq, T.K8S_GET, kind="secret", name="db", show_secret_values=True)
    assert shown.status is S.COMPLETED, shown.error
    assert shown.result["items"][0]["data"] == {"password": encoded}
