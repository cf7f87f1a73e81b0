"""Waiting on the cluster: a rollout until its replicas are ready (deploy, scale), an object
until it is gone (delete). Both watch (the API server pushes every change) and never spin; both
end with a QueueError naming what went wrong, and both are cut by cancellation at once.

lightkube is imported inside the functions.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.executors.base import RunContext
from qtqueue.families.kubernetes.client import Cluster, k8s_error
from qtqueue.families.kubernetes.rollout import (
    POD_GONE,
    RolloutView,
    current_pods,
    deployment_failure,
    format_outcome_line,
    format_pod_line,
    format_rollout_line,
    pod_failure,
    pod_state,
    rollout_view,
    selector_matches,
)

logger = logging.getLogger(__name__)

__all__ = ["GONE_RECHECK_S", "Workload", "wait_for_rollouts", "wait_until_gone"]

_C = TaskErrorCode

#: While waiting for an object to go, its absence is also checked this often: a deletion that
#: happened between the last read and the start of the watch shows no event on every server.
GONE_RECHECK_S = 2.0


@dataclass(frozen=True)
class Workload:
    """A Deployment or StatefulSet whose rollout is awaited."""

    resource: Any
    kind: str
    name: str
    namespace: str


def _dict(obj: Any) -> dict[str, Any]:
    out = obj.to_dict() if hasattr(obj, "to_dict") else dict(obj)
    return out if isinstance(out, dict) else {}


class _Rollouts:
    """Rollout state from watch events: the views, their log lines and the task's progress."""

    def __init__(
        self,
        ctx: RunContext[Any],
        workloads: list[Workload],
        progress: Callable[[float], float],
    ) -> None:
        self.ctx = ctx
        self.workloads = {(w.namespace, w.name): w for w in workloads}
        self.objects: dict[tuple[str, str], dict[str, Any]] = {}
        self.pods: dict[tuple[str, str], dict[str, Any]] = {}
        self.views: dict[tuple[str, str], RolloutView] = {
            key: RolloutView(w.name) for key, w in self.workloads.items()
        }
        self.logged: dict[tuple[str, str], tuple[int, int, int, int]] = {}
        self.progress = progress
        self.replicasets: dict[tuple[str, str], dict[str, Any]] = {}
        #: Namespaces whose ReplicaSets cannot be watched (not served, or not allowed).
        self.no_replicasets: set[str] = set()

    def workload_event(self, kind: str, event: str, obj: dict[str, Any]) -> None:
        meta = obj.get("metadata") or {}
        key = (str(meta.get("namespace") or ""), str(meta.get("name") or ""))
        workload = self.workloads.get(key)
        if workload is None or workload.kind != kind:
            return
        if event == "DELETED":
            self.ctx.log(format_outcome_line(workload.name, "failed", "deleted during the rollout"))
            raise QueueError(
                _C.K8S_DEPLOYMENT_FAILED,
                f"{kind} {workload.name!r} in namespace {workload.namespace!r} was deleted while "
                "its rollout was awaited",
                kind=kind,
                name=workload.name,
                namespace=workload.namespace,
            )
        self.objects[key] = obj

    def pod_event(self, event: str, pod: dict[str, Any]) -> None:
        _store(self.pods, event, pod)

    def replicaset_event(self, event: str, rs: dict[str, Any]) -> None:
        _store(self.replicasets, event, rs)

    def replicasets_unavailable(self, namespace: str, exc: BaseException) -> None:
        """The ReplicaSets of `namespace` cannot be watched: pods are told apart by image."""
        logger.debug("ReplicaSets of %s not watched: %r", namespace, exc)
        self.no_replicasets.add(namespace)

    def evaluate(self) -> bool:
        """Log what changed, report progress, raise on a failure; True when all are done."""
        for key, workload in self.workloads.items():
            obj = self.objects.get(key)
            if obj is None:
                continue
            view = self.views[key]
            fresh = rollout_view(obj)
            fresh.pods = view.pods
            self.views[key] = view = fresh
            why = deployment_failure(obj)
            if why is not None:
                self.ctx.log(format_outcome_line(workload.name, "failed", why))
                raise QueueError(
                    _C.K8S_DEPLOYMENT_FAILED,
                    f"rollout of {workload.kind} {workload.name!r} failed: {why}",
                    kind=workload.kind,
                    name=workload.name,
                    namespace=workload.namespace,
                )
            self._pods(workload, view, obj)
            if self.logged.get(key) != view.counts():
                self.logged[key] = view.counts()
                self.ctx.log(format_rollout_line(view))
        known = [self.views[k] for k in self.workloads if k in self.objects]
        desired = sum(max(v.desired, 0) for v in known) or 0
        ready = sum(min(v.ready, v.desired) for v in known)
        fraction = (ready / desired if desired else 1.0) if known else 0.0
        step = ", ".join(f"rollout {v.ready}/{v.desired} ready" for v in known) or "rollout"
        self.ctx.progress(self.progress(fraction), step)
        return len(known) == len(self.workloads) and all(v.complete for v in known)

    def _pods(self, workload: Workload, view: RolloutView, obj: dict[str, Any]) -> None:
        """Log the states of the rollout's own pods; raise when one of them failed. Pods of
        an older revision (the broken image being replaced) are not judged."""
        replicasets = (
            None
            if workload.namespace in self.no_replicasets
            else [rs for (ns, _), rs in self.replicasets.items() if ns == workload.namespace]
        )
        current = current_pods(workload.kind, obj, replicasets)
        if current is None:
            return
        selector = (obj.get("spec") or {}).get("selector")
        states: dict[str, str] = {}
        for (namespace, name), pod in sorted(self.pods.items()):
            labels = (pod.get("metadata") or {}).get("labels")
            if namespace != workload.namespace or not selector_matches(selector, labels):
                continue
            if not current(pod):
                continue
            states[name] = pod_state(pod)
            failure = pod_failure(pod)
            if failure is not None:
                reason, message = failure
                self.ctx.log(format_pod_line(workload.name, name, reason))
                self.ctx.log(format_outcome_line(workload.name, "failed", f"pod {name}: {reason}"))
                raise QueueError(
                    _C.K8S_POD_FAILED,
                    f"pod {name} of {workload.kind} {workload.name!r} is in {reason}"
                    + (f": {message}" if message else ""),
                    kind="Pod",
                    name=name,
                    namespace=namespace,
                    reason=reason,
                    workload=workload.name,
                )
        for name, state in states.items():
            if view.pods.get(name) != state:
                self.ctx.log(format_pod_line(workload.name, name, state))
        for name in set(view.pods) - set(states):
            self.ctx.log(format_pod_line(workload.name, name, POD_GONE))
        view.pods = states


def _store(into: dict[tuple[str, str], dict[str, Any]], event: str, obj: dict[str, Any]) -> None:
    meta = obj.get("metadata") or {}
    key = (str(meta.get("namespace") or ""), str(meta.get("name") or ""))
    if event == "DELETED":
        into.pop(key, None)
    else:
        into[key] = obj


async def _pump(queue: asyncio.Queue[tuple[str, str, Any]], label: str, watch: Any) -> None:
    """Put each (label, event type, object) of a lightkube watch on `queue`; its failure too."""
    try:
        async for event, obj in watch:
            await queue.put((label, str(event), obj))
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        await queue.put(("error", label, exc))


@contextlib.asynccontextmanager
async def _watching(watches: dict[str, Any]) -> Any:
    """Run the watches into one queue; they are stopped at the end of the block."""
    queue: asyncio.Queue[tuple[str, str, Any]] = asyncio.Queue()
    tasks = [asyncio.create_task(_pump(queue, label, w)) for label, w in watches.items()]
    try:
        yield queue
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task


async def wait_for_rollouts(
    ctx: RunContext[Any],
    cluster: Cluster,
    workloads: list[Workload],
    timeout_s: float,
    progress: Callable[[float], float] = lambda f: 100.0 * f,
) -> dict[str, RolloutView]:
    """Wait until every workload's rollout is complete (`RolloutView.complete`), watching the
    workloads and their pods. Logs a `rollout ...` line per change and reports progress
    (`progress` maps the ready fraction, 0–1, to a percentage).

    Only the awaited rollout counts: a status the controller wrote before it saw the latest
    spec (observedGeneration < generation) and pods of older revisions (`current_pods`: the
    ReplicaSets are watched too, where the cluster serves them) are not judged.

    Raises QueueError: K8S_POD_FAILED when one of the rollout's pods is in CrashLoopBackOff,
    ImagePullBackOff, ErrImagePull... (naming the pod and the reason); K8S_DEPLOYMENT_FAILED
    when the controller reports ProgressDeadlineExceeded, a workload is deleted, or the
    rollout is not complete after `timeout_s`; the cluster's own codes when a watch fails.
    """
    from lightkube.resources.apps_v1 import ReplicaSet
    from lightkube.resources.core_v1 import Pod

    if not workloads:
        return {}
    state = _Rollouts(ctx, workloads, progress)
    watches: dict[str, Any] = {}
    for w in workloads:
        watches.setdefault(
            w.kind + " " + w.namespace, cluster.client.watch(w.resource, namespace=w.namespace)
        )
        watches.setdefault("Pod " + w.namespace, cluster.client.watch(Pod, namespace=w.namespace))
        if w.kind == "Deployment":
            watches.setdefault(
                "ReplicaSet " + w.namespace,
                cluster.client.watch(ReplicaSet, namespace=w.namespace),
            )
    try:
        async with asyncio.timeout(timeout_s), _watching(watches) as queue:
            while True:
                label, event, obj = await queue.get()
                kind, _, namespace = (event if label == "error" else label).partition(" ")
                if label == "error" and kind == "ReplicaSet":
                    state.replicasets_unavailable(namespace, obj)
                elif label == "error":
                    raise k8s_error(obj, kind=kind, namespace=namespace, server=cluster.server)
                elif kind == "Pod":
                    state.pod_event(event, _dict(obj))
                elif kind == "ReplicaSet":
                    state.replicaset_event(event, _dict(obj))
                else:
                    state.workload_event(kind, event, _dict(obj))
                if queue.empty() and state.evaluate():
                    break
                await ctx.checkpoint()
    except TimeoutError:
        lagging = [v for v in state.views.values() if not v.complete]
        for view in lagging:
            ctx.log(format_outcome_line(view.name, "failed", f"not complete after {timeout_s:g} s"))
        text = "; ".join(format_rollout_line(v).removeprefix("rollout ") for v in lagging)
        raise QueueError(
            _C.K8S_DEPLOYMENT_FAILED,
            f"rollout not complete after {timeout_s:g} s: {text}",
            timeout_s=timeout_s,
        ) from None
    except asyncio.CancelledError:
        for view in state.views.values():
            ctx.log(format_outcome_line(view.name, "cancelled"))
        raise
    for view in state.views.values():
        ctx.log(format_outcome_line(view.name, "complete"))
    return {key[1]: view for key, view in state.views.items()}


async def wait_until_gone(
    ctx: RunContext[Any],
    cluster: Cluster,
    resource: Any,
    kind: str,
    name: str,
    namespace: str | None,
    timeout_s: float,
) -> None:
    """Wait until `kind` `name` no longer exists (a GET answers 404), watching for its
    DELETED event and re-checking every GONE_RECHECK_S. Still there after `timeout_s`:
    QueueError SYSTEM_TIMEOUT naming the finalizers that hold it."""
    import httpx2

    async def gone() -> bool:
        try:
            if namespace is None:
                await cluster.client.get(resource, name)
            else:
                await cluster.client.get(resource, name, namespace=namespace)
        except httpx2.HTTPStatusError as exc:
            if exc.response.status_code == 404:
                return True
            raise k8s_error(exc, kind=kind, name=name, namespace=namespace) from None
        except Exception as exc:
            raise k8s_error(
                exc, kind=kind, name=name, namespace=namespace, server=cluster.server
            ) from None
        return False

    if await gone():
        return
    kwargs: dict[str, Any] = {} if namespace is None else {"namespace": namespace}
    watch = cluster.client.watch(resource, **kwargs)
    seen = {"finalizers": "none seen"}
    try:
        await _await_deleted(ctx, cluster, watch, gone, (kind, name, namespace), timeout_s, seen)
    except TimeoutError:
        raise QueueError(
            _C.SYSTEM_TIMEOUT,
            f"{kind} {name!r} still exists {timeout_s:g} s after its deletion (finalizers: "
            f"{seen['finalizers']}); see 'kubectl get {kind.lower()} {name} -o yaml'",
            kind=kind,
            name=name,
            namespace=namespace,
        ) from None


async def _await_deleted(
    ctx: RunContext[Any],
    cluster: Cluster,
    watch: Any,
    gone: Callable[[], Any],
    what: tuple[str, str, str | None],
    timeout_s: float,
    seen: dict[str, str],
) -> None:
    kind, name, namespace = what
    async with asyncio.timeout(timeout_s), _watching({kind: watch}) as queue:
        while True:
            try:
                label, event, obj = await asyncio.wait_for(queue.get(), GONE_RECHECK_S)
            except TimeoutError:
                if await gone():
                    return
                continue
            if label == "error":
                raise k8s_error(
                    obj, kind=kind, name=name, namespace=namespace, server=cluster.server
                )
            meta = _dict(obj).get("metadata") or {}
            if meta.get("name") != name:
                continue
            if event == "DELETED":
                return
            if meta.get("deletionTimestamp"):
                finalizers = ", ".join(meta.get("finalizers") or []) or "none"
                seen["finalizers"] = finalizers
                ctx.progress(50.0, f"waiting for {kind} {name} to go (finalizers: {finalizers})")
