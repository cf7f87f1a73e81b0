"""K8S_DEPLOY and K8S_SCALE through a real TaskQueue against a Kubernetes API on 127.0.0.1
(kmock's emulator). Nothing runs pods here: tests named `..._test_plays_controller` play the
controllers' part by patching the workloads' status and creating pods."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from helpers.waiting import eventually
from kube_env import NAMESPACE, KubeEnv, run, submit
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.apps_v1 import Deployment, ReplicaSet
from lightkube.resources.core_v1 import ConfigMap, Pod, Service

from qtqueue.core.errors import TaskErrorCode
from qtqueue.core.task import TaskStatus, TaskType
from qtqueue.engine.events import EventKind, TaskEvent
from qtqueue.engine.queue import TaskQueue
from qtqueue.families.kubernetes.rollout import parse_rollout_lines

C = TaskErrorCode
S = TaskStatus
T = TaskType

MANIFEST = f"""
apiVersion: v1
kind: ConfigMap
metadata: {{name: web-config}}
data: {{greeting: hello}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: web, namespace: {NAMESPACE}}}
spec:
  replicas: 3
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec: {{containers: [{{name: web, image: nginx:1.27}}]}}
---
apiVersion: v1
kind: Service
metadata: {{name: web}}
spec: {{selector: {{app: web}}, ports: [{{port: 80}}]}}
"""


class Progress:
    """Every (progress, step) a task reported while it ran."""

    def __init__(self) -> None:
        self.seen: dict[str, list[tuple[float, str]]] = {}

    def __call__(self, events: list[TaskEvent]) -> None:
        for e in events:
            if e.kind is EventKind.CHANGED and e.task is not None:
                self.seen.setdefault(e.task_id, []).append(
                    (e.task.progress, e.task.current_step or "")
                )

    def steps(self, task_id: str) -> list[str]:
        return [step for _, step in self.seen.get(task_id, [])]


async def stored(kube: KubeEnv, resource: Any, name: str) -> Any:
    """The object as the API server has it now, or None."""
    for obj in [o async for o in kube.api.list(resource, namespace=NAMESPACE)]:
        if obj.metadata.name == name:
            return obj
    return None


async def set_status(kube: KubeEnv, name: str, **status: Any) -> None:
    """Play the Deployment controller: write `status` onto the Deployment."""
    await kube.api.patch(Deployment.Status, name, {"status": status}, namespace=NAMESPACE)


def ready(n: int, desired: int) -> dict[str, int]:
    """A Deployment status with `n` of `desired` replicas updated, ready and available."""
    return {
        "replicas": desired,
        "updatedReplicas": desired,
        "readyReplicas": n,
        "availableReplicas": n,
    }


async def test_every_document_applied_and_the_rollout_followed_test_plays_controller(
    kq: TaskQueue, kube: KubeEnv
) -> None:
    progress = Progress()
    kq.subscribe(progress)
    task_id = await submit(kq, T.K8S_DEPLOY, manifest=MANIFEST)
    await eventually(lambda: stored(kube, Deployment, "web"), what="the Deployment is created")
    await eventually(
        lambda: any("rollout" in s for s in progress.steps(task_id)), what="the rollout is awaited"
    )
    for n in range(4):
        await set_status(kube, "web", **ready(n, 3))
        if n < 3:
            await eventually(
                lambda n=n: f"rollout {n}/3 ready" in progress.steps(task_id),
                what=f"{n}/3 ready shown",
            )
    done = await kq.wait_for(task_id, timeout_s=30)
    assert done.status is S.COMPLETED, done.error

    # Every document reached the API server, in the context's namespace when it named none.
    assert (await stored(kube, ConfigMap, "web-config")).data == {"greeting": "hello"}
    assert (await stored(kube, Service, "web")).metadata.namespace == NAMESPACE
    assert [(o["kind"], o["name"], o["action"]) for o in done.result["objects"]] == [
        ("ConfigMap", "web-config", "created"),
        ("Deployment", "web", "created"),
        ("Service", "web", "created"),
    ]
    assert done.result["rollouts"]["web"] == {
        "desired": 3,
        "updated": 3,
        "ready": 3,
        "available": 3,
    }

    # The progress bar moved forward only, through the rollout, to 100.
    values = [pct for pct, _ in progress.seen[task_id]]
    assert values == sorted(values) and values[-1] == 100.0
    assert len(set(values)) >= 4

    # The log records the rollout in lines the detail pane's view reads back.
    views = parse_rollout_lines(await kq.read_log(task_id))
    assert views["web"].ready == views["web"].desired == 3
    assert views["web"].outcome == "complete"

    # Applied again: every object is updated in place.
    again = await run(kq, T.K8S_DEPLOY, manifest=MANIFEST, wait=False)
    assert again.status is S.COMPLETED, again.error
    assert {o["action"] for o in again.result["objects"]} == {"configured"}


async def test_image_deploy_with_service_and_crash_loop_test_plays_controller(
    kq: TaskQueue, kube: KubeEnv
) -> None:
    task_id = await submit(
        kq,
        T.K8S_DEPLOY,
        name="api",
        image="example/api:2",
        replicas=2,
        ports=[8080],
        env={"MODE": "prod"},
        service=True,
    )
    deployment = await eventually(lambda: stored(kube, Deployment, "api"), what="Deployment made")
    container = deployment.spec.template.spec.containers[0]
    assert container.image == "example/api:2"
    assert [p.containerPort for p in container.ports] == [8080]
    assert [(e.name, e.value) for e in container.env] == [("MODE", "prod")]
    service = await eventually(lambda: stored(kube, Service, "api"), what="Service made")
    assert [p.port for p in service.spec.ports] == [8080]
    assert service.spec.selector == {"app": "api"}

    # The ReplicaSet controller's pod: its container crash-loops.
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "api-5f7d-qx2", "namespace": NAMESPACE, "labels": {"app": "api"}},
        "spec": {"containers": [{"name": "api", "image": "example/api:2"}]},
    }
    await kube.api.create(Pod.from_dict(pod))
    await kube.api.patch(
        Pod.Status,
        "api-5f7d-qx2",
        {
            "status": {
                "phase": "Running",
                "containerStatuses": [
                    {
                        "name": "api",
                        "ready": False,
                        "restartCount": 4,
                        "image": "example/api:2",
                        "imageID": "",
                        "state": {
                            "waiting": {
                                "reason": "CrashLoopBackOff",
                                "message": "back-off 40s restarting failed container",
                            }
                        },
                    }
                ],
            }
        },
        namespace=NAMESPACE,
    )
    failed = await kq.wait_for(task_id, timeout_s=30)
    assert failed.status is S.FAILED
    assert failed.error_code == C.K8S_POD_FAILED.value
    assert "api-5f7d-qx2" in failed.error and "CrashLoopBackOff" in failed.error
    view = parse_rollout_lines(await kq.read_log(task_id))["api"]
    assert view.pods == {"api-5f7d-qx2": "CrashLoopBackOff"}
    assert view.outcome == "failed"


async def test_rollout_timeout_and_progress_deadline_test_plays_controller(
    kq: TaskQueue, kube: KubeEnv
) -> None:
    slow = await run(kq, T.K8S_DEPLOY, name="slow", image="x:1", rollout_timeout_s=0.5)
    assert slow.error_code == C.K8S_DEPLOYMENT_FAILED.value
    assert "0.5 s" in slow.error and "slow: 0/1 ready" in slow.error

    task_id = await submit(kq, T.K8S_DEPLOY, name="stuck", image="x:1")
    await eventually(lambda: stored(kube, Deployment, "stuck"), what="Deployment made")
    condition = {
        "type": "Progressing",
        "status": "False",
        "reason": "ProgressDeadlineExceeded",
        "message": 'ReplicaSet "stuck-6b9" has timed out progressing.',
    }
    await set_status(kube, "stuck", replicas=1, updatedReplicas=1, conditions=[condition])
    stuck = await kq.wait_for(task_id, timeout_s=30)
    assert stuck.error_code == C.K8S_DEPLOYMENT_FAILED.value
    assert "ProgressDeadlineExceeded" in stuck.error and "timed out progressing" in stuck.error


async def test_create_mode_refuses_an_existing_object_and_names_it(
    kq: TaskQueue, kube: KubeEnv
) -> None:
    await kube.api.create(ConfigMap(metadata=ObjectMeta(name="taken", namespace=NAMESPACE)))
    manifest = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: taken}\n"
    done = await run(kq, T.K8S_DEPLOY, manifest=manifest, mode="create")
    assert done.error_code == C.K8S_RESOURCE_ALREADY_EXISTS.value
    assert "ConfigMap 'taken'" in done.error and NAMESPACE in done.error


async def test_cancelling_a_deploy_during_its_rollout_leaves_what_was_applied_test_plays_controller(
    kq: TaskQueue, kube: KubeEnv
) -> None:
    progress = Progress()
    kq.subscribe(progress)
    task_id = await submit(kq, T.K8S_DEPLOY, name="half", image="x:1", replicas=2)
    await eventually(
        lambda: any("rollout" in s for s in progress.steps(task_id)), what="the rollout is awaited"
    )
    await set_status(kube, "half", **ready(1, 2))
    await eventually(lambda: "rollout 1/2 ready" in progress.steps(task_id), what="1/2 shown")
    began = asyncio.get_running_loop().time()
    cancelled = await kq.cancel_task(task_id)
    assert cancelled.status is S.CANCELLED
    assert asyncio.get_running_loop().time() - began < 5
    assert await stored(kube, Deployment, "half") is not None
    log = await kq.read_log(task_id)
    assert "what was applied stays in the cluster (Deployment half)" in log
    assert parse_rollout_lines(log)["half"].outcome == "cancelled"


async def test_scale_sets_the_replicas_and_waits_until_they_are_ready_test_plays_controller(
    kq: TaskQueue, kube: KubeEnv
) -> None:
    made = await run(kq, T.K8S_DEPLOY, name="work", image="x:1", replicas=1, wait=False)
    assert made.status is S.COMPLETED, made.error
    await set_status(kube, "work", **ready(1, 1))

    progress = Progress()
    kq.subscribe(progress)
    task_id = await submit(kq, T.K8S_SCALE, name="work", replicas=3)
    await eventually(
        lambda: "rollout 1/3 ready" in progress.steps(task_id), what="the scale is awaited"
    )
    assert (await stored(kube, Deployment, "work")).spec.replicas == 3
    assert (await kq.get_task(task_id)).status is S.RUNNING
    await set_status(kube, "work", **ready(3, 3))
    done = await kq.wait_for(task_id, timeout_s=30)
    assert done.status is S.COMPLETED, done.error
    assert done.result["previous_replicas"] == 1
    assert done.result["ready"] == 3

    missing = await run(kq, T.K8S_SCALE, name="nothing", replicas=2)
    assert missing.error_code == C.K8S_RESOURCE_NOT_FOUND.value
    assert "Deployment 'nothing'" in missing.error


async def test_a_deploy_paused_during_its_rollout_finishes_after_resume_test_plays_controller(
    kq: TaskQueue, kube: KubeEnv
) -> None:
    progress = Progress()
    kq.subscribe(progress)
    task_id = await submit(kq, T.K8S_DEPLOY, name="later", image="x:1", replicas=1)
    await eventually(
        lambda: any("rollout" in s for s in progress.steps(task_id)), what="the rollout is awaited"
    )
    paused = await kq.pause_task(task_id)
    assert paused.status is S.PAUSED
    await set_status(kube, "later", **ready(1, 1))  # the rollout goes on in the cluster
    resumed = await kq.resume_task(task_id)
    assert resumed.status is not S.PAUSED
    done = await kq.wait_for(task_id, timeout_s=30)
    assert done.status is S.COMPLETED, done.error
    assert done.result["rollouts"]["later"]["ready"] == 1


async def test_a_refused_service_is_service_failed_with_the_api_server_s_reason(
    kq: TaskQueue, kube: KubeEnv
) -> None:
    """The emulator checks no Service: it is told to answer the creation of one as the API
    server does for an invalid one (422, reason Invalid)."""
    invalid = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'Service "api" is invalid: spec.ports[0].nodePort: Invalid value: 80: '
        "provided port is not in the valid range",
        "reason": "Invalid",
        "details": {"name": "api", "kind": "Service"},
        "code": 422,
    }
    kube.km[f"post /api/v1/namespaces/{NAMESPACE}/services"] << 422 << invalid
    done = await run(
        kq, T.K8S_DEPLOY, name="api", image="x:1", ports=[80], service=True, service_type="NodePort"
    )
    assert done.error_code == C.K8S_SERVICE_FAILED.value
    assert "Service 'api'" in done.error and "not in the valid range" in done.error
    assert await stored(kube, Deployment, "api") is not None  # applied before the Service


# --- A fix redeployed over a failed rollout ---------------------------------------------------

REVISION = "deployment.kubernetes.io/revision"
DEADLINE = {
    "type": "Progressing",
    "status": "False",
    "reason": "ProgressDeadlineExceeded",
    "message": 'ReplicaSet "web-old" has timed out progressing.',
}


def web_deployment(image: str, generation: int) -> dict[str, Any]:
    """The Deployment `web` with `image`, at `generation`: an API server bumps
    metadata.generation on every change of the spec, the emulator does not, so the test
    brings the number the API server would give it (it plays that part)."""
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "generation": generation},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": image}]},
            },
        },
    }


def fixed_manifest(image: str, generation: int) -> str:
    """`web_deployment` as a manifest (JSON is YAML)."""
    return json.dumps(web_deployment(image, generation))


async def replicaset(kube: KubeEnv, name: str, revision: int, template_hash: str) -> None:
    """A ReplicaSet as the Deployment controller makes it for revision `revision`."""
    await kube.api.create(
        ReplicaSet.from_dict(
            {
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "metadata": {
                    "name": name,
                    "namespace": NAMESPACE,
                    "labels": {"app": "web", "pod-template-hash": template_hash},
                    "annotations": {REVISION: str(revision)},
                    "ownerReferences": [
                        {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "uid": "1"}
                    ],
                },
                "spec": {
                    "selector": {"matchLabels": {"app": "web", "pod-template-hash": template_hash}},
                    "template": {"metadata": {"labels": {"app": "web"}}},
                },
            }
        )
    )


async def web_pod(kube: KubeEnv, name: str, template_hash: str, image: str, **state: Any) -> None:
    """A pod of the ReplicaSet with `template_hash`, its container in `state` (the test plays
    the ReplicaSet controller and the kubelet)."""
    body = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": NAMESPACE,
            "labels": {"app": "web", "pod-template-hash": template_hash},
        },
        "spec": {"containers": [{"name": "web", "image": image}]},
    }
    await kube.api.create(Pod.from_dict(body))
    container = {"name": "web", "restartCount": 0, "image": image, "imageID": "", "state": state}
    ready_now = "running" in state
    status = {"phase": "Running" if ready_now else "Pending"}
    await kube.api.patch(
        Pod.Status,
        name,
        {"status": {**status, "containerStatuses": [{**container, "ready": ready_now}]}},
        namespace=NAMESPACE,
    )


async def failed_rollout(kube: KubeEnv) -> None:
    """`web` as the cluster leaves a rollout of a broken image: revision 1, its ReplicaSet's
    pod in ImagePullBackOff, the controller's ProgressDeadlineExceeded condition."""
    kube.km.resources["apps/v1/replicasets"] = {}  # served, as by every API server
    broken = web_deployment("web:broken", 1)
    broken["metadata"].update(namespace=NAMESPACE, annotations={REVISION: "1"})
    await kube.api.create(Deployment.from_dict(broken))
    await replicaset(kube, "web-old", 1, "old")
    pulling = {"waiting": {"reason": "ImagePullBackOff", "message": "Back-off pulling image"}}
    await web_pod(kube, "web-old-abc", "old", "web:broken", **pulling)
    await set_status(
        kube, "web", observedGeneration=1, replicas=1, updatedReplicas=1, conditions=[DEADLINE]
    )


async def test_a_fix_redeployed_over_a_failed_rollout_waits_for_its_own_pods_test_plays_controller(
    kq: TaskQueue, kube: KubeEnv
) -> None:
    """The previous rollout's condition and its ImagePullBackOff pod are not this rollout's
    failure: they used to fail the new deploy at once."""
    await failed_rollout(kube)
    progress = Progress()
    kq.subscribe(progress)
    task_id = await submit(kq, T.K8S_DEPLOY, manifest=fixed_manifest("web:fixed", 2))
    await eventually(
        lambda: any("rollout" in s for s in progress.steps(task_id)), what="the rollout is awaited"
    )
    assert (await stored(kube, Deployment, "web")).metadata.generation == 2

    # The Deployment controller: a ReplicaSet for revision 2, the Deployment's revision, then
    # its status for generation 2. The old pod is still pulling in vain.
    await replicaset(kube, "web-new", 2, "new")
    await web_pod(kube, "web-new-xyz", "new", "web:fixed", running={})
    await kube.api.patch(
        Deployment, "web", {"metadata": {"annotations": {REVISION: "2"}}}, namespace=NAMESPACE
    )
    progressing = {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"}
    await set_status(kube, "web", observedGeneration=2, conditions=[progressing], **ready(1, 1))

    done = await kq.wait_for(task_id, timeout_s=30)
    assert done.status is S.COMPLETED, done.error
    view = parse_rollout_lines(await kq.read_log(task_id))["web"]
    assert view.outcome == "complete"
    assert view.pods == {"web-new-xyz": "Running"}


async def test_a_redeployed_fix_whose_own_pod_fails_is_pod_failed_test_plays_controller(
    kq: TaskQueue, kube: KubeEnv
) -> None:
    await failed_rollout(kube)
    task_id = await submit(kq, T.K8S_DEPLOY, manifest=fixed_manifest("web:still-bad", 2))
    await eventually(lambda: stored(kube, Deployment, "web"), what="the Deployment is there")
    await replicaset(kube, "web-new", 2, "new")
    crash = {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 10s"}}
    await web_pod(kube, "web-new-xyz", "new", "web:still-bad", **crash)
    await kube.api.patch(
        Deployment, "web", {"metadata": {"annotations": {REVISION: "2"}}}, namespace=NAMESPACE
    )
    await set_status(kube, "web", observedGeneration=2, conditions=[], **ready(0, 1))
    failed = await kq.wait_for(task_id, timeout_s=30)
    assert failed.error_code == C.K8S_POD_FAILED.value
    assert "web-new-xyz" in failed.error and "web-old-abc" not in failed.error


async def test_scale_after_a_failed_rollout_waits_for_the_new_generation_test_plays_controller(
    kq: TaskQueue, kube: KubeEnv
) -> None:
    await failed_rollout(kube)
    # The scale's spec change: generation 2 (set here, as the emulator does not bump it).
    await kube.api.patch(Deployment, "web", {"metadata": {"generation": 2}}, namespace=NAMESPACE)
    progress = Progress()
    kq.subscribe(progress)
    task_id = await submit(kq, T.K8S_SCALE, name="web", replicas=1)
    await eventually(
        lambda: any("rollout" in s for s in progress.steps(task_id)), what="the scale is awaited"
    )
    assert (await kq.get_task(task_id)).status is S.RUNNING
    # The controller has seen generation 2 and the fixed image is up (the test plays it).
    await replicaset(kube, "web-new", 2, "new")
    await web_pod(kube, "web-new-xyz", "new", "web:fixed", running={})
    await kube.api.patch(
        Deployment, "web", {"metadata": {"annotations": {REVISION: "2"}}}, namespace=NAMESPACE
    )
    await set_status(kube, "web", observedGeneration=2, conditions=[], **ready(1, 1))
    done = await kq.wait_for(task_id, timeout_s=30)
    assert done.status is S.COMPLETED, done.error
