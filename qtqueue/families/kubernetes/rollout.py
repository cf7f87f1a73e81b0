"""A rollout seen from a Deployment's (or StatefulSet's) status and its pods, as plain data:
when it is complete, when it has failed, and the log lines that record it.

Deploy and scale write one line per change, which `parse_rollout_lines` reads back (the detail
pane's rollout view, `qt.py`, does):

    rollout web: 2/3 ready, 3 updated, 2 available
    rollout web pod web-7d9c-x2k: CrashLoopBackOff
    rollout web: complete

Everything here works on the objects as JSON-ready dicts (lightkube's `obj.to_dict()`); nothing
imports lightkube or Qt.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

logger = logging.getLogger(__name__)

__all__ = [
    "POD_FAILURE_REASONS",
    "POD_GONE",
    "REVISION_ANNOTATION",
    "REVISION_HASH_LABEL",
    "TEMPLATE_HASH_LABEL",
    "RolloutView",
    "apply_rollout_line",
    "current_pods",
    "deployment_failure",
    "format_outcome_line",
    "format_pod_line",
    "format_rollout_line",
    "generation_seen",
    "parse_rollout_lines",
    "pod_failure",
    "pod_state",
    "rollout_view",
    "selector_matches",
]

#: Container waiting reasons that mean a pod will not become ready by itself.
POD_FAILURE_REASONS = frozenset(
    {
        "CrashLoopBackOff",
        "ImagePullBackOff",
        "ErrImagePull",
        "InvalidImageName",
        "CreateContainerConfigError",
        "CreateContainerError",
        "RunContainerError",
    }
)

#: The state a pod line gives a pod that was deleted: the view forgets it.
POD_GONE = "Deleted"

_COUNTS = re.compile(
    r"^rollout (?P<name>\S+): (?P<ready>\d+)/(?P<desired>\d+) ready, (?P<updated>\d+) updated, "
    r"(?P<available>\d+) available$"
)
_POD = re.compile(r"^rollout (?P<name>\S+) pod (?P<pod>\S+): (?P<state>.+)$")
_OUTCOME = re.compile(r"^rollout (?P<name>\S+): (?P<outcome>complete|failed|cancelled)(?:: .*)?$")


@dataclass
class RolloutView:
    """Where one workload's rollout stands.

    `desired` is spec.replicas; `updated`, `ready`, `available` the status's counts; `current`
    every replica the controller still runs (old ones included); `generation_seen` whether the
    controller has seen the latest spec (observedGeneration >= generation, or no generation).
    `pods` maps each of its pods to a state ("Running", "CrashLoopBackOff"...), `outcome` is
    "" while it runs, then "complete", "failed" or "cancelled".
    """

    name: str
    desired: int = 0
    updated: int = 0
    ready: int = 0
    available: int = 0
    current: int = 0
    generation_seen: bool = True
    pods: dict[str, str] = field(default_factory=dict)
    outcome: str = ""

    @property
    def complete(self) -> bool:
        """Every desired replica is updated, ready and available, and no old one is left
        (what `kubectl rollout status` waits for)."""
        return (
            self.generation_seen
            and self.updated >= self.desired
            and self.ready >= self.desired
            and self.available >= self.desired
            and self.current <= self.desired
        )

    @property
    def fraction(self) -> float:
        """ready / desired, 0–1 (1 for a workload scaled to 0 once its replicas are gone)."""
        if self.desired <= 0:
            return 1.0 if self.current == 0 else 0.0
        return min(self.ready, self.desired) / self.desired

    def counts(self) -> tuple[int, int, int, int]:
        """(desired, updated, ready, available): what a log line records."""
        return self.desired, self.updated, self.ready, self.available


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def rollout_view(obj: Mapping[str, Any]) -> RolloutView:
    """The rollout of a Deployment or StatefulSet, from the object as a dict."""
    meta = obj.get("metadata") or {}
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    replicas = spec.get("replicas")
    desired = 1 if replicas is None else _int(replicas)
    # A StatefulSet counts updated replicas in updatedReplicas too (currentReplicas is the
    # old revision's): both kinds read the same fields.
    return RolloutView(
        name=str(meta.get("name") or ""),
        desired=desired,
        updated=_int(status.get("updatedReplicas")),
        ready=_int(status.get("readyReplicas")),
        available=_int(status.get("availableReplicas")),
        current=_int(status.get("replicas")),
        generation_seen=generation_seen(obj),
    )


def generation_seen(obj: Mapping[str, Any]) -> bool:
    """Whether the controller has seen the object's latest spec (status.observedGeneration >=
    metadata.generation; True for an object without a generation). Until then its status
    (counts, conditions) is about the previous rollout, as `kubectl rollout status` knows."""
    generation = (obj.get("metadata") or {}).get("generation")
    observed = (obj.get("status") or {}).get("observedGeneration")
    return generation is None or (isinstance(observed, int) and observed >= generation)


def deployment_failure(obj: Mapping[str, Any]) -> str | None:
    """Why the controller gave up on the rollout (the Progressing condition with reason
    ProgressDeadlineExceeded, or ReplicaFailure), or None. The conditions of a status that
    predates the latest spec (`generation_seen` false) are the previous rollout's: None."""
    if not generation_seen(obj):
        return None
    for condition in (obj.get("status") or {}).get("conditions") or []:
        kind, reason = condition.get("type"), condition.get("reason")
        failed = (kind == "Progressing" and reason == "ProgressDeadlineExceeded") or (
            kind == "ReplicaFailure" and condition.get("status") == "True"
        )
        if failed:
            message = condition.get("message") or ""
            return f"{reason}: {message}" if message else str(reason)
    return None


#: The annotation the Deployment controller sets on a Deployment and on each of its
#: ReplicaSets: the rollout's revision number.
REVISION_ANNOTATION = "deployment.kubernetes.io/revision"
#: The label the Deployment controller gives a ReplicaSet and its pods: their template's hash.
TEMPLATE_HASH_LABEL = "pod-template-hash"
#: The label the StatefulSet controller gives each pod: its revision (status.updateRevision).
REVISION_HASH_LABEL = "controller-revision-hash"

PodFilter = Callable[[Mapping[str, Any]], bool]


def _labels(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return (obj.get("metadata") or {}).get("labels") or {}


def _owned_by(obj: Mapping[str, Any], kind: str, name: str) -> bool:
    owners = (obj.get("metadata") or {}).get("ownerReferences") or []
    return not owners or any(o.get("kind") == kind and o.get("name") == name for o in owners)


def _images(spec: Mapping[str, Any]) -> dict[str, str]:
    return {str(c.get("name")): str(c.get("image")) for c in spec.get("containers") or []}


def current_pods(
    kind: str, obj: Mapping[str, Any], replicasets: Sequence[Mapping[str, Any]] | None
) -> PodFilter | None:
    """Which pods (already matched by the workload's selector) belong to the rollout being
    awaited, or None while none can be judged yet.

    Until the controller has seen the latest spec, none: the pods there are the previous
    rollout's. A Deployment's current pods are those of the ReplicaSet whose revision
    annotation is the Deployment's (its `pod-template-hash` label); `replicasets` are the
    namespace's ReplicaSets, None when the cluster does not serve them to us: then, and for a
    Deployment with no revision yet, the pods whose containers run the template's images. A
    StatefulSet's current pods carry its status.updateRevision as `controller-revision-hash`.
    """
    if not generation_seen(obj):
        return None
    meta = obj.get("metadata") or {}
    template = ((obj.get("spec") or {}).get("template") or {}).get("spec") or {}
    images = _images(template)
    fallback: PodFilter = lambda pod: _images(pod.get("spec") or {}) == images  # noqa: E731
    if kind == "StatefulSet":
        revision = (obj.get("status") or {}).get("updateRevision")
        if not revision:
            return fallback
        return lambda pod: _labels(pod).get(REVISION_HASH_LABEL) == revision
    revision = (meta.get("annotations") or {}).get(REVISION_ANNOTATION)
    if replicasets is None or not revision:
        return fallback
    selector = (obj.get("spec") or {}).get("selector")
    for rs in replicasets:
        rs_meta = rs.get("metadata") or {}
        if (
            (rs_meta.get("annotations") or {}).get(REVISION_ANNOTATION) == revision
            and _owned_by(rs, kind, str(meta.get("name")))
            and selector_matches(selector, _labels(rs))
            and _labels(rs).get(TEMPLATE_HASH_LABEL)
        ):
            wanted = _labels(rs)[TEMPLATE_HASH_LABEL]
            return lambda pod: _labels(pod).get(TEMPLATE_HASH_LABEL) == wanted
    return None  # its ReplicaSet is not seen yet: its pods come after it


def _container_statuses(pod: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    status = pod.get("status") or {}
    return [
        *(status.get("initContainerStatuses") or []),
        *(status.get("containerStatuses") or []),
    ]


def pod_failure(pod: Mapping[str, Any]) -> tuple[str, str] | None:
    """(reason, message) when one of the pod's containers waits for a reason that does not go
    away by itself (POD_FAILURE_REASONS), or the pod failed; else None."""
    for container in _container_statuses(pod):
        waiting = (container.get("state") or {}).get("waiting") or {}
        reason = waiting.get("reason")
        if reason in POD_FAILURE_REASONS:
            name = container.get("name")
            message = waiting.get("message") or ""
            text = f"container {name}: {message}" if name and message else message
            return str(reason), text
    status = pod.get("status") or {}
    if status.get("phase") == "Failed":
        return str(status.get("reason") or "Failed"), str(status.get("message") or "")
    return None


def pod_state(pod: Mapping[str, Any]) -> str:
    """One word for a pod, as `kubectl get pods` shows it: a container's waiting or
    terminated reason, else Terminating, else its phase ("Running", "Pending")."""
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        return "Terminating"
    for container in _container_statuses(pod):
        state = container.get("state") or {}
        for key in ("waiting", "terminated"):
            reason = (state.get(key) or {}).get("reason")
            if reason:
                return str(reason)
    return str((pod.get("status") or {}).get("phase") or "Pending")


def selector_matches(selector: Mapping[str, Any] | None, labels: Mapping[str, Any] | None) -> bool:
    """Whether `labels` satisfy a workload's label selector (matchLabels and the In, NotIn,
    Exists, DoesNotExist expressions). An empty selector matches nothing, as the controllers
    treat it."""
    if not selector:
        return False
    labels = labels or {}
    match = selector.get("matchLabels") or {}
    expressions = selector.get("matchExpressions") or []
    if not match and not expressions:
        return False
    if any(labels.get(k) != v for k, v in match.items()):
        return False
    for expression in expressions:
        key, op = expression.get("key"), expression.get("operator")
        values = expression.get("values") or []
        ok = {
            "In": key in labels and labels[key] in values,
            "NotIn": key not in labels or labels[key] not in values,
            "Exists": key in labels,
            "DoesNotExist": key not in labels,
        }.get(str(op), False)
        if not ok:
            return False
    return True


# --- Log lines ------------------------------------------------------------------------------


def format_rollout_line(view: RolloutView) -> str:
    """`rollout <name>: <ready>/<desired> ready, <updated> updated, <available> available`."""
    return (
        f"rollout {view.name}: {view.ready}/{view.desired} ready, {view.updated} updated, "
        f"{view.available} available"
    )


def format_pod_line(name: str, pod: str, state: str) -> str:
    """`rollout <name> pod <pod>: <state>`."""
    return f"rollout {name} pod {pod}: {state}"


def format_outcome_line(name: str, outcome: str, why: str = "") -> str:
    """`rollout <name>: complete|failed|cancelled[: why]`."""
    return f"rollout {name}: {outcome}" + (f": {why}" if why else "")


def apply_rollout_line(views: dict[str, RolloutView], line: str) -> str | None:
    """Update `views` with one log line; the workload it was about, or None for another
    line."""
    line = line.strip()
    if not line.startswith("rollout "):
        return None
    if m := _COUNTS.match(line):
        view = views.setdefault(m["name"], RolloutView(m["name"]))
        view.desired, view.ready = int(m["desired"]), int(m["ready"])
        view.updated, view.available = int(m["updated"]), int(m["available"])
    elif m := _POD.match(line):
        pods = views.setdefault(m["name"], RolloutView(m["name"])).pods
        if m["state"] == POD_GONE:
            pods.pop(m["pod"], None)
        else:
            pods[m["pod"]] = m["state"]
    elif m := _OUTCOME.match(line):
        views.setdefault(m["name"], RolloutView(m["name"])).outcome = m["outcome"]
    else:
        return None
    return m["name"]


def parse_rollout_lines(text: str) -> dict[str, RolloutView]:
    """Each workload's last recorded rollout, from a task log (other lines are skipped), in
    the order the workloads first appear."""
    views: dict[str, RolloutView] = {}
    for line in text.splitlines():
        apply_rollout_line(views, line)
    return views
