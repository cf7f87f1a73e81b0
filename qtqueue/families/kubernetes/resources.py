"""K8S_DEPLOY and K8S_SCALE: objects applied from a manifest (or a Deployment built from an
image) and workloads scaled, each followed until its rollout is complete."""

from __future__ import annotations

import asyncio
import importlib
import logging
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field, model_validator

from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.core.task import TaskStatus, TaskType
from qtqueue.executors.base import Executor, RunContext
from qtqueue.families.kubernetes.client import Cluster, cluster_session, k8s_error
from qtqueue.families.kubernetes.kinds import resolve_kind
from qtqueue.families.kubernetes.params import (
    K8S_NAME_PATTERN,
    ClusterParams,
    check_path_segment,
)
from qtqueue.families.kubernetes.waiting import Workload, wait_for_rollouts

logger = logging.getLogger(__name__)

__all__ = ["DeployParams", "K8sDeployExecutor", "K8sScaleExecutor", "ScaleParams"]

_C = TaskErrorCode
S = TaskStatus

#: Kinds whose rollout a deploy waits for.
ROLLOUT_KINDS = frozenset({"Deployment", "StatefulSet"})
#: Share of a deploy's progress bar that applying takes; the rollout fills the rest.
APPLY_SHARE = 10.0
#: Failures of a Service that say more than K8S_SERVICE_FAILED.
_CLUSTER_CODES = frozenset(
    {
        _C.K8S_CLUSTER_UNAVAILABLE,
        _C.K8S_AUTHENTICATION_FAILED,
        _C.K8S_NAMESPACE_NOT_FOUND,
        _C.K8S_RESOURCE_ALREADY_EXISTS,
        _C.NETWORK_SSL_ERROR,
    }
)


# --- Params ---------------------------------------------------------------------------------


class DeployParams(ClusterParams):
    manifest_path: str | None = Field(
        None,
        description="A YAML manifest file (one or more documents separated by '---')",
        json_schema_extra={"widget": "file"},
    )
    manifest: str | None = Field(
        None,
        description="Inline YAML manifest (one or more documents), instead of a file",
        json_schema_extra={"widget": "multiline"},
    )
    name: str | None = Field(
        None,
        pattern=K8S_NAME_PATTERN,
        max_length=63,
        description="Without a manifest: name of the Deployment to build (and of its Service)",
    )
    image: str | None = Field(
        None, description="Without a manifest: container image of the Deployment, e.g. nginx:1.27"
    )
    replicas: int = Field(1, ge=0, description="Without a manifest: number of replicas")
    ports: list[int] = Field(
        default_factory=list,
        description="Without a manifest: container ports (a Service exposes them when "
        "'service' is on)",
    )
    env: dict[str, str] = Field(
        default_factory=dict, description="Without a manifest: environment variables"
    )
    service: bool = Field(
        False, description="Without a manifest: also create a Service for the ports"
    )
    service_type: Literal["ClusterIP", "NodePort", "LoadBalancer"] = Field(
        "ClusterIP", description="Type of that Service"
    )
    mode: Literal["apply", "create"] = Field(
        "apply",
        description="apply: create each object or update the existing one (server-side "
        "apply); create: fail with K8S_RESOURCE_ALREADY_EXISTS when one exists",
    )
    wait: bool = Field(True, description="Wait for the Deployments' rollouts to complete")
    rollout_timeout_s: float | None = Field(
        None,
        gt=0,
        description="Seconds to wait for the rollout (default: the Kubernetes settings')",
    )

    @model_validator(mode="after")
    def _one_source(self) -> DeployParams:
        sources = [s for s in (self.manifest_path, self.manifest) if s and s.strip()]
        built = bool(self.image or self.name)
        if len(sources) > 1 or (sources and built):
            raise ValueError("give one of manifest_path, manifest, or image with name")
        if not sources and not (self.image and self.name):
            raise ValueError("give a manifest (manifest_path or manifest), or image and name")
        if any(not 0 < p < 65536 for p in self.ports):
            raise ValueError("ports must be between 1 and 65535")
        if self.service and not self.ports:
            raise ValueError("a service needs ports")
        return self


class ScaleParams(ClusterParams):
    name: str = Field(..., pattern=K8S_NAME_PATTERN, description="Name of the workload to scale")
    replicas: int = Field(..., ge=0, description="Number of replicas wanted")
    kind: Literal["Deployment", "StatefulSet"] = Field("Deployment", description="Its kind")
    wait: bool = Field(True, description="Wait until that many replicas are ready")
    rollout_timeout_s: float | None = Field(
        None,
        gt=0,
        description="Seconds to wait for the replicas (default: the Kubernetes settings')",
    )


# --- Documents ------------------------------------------------------------------------------


def _read_manifest(p: DeployParams) -> tuple[str, str]:
    """(YAML text, where it came from)."""
    if p.manifest_path:
        path = Path(p.manifest_path).expanduser()
        try:
            return path.read_text(encoding="utf-8"), str(path)
        except FileNotFoundError:
            raise QueueError(
                _C.DATA_FILE_NOT_FOUND, f"no manifest at {path}", path=str(path)
            ) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise QueueError(
                _C.DATA_FILE_CORRUPTED, f"cannot read manifest {path}: {exc}", path=str(path)
            ) from None
    return p.manifest or "", "inline manifest"


def _check_path_names(doc: Any, source: str, number: int) -> None:
    """A document's name and namespace go into request URLs: "../x" must not reach one."""
    meta = doc.get("metadata") if isinstance(doc, dict) else None
    for key in ("name", "namespace"):
        value = meta.get(key) if isinstance(meta, dict) else None
        try:
            if value is not None:
                check_path_segment(str(value), f"metadata.{key}")
        except ValueError as exc:
            raise QueueError(
                _C.VALIDATION_INVALID_FORMAT, f"{source}: document {number}: {exc}", document=number
            ) from None


def load_documents(text: str, source: str) -> list[dict[str, Any]]:
    """The objects of a YAML manifest (empty documents skipped, `kind: List` flattened), each
    checked for apiVersion, kind and metadata.name. VALIDATION_INVALID_FORMAT names the
    document that is not an object."""
    # PyYAML ships no type hints: used as Any.
    yaml = importlib.import_module("yaml")
    try:
        raw = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as exc:
        raise QueueError(
            _C.VALIDATION_INVALID_FORMAT, f"{source}: not valid YAML: {exc}", source=source
        ) from None
    docs: list[dict[str, Any]] = []
    for doc in raw:
        if isinstance(doc, dict) and doc.get("kind") == "List":
            docs.extend(doc.get("items") or [])
        else:
            docs.append(doc)
    if not docs:
        raise QueueError(_C.VALIDATION_INVALID_FORMAT, f"{source}: no objects in it")
    for number, doc in enumerate(docs, 1):
        name = (doc.get("metadata") or {}).get("name") if isinstance(doc, dict) else None
        _check_path_names(doc, source, number)
        if (
            not isinstance(doc, dict)
            or not doc.get("apiVersion")
            or not doc.get("kind")
            or not name
        ):
            raise QueueError(
                _C.VALIDATION_INVALID_FORMAT,
                f"{source}: document {number} is not a Kubernetes object (it needs apiVersion, "
                "kind and metadata.name)",
                document=number,
            )
    return docs


def build_documents(p: DeployParams, namespace: str) -> list[dict[str, Any]]:
    """A Deployment (and with `service`, a Service for its ports) from image, name,
    replicas, ports and env."""
    assert p.name and p.image
    labels = {"app": p.name}
    container: dict[str, Any] = {"name": p.name, "image": p.image}
    if p.ports:
        container["ports"] = [{"containerPort": port} for port in p.ports]
    if p.env:
        container["env"] = [{"name": k, "value": v} for k, v in p.env.items()]
    docs: list[dict[str, Any]] = [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": p.name, "namespace": namespace, "labels": labels},
            "spec": {
                "replicas": p.replicas,
                "selector": {"matchLabels": labels},
                "template": {"metadata": {"labels": labels}, "spec": {"containers": [container]}},
            },
        }
    ]
    if p.service:
        docs.append(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": p.name, "namespace": namespace, "labels": labels},
                "spec": {
                    "type": p.service_type,
                    "selector": labels,
                    "ports": [
                        {"name": f"port-{port}", "port": port, "targetPort": port}
                        for port in p.ports
                    ],
                },
            }
        )
    return docs


def _to_object(doc: dict[str, Any], namespace: str) -> tuple[Any, str, bool]:
    """(lightkube object, kind, namespaced) for a document; a namespaced one without a
    namespace gets the task's."""
    from lightkube import codecs
    from lightkube.core.exceptions import LoadResourceError

    kind = str(doc["kind"])
    try:
        resolved = resolve_kind(kind, str(doc["apiVersion"]))
    except QueueError:
        raise
    except (LoadResourceError, ValueError) as exc:
        raise QueueError(_C.VALIDATION_INVALID_FORMAT, f"{kind}: {exc}", kind=kind) from None
    if resolved.namespaced:
        doc.setdefault("metadata", {}).setdefault("namespace", namespace)
    try:
        obj = codecs.from_dict(doc)
    except LoadResourceError:  # not a built-in kind: the generic resource made above
        obj = resolved.resource.from_dict(doc)
    except (TypeError, ValueError) as exc:
        raise QueueError(
            _C.VALIDATION_INVALID_FORMAT,
            f"{kind} {doc['metadata'].get('name')}: {exc}",
            kind=kind,
        ) from None
    return obj, resolved.kind, resolved.namespaced


# --- Applying -------------------------------------------------------------------------------


async def _apply_one(cluster: Cluster, obj: Any, mode: str) -> str:
    """Apply one object: "created", "configured" (server-side apply of an existing one)."""
    import httpx2

    if mode == "create":
        await cluster.client.create(obj)
        return "created"
    try:
        await cluster.client.apply(obj, force=True)
    except httpx2.HTTPStatusError as exc:
        body_kind = ""
        try:
            body_kind = str((exc.response.json().get("details") or {}).get("kind") or "")
        except Exception:
            body_kind = ""
        # A server-side apply creates a missing object on an API server; a server without
        # that (the test emulator) answers 404 about the object itself: create it then.
        if exc.response.status_code != 404 or body_kind == "namespaces":
            raise
        await cluster.client.create(obj)
        return "created"
    return "configured"


def _failure(
    exc: BaseException, kind: str, name: str, namespace: str | None, server: str
) -> QueueError:
    error = k8s_error(
        exc,
        kind=kind,
        name=name,
        namespace=namespace,
        server=server,
        fallback=_C.K8S_SERVICE_FAILED if kind == "Service" else _C.K8S_DEPLOYMENT_FAILED,
    )
    if kind == "Service" and error.code not in _CLUSTER_CODES:
        return QueueError(_C.K8S_SERVICE_FAILED, error.message, **error.details)
    return error


# --- Executors ------------------------------------------------------------------------------


class K8sDeployExecutor(Executor[DeployParams]):
    """Applies a manifest's objects (or a Deployment built from an image) and follows the
    Deployments' and StatefulSets' rollouts until their replicas are ready."""

    task_type: ClassVar[TaskType] = TaskType.K8S_DEPLOY
    params_model = DeployParams
    summary = "Deploy to Kubernetes: apply a manifest or an image, and wait for the rollout"

    async def run(self, ctx: RunContext[DeployParams]) -> dict[str, Any] | None:
        p = ctx.params
        ctx.phase(S.VALIDATING)
        ctx.progress(0.0, "reading the manifest")
        text, source = ("", "built from image") if p.image else _read_manifest(p)
        docs = [] if p.image else load_documents(text, source)
        ctx.phase(S.PREPARING)
        async with cluster_session(ctx, p) as cluster:
            if p.image:
                docs = build_documents(p, cluster.namespace)
            objects = [(*_to_object(doc, cluster.namespace), doc) for doc in docs]
            ctx.log(f"deploying {len(objects)} object(s) from {source} to {cluster.where()}")
            applied: list[dict[str, Any]] = []
            workloads: list[Workload] = []
            try:
                for number, (obj, kind, namespaced, doc) in enumerate(objects, 1):
                    name = str(doc["metadata"]["name"])
                    namespace = doc["metadata"].get("namespace") if namespaced else None
                    where = f"{namespace}/{name}" if namespace else name
                    ctx.progress(
                        APPLY_SHARE * (number - 1) / len(objects), f"applying {kind} {where}"
                    )
                    try:
                        action = await _apply_one(cluster, obj, p.mode)
                    except asyncio.CancelledError:
                        raise
                    except Exception as exc:
                        raise _failure(exc, kind, name, namespace, cluster.server) from None
                    ctx.log(f"{kind} {where}: {action}")
                    applied.append(
                        {"kind": kind, "name": name, "namespace": namespace, "action": action}
                    )
                    if kind in ROLLOUT_KINDS and namespace:
                        workloads.append(Workload(type(obj), kind, name, namespace))
                ctx.progress(APPLY_SHARE, f"applied {len(applied)} object(s)")
                if not p.wait or not workloads:
                    return {"objects": applied, "namespace": cluster.namespace}
                ctx.phase(S.RUNNING)
                timeout_s = p.rollout_timeout_s or cluster.rollout_timeout_s
                views = await wait_for_rollouts(
                    ctx,
                    cluster,
                    workloads,
                    timeout_s,
                    lambda f: APPLY_SHARE + (100.0 - APPLY_SHARE) * f,
                )
            except asyncio.CancelledError:
                if applied:
                    names = ", ".join(f"{a['kind']} {a['name']}" for a in applied)
                    ctx.log(f"cancelled: what was applied stays in the cluster ({names})")
                raise
        ctx.progress(100.0, "rollout complete")
        return {
            "objects": applied,
            "namespace": cluster.namespace,
            "rollouts": {
                name: {
                    "desired": v.desired,
                    "updated": v.updated,
                    "ready": v.ready,
                    "available": v.available,
                }
                for name, v in views.items()
            },
        }


class K8sScaleExecutor(Executor[ScaleParams]):
    """Sets a Deployment's or StatefulSet's replicas and waits until that many are ready."""

    task_type: ClassVar[TaskType] = TaskType.K8S_SCALE
    params_model = ScaleParams
    summary = "Scale a Kubernetes Deployment or StatefulSet and wait for its replicas"

    async def run(self, ctx: RunContext[ScaleParams]) -> dict[str, Any] | None:
        p = ctx.params
        resolved = resolve_kind(p.kind)
        ctx.phase(S.PREPARING)
        async with cluster_session(ctx, p) as cluster:
            namespace = cluster.namespace
            ctx.progress(0.0, f"scaling {p.kind} {p.name} to {p.replicas}")
            try:
                before = await cluster.client.get(resolved.resource, p.name, namespace=namespace)
                await cluster.client.patch(
                    resolved.resource,
                    p.name,
                    {"spec": {"replicas": p.replicas}},
                    namespace=namespace,
                )
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                raise k8s_error(
                    exc,
                    kind=p.kind,
                    name=p.name,
                    namespace=namespace,
                    server=cluster.server,
                    fallback=_C.K8S_DEPLOYMENT_FAILED,
                ) from None
            previous = getattr(before.spec, "replicas", None)
            ctx.log(f"{p.kind} {namespace}/{p.name}: replicas {previous} -> {p.replicas}")
            result: dict[str, Any] = {
                "kind": p.kind,
                "name": p.name,
                "namespace": namespace,
                "previous_replicas": previous,
                "replicas": p.replicas,
            }
            if not p.wait:
                return result
            ctx.phase(S.RUNNING)
            timeout_s = p.rollout_timeout_s or cluster.rollout_timeout_s
            workload = Workload(resolved.resource, p.kind, p.name, namespace)
            views = await wait_for_rollouts(ctx, cluster, [workload], timeout_s)
        view = views[p.name]
        ctx.progress(100.0, f"{view.ready}/{view.desired} ready")
        return {**result, "ready": view.ready, "available": view.available}
