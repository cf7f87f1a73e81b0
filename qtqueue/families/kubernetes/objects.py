"""K8S_DELETE and K8S_GET: any kind of object removed (and awaited until it is gone) or read
(as JSON in the result and a kubectl-like table in the log)."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Literal

from pydantic import Field, ValidationInfo, field_validator

from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.core.task import TaskStatus, TaskType
from qtqueue.executors.base import Executor, RunContext
from qtqueue.families.kubernetes.client import Cluster, cluster_session, k8s_error
from qtqueue.families.kubernetes.kinds import (
    ResolvedKind,
    labels_match,
    parse_label_selector,
    resolve_kind,
)
from qtqueue.families.kubernetes.params import ClusterParams, check_object_name
from qtqueue.families.kubernetes.rollout import pod_state
from qtqueue.families.kubernetes.waiting import wait_until_gone

logger = logging.getLogger(__name__)

__all__ = [
    "SECRET_MASK",
    "DeleteParams",
    "GetParams",
    "K8sDeleteExecutor",
    "K8sGetExecutor",
    "format_table",
    "mask_secret",
]

_C = TaskErrorCode
S = TaskStatus

_KIND_HELP = (
    "Kind: Deployment, Service, Pod, ConfigMap, Namespace... (also plural or short names such "
    "as pods, deploy, svc); for a custom resource give api_version too"
)


class _KindParams(ClusterParams):
    kind: str = Field(..., min_length=1, description=_KIND_HELP)
    api_version: str | None = Field(
        None,
        description="API group/version of a kind that is not built in, e.g. example.com/v1",
    )
    plural: str | None = Field(
        None, description="With api_version: the resource's plural name (default: guessed)"
    )


class DeleteParams(_KindParams):
    name: str = Field(..., min_length=1, description="Name of the object to delete")
    missing_ok: bool = Field(
        False, description="Succeed when the object does not exist (else K8S_RESOURCE_NOT_FOUND)"
    )
    propagation: Literal["Background", "Foreground", "Orphan"] = Field(
        "Background",
        description="What happens to its dependents (pods of a Deployment...): Foreground "
        "deletes them before the object goes",
    )
    wait: bool = Field(True, description="Wait until the object is gone")
    wait_timeout_s: float = Field(
        300.0, gt=0, description="Seconds to wait for it to go (finalizers may hold it)"
    )

    @field_validator("name")
    @classmethod
    def _name_is_a_name(cls, value: str, info: ValidationInfo) -> str:
        return check_object_name(value.strip(), info.data.get("kind"))


class GetParams(_KindParams):
    name: str | None = Field(None, description="Name of one object (default: all)")
    all_namespaces: bool = Field(False, description="List across every namespace")
    label_selector: str | None = Field(
        None, description="Only objects whose labels match, e.g. app=web,tier!=db"
    )
    show_secret_values: bool = Field(
        False,
        description="Keep the values of Secrets in the result (they are stored in the queue's "
        "database); by default each value of data and stringData is replaced by a mask and "
        "only the keys are shown",
    )

    @field_validator("name")
    @classmethod
    def _name_is_a_name(cls, value: str | None, info: ValidationInfo) -> str | None:
        name = (value or "").strip()
        return check_object_name(name, info.data.get("kind")) if name else None


def _where(namespace: str | None, name: str) -> str:
    return f"{namespace}/{name}" if namespace else name


# --- Delete ---------------------------------------------------------------------------------


class K8sDeleteExecutor(Executor[DeleteParams]):
    """Deletes one object of any kind and waits until the API server no longer has it."""

    task_type: ClassVar[TaskType] = TaskType.K8S_DELETE
    params_model = DeleteParams
    summary = "Delete a Kubernetes object (any kind) and wait until it is gone"

    async def run(self, ctx: RunContext[DeleteParams]) -> dict[str, Any] | None:
        from lightkube.types import CascadeType

        p = ctx.params
        kind = resolve_kind(p.kind, p.api_version, p.plural)
        ctx.phase(S.PREPARING)
        async with cluster_session(ctx, p) as cluster:
            namespace = cluster.namespace if kind.namespaced else None
            where = _where(namespace, p.name)
            ctx.progress(0.0, f"deleting {kind.kind} {where}")
            cascade = getattr(CascadeType, p.propagation.upper())
            try:
                if namespace is None:
                    await cluster.client.delete(kind.resource, p.name, cascade=cascade)
                else:
                    await cluster.client.delete(
                        kind.resource, p.name, namespace=namespace, cascade=cascade
                    )
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                error = await _object_error(cluster, exc, kind.kind, p.name, namespace)
                if error.code is _C.K8S_RESOURCE_NOT_FOUND and p.missing_ok:
                    ctx.log(f"{kind.kind} {where}: not found (missing_ok)")
                    return {
                        "kind": kind.kind,
                        "name": p.name,
                        "namespace": namespace,
                        "deleted": False,
                    }
                raise error from None
            ctx.log(f"{kind.kind} {where}: deletion requested ({p.propagation})")
            if p.wait:
                ctx.phase(S.RUNNING)
                ctx.progress(50.0, f"waiting for {kind.kind} {where} to go")
                await wait_until_gone(
                    ctx, cluster, kind.resource, kind.kind, p.name, namespace, p.wait_timeout_s
                )
                ctx.log(f"{kind.kind} {where}: gone")
        ctx.progress(100.0, "deleted")
        return {"kind": kind.kind, "name": p.name, "namespace": namespace, "deleted": True}


async def _object_error(
    cluster: Cluster, exc: BaseException, kind: str, name: str | None, namespace: str | None
) -> QueueError:
    """`k8s_error` for a call about one object, K8S_NAMESPACE_NOT_FOUND when it was not found
    because its namespace is missing."""
    error = k8s_error(exc, kind=kind, name=name, namespace=namespace, server=cluster.server)
    if error.code is _C.K8S_RESOURCE_NOT_FOUND and namespace is not None:
        error = await _namespace_check(cluster, namespace, error)
    return error


async def _namespace_check(cluster: Cluster, namespace: str, error: QueueError) -> QueueError:
    """K8S_NAMESPACE_NOT_FOUND instead of `error` when the namespace itself is missing (the API
    server's 404 for an object says only that the object is missing); `error` when the
    namespace exists or cannot be read (no permission to read namespaces)."""
    import httpx2
    from lightkube.resources.core_v1 import Namespace

    try:
        await cluster.client.get(Namespace, namespace)
    except httpx2.HTTPStatusError as exc:
        body = {}
        try:
            body = exc.response.json()
        except Exception:
            body = {}
        # Only the documented answer for a missing namespace, not any 404 of a server that
        # does not serve namespaces.
        details = body.get("details") if isinstance(body, dict) else None
        if (
            exc.response.status_code == 404
            and isinstance(details, dict)
            and (details.get("kind") == "namespaces" and details.get("name") == namespace)
        ):
            return QueueError(
                _C.K8S_NAMESPACE_NOT_FOUND,
                f"{error.message}: namespace {namespace!r} not found",
                **error.details,
            )
    except Exception:
        logger.debug("could not read namespace %s", namespace, exc_info=True)
    return error


# --- Get ------------------------------------------------------------------------------------


def _age(created: Any, now: dt.datetime) -> str:
    if not created:
        return "<unknown>"
    try:
        when = dt.datetime.fromisoformat(str(created).replace("Z", "+00:00"))
    except ValueError:
        return "<unknown>"
    seconds = max(0, int((now - when).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _ready_status(kind: str, obj: Mapping[str, Any]) -> str:
    """What kubectl shows in READY/STATUS for an object of `kind`."""
    status = obj.get("status") or {}
    spec = obj.get("spec") or {}
    if kind in ("Deployment", "StatefulSet", "ReplicaSet"):
        desired = spec.get("replicas", 1)
        return f"{status.get('readyReplicas') or 0}/{desired}"
    if kind == "Pod":
        containers = status.get("containerStatuses") or []
        ready = sum(1 for c in containers if c.get("ready"))
        total = len(containers) or len(spec.get("containers") or [])
        return f"{ready}/{total} {pod_state(obj)}"
    if kind == "Service":
        return str(spec.get("type") or "ClusterIP")
    return str(status.get("phase") or "-")


def format_table(kind: str, items: Sequence[Mapping[str, Any]], with_namespace: bool) -> list[str]:
    """A kubectl-like table: NAMESPACE (across namespaces), NAME, READY/STATUS, AGE."""
    now = dt.datetime.now(dt.UTC)
    header = (["NAMESPACE"] if with_namespace else []) + ["NAME", "READY/STATUS", "AGE"]
    rows = [header]
    for obj in items:
        meta = obj.get("metadata") or {}
        row = [str(meta.get("name") or "")]
        if with_namespace:
            row.insert(0, str(meta.get("namespace") or ""))
        rows.append([*row, _ready_status(kind, obj), _age(meta.get("creationTimestamp"), now)])
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    return ["   ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]


class K8sGetExecutor(Executor[GetParams]):
    """Reads objects of one kind: one by name, or a list (one namespace or all, a label
    selector); the result holds them as JSON, the log a table."""

    task_type: ClassVar[TaskType] = TaskType.K8S_GET
    params_model = GetParams
    summary = "Get Kubernetes objects as JSON, with a readable table in the log"

    async def run(self, ctx: RunContext[GetParams]) -> dict[str, Any] | None:
        p = ctx.params
        kind = resolve_kind(p.kind, p.api_version, p.plural)
        selector = parse_label_selector(p.label_selector)
        ctx.phase(S.PREPARING)
        async with cluster_session(ctx, p) as cluster:
            namespace = None if not kind.namespaced or p.all_namespaces else cluster.namespace
            ctx.progress(0.0, f"reading {kind.kind}")
            try:
                items = await _read(cluster, kind, p.name, namespace, selector)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                raise await _object_error(cluster, exc, kind.kind, p.name, namespace) from None
        if kind.kind == "Secret" and not p.show_secret_values:
            items = [mask_secret(i) for i in items]
            ctx.log(f"Secret values masked ({SECRET_MASK}); show_secret_values reveals them")
        for line in format_table(kind.kind, items, kind.namespaced and namespace is None):
            ctx.log(line)
        ctx.progress(100.0, f"{len(items)} {kind.kind}")
        return {"kind": kind.kind, "namespace": namespace, "count": len(items), "items": items}


#: What a Secret's value reads as in a K8S_GET result unless show_secret_values is given.
SECRET_MASK = "***"


def mask_secret(obj: Mapping[str, Any]) -> dict[str, Any]:
    """The Secret `obj` with every value of `data` and `stringData` replaced by SECRET_MASK
    (the keys stay), and no last-applied-configuration annotation (it may hold the values)."""
    out = dict(obj)
    for field in ("data", "stringData"):
        values = obj.get(field)
        if isinstance(values, Mapping):
            out[field] = dict.fromkeys(values, SECRET_MASK)
    meta = obj.get("metadata")
    annotations = meta.get("annotations") if isinstance(meta, Mapping) else None
    if isinstance(meta, Mapping) and isinstance(annotations, Mapping):
        key = "kubectl.kubernetes.io/last-applied-configuration"
        if key in annotations:
            kept = {k: v for k, v in annotations.items() if k != key}
            out["metadata"] = {**meta, "annotations": {**kept, key: SECRET_MASK}}
    return out


async def _read(
    cluster: Cluster,
    kind: ResolvedKind,
    name: str | None,
    namespace: str | None,
    selector: list[Any],
) -> list[dict[str, Any]]:
    """The objects asked for, as dicts; the selector is also applied here, so a server that
    ignores it still gives the right answer."""
    from lightkube import ALL_NS

    client = cluster.client
    if name:
        if kind.namespaced:
            obj = await client.get(kind.resource, name, namespace=namespace or cluster.namespace)
        else:
            obj = await client.get(kind.resource, name)
        objs = [obj]
    else:
        # One term per key reaches the server; every term is applied below.
        labels: dict[str, Any] | None = {r.key: r.operator() for r in selector} or None
        if kind.namespaced:
            listing = client.list(kind.resource, namespace=namespace or ALL_NS, labels=labels)
        else:
            listing = client.list(kind.resource, labels=labels)
        objs = [obj async for obj in listing]
    items = [o.to_dict() if hasattr(o, "to_dict") else dict(o) for o in objs]
    return [i for i in items if labels_match(selector, (i.get("metadata") or {}).get("labels"))]
