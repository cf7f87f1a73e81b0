"""What K8S_LOGS and K8S_EXEC share: a pod looked up, its containers, and whether the one asked
for runs — so that a missing pod, a wrong container or a container that has not started fails
with its code before any log stream or exec session is opened."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping
from typing import Any

from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.families.kubernetes.client import Cluster, k8s_error

logger = logging.getLogger(__name__)

__all__ = [
    "check_containers",
    "container_state",
    "get_pod",
    "pod_call_error",
    "pod_containers",
    "pod_failure",
    "waiting_error",
]

_C = TaskErrorCode


async def get_pod(cluster: Cluster, name: str) -> dict[str, Any]:
    """The pod `name` in the task's namespace as plain data; QueueError K8S_RESOURCE_NOT_FOUND
    (or the code of whatever else failed: cluster, credentials, namespace)."""
    from lightkube.resources.core_v1 import Pod

    try:
        pod = await cluster.client.get(Pod, name, namespace=cluster.namespace)
    except Exception as exc:
        raise k8s_error(
            exc, kind="Pod", name=name, namespace=cluster.namespace, server=cluster.where()
        ) from None
    data: dict[str, Any] = pod.to_dict()
    return data


def pod_containers(pod: Mapping[str, Any]) -> list[str]:
    """The names of the pod's (regular) containers, in spec order."""
    return [str(c.get("name")) for c in pod.get("spec", {}).get("containers", [])]


def container_state(pod: Mapping[str, Any], container: str) -> Mapping[str, Any]:
    """The kubelet's last reported state of `container` ({"running": …}, {"waiting":
    {"reason": …}} or {"terminated": …}); {} when none was reported."""
    for status in pod.get("status", {}).get("containerStatuses", None) or []:
        if status.get("name") == container:
            state = status.get("state")
            return state if isinstance(state, Mapping) else {}
    return {}


def pod_failure(pod_name: str, container: str, message: str, **details: Any) -> QueueError:
    """K8S_POD_FAILED about `container` of `pod_name`."""
    return QueueError(
        _C.K8S_POD_FAILED,
        f"pod {pod_name!r}, container {container!r}: {message}",
        pod=pod_name,
        container=container,
        **details,
    )


def waiting_error(pod: Mapping[str, Any], container: str) -> QueueError | None:
    """K8S_POD_FAILED if the kubelet reports `container` waiting to start (ContainerCreating,
    ImagePullBackOff, CrashLoopBackOff…, the reason named), else None."""
    waiting = container_state(pod, container).get("waiting")
    if not isinstance(waiting, Mapping):
        return None
    reason = str(waiting.get("reason") or "ContainerCreating")
    text = f" ({waiting['message']})" if waiting.get("message") else ""
    return pod_failure(
        str(pod.get("metadata", {}).get("name")),
        container,
        f"the container is waiting to start: {reason}{text}; retry once it runs",
        waiting_reason=reason,
    )


def check_containers(pod: Mapping[str, Any], wanted: str | None) -> list[str]:
    """The containers to use: [`wanted`] if the pod has it, else all of the pod's.

    Raises VALIDATION_INVALID_PARAMS for a container the pod does not have."""
    names = pod_containers(pod)
    if wanted is None:
        return names
    if wanted not in names:
        name = str(pod.get("metadata", {}).get("name"))
        raise QueueError(
            _C.VALIDATION_INVALID_PARAMS,
            f"pod {name!r} has no container {wanted!r} (it has {', '.join(names) or 'none'})",
            pod=name,
            container=wanted,
            containers=names,
        )
    return [wanted]


def pod_call_error(exc: BaseException, cluster: Cluster, pod: str, container: str) -> QueueError:
    """The QueueError for a failed log or exec call on `container` of `pod`.

    The API server's 400 for a container that has not started ("container "c" in pod "p" is
    waiting to start: ContainerCreating") is K8S_POD_FAILED; a failed WebSocket upgrade is read
    as the HTTP error it carries, a WebSocket that broke off is K8S_CLUSTER_UNAVAILABLE; the
    rest is `k8s_error`'s (cluster, credentials, not found).
    """
    import httpx2
    from httpx2.websockets import HTTPXWSException, WebSocketUpgradeError

    if isinstance(exc, WebSocketUpgradeError):
        response = exc.response  # its body is gone with the refused upgrade: say what 403 means
        if response.status_code == 403:
            return QueueError(
                _C.K8S_AUTHENTICATION_FAILED,
                f"pod {pod!r}, container {container!r}: {cluster.where()} refused the exec "
                f"session (403 Forbidden): the user may not create pods/exec in namespace "
                f"{cluster.namespace!r}",
                pod=pod,
                container=container,
                status_code=403,
            )
        exc = httpx2.HTTPStatusError(
            f"WebSocket upgrade refused: {response.status_code}",
            request=response.request,
            response=response,
        )
    elif isinstance(exc, HTTPXWSException):  # the stream broke: closed, reset, timed out
        return QueueError(
            _C.K8S_CLUSTER_UNAVAILABLE,
            f"pod {pod!r}, container {container!r}: the stream from {cluster.where()} broke "
            f"off ({type(exc).__name__}: {exc})",
            pod=pod,
            container=container,
        )
    if isinstance(exc, httpx2.HTTPStatusError) and exc.response.status_code == 400:
        with contextlib.suppress(Exception):
            message = str(exc.response.json().get("message") or "")
            if "waiting to start" in message or "not available" in message:
                return pod_failure(pod, container, f"{message}; retry once it runs")
    return k8s_error(exc, kind="Pod", name=pod, namespace=cluster.namespace, server=cluster.where())
