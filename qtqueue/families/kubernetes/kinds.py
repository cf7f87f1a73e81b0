"""Kinds named the way people name them ("deploy", "Service", "pods", "example.com/v1 Widget")
turned into lightkube resource classes, and label selectors read from their text form.

lightkube is imported inside the functions, never at module import.
"""

from __future__ import annotations

import importlib
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from qtqueue.core.errors import QueueError, TaskErrorCode

logger = logging.getLogger(__name__)

__all__ = ["Requirement", "ResolvedKind", "labels_match", "parse_label_selector", "resolve_kind"]

#: lightkube's modules of the stable API groups, searched in this order for a kind.
_MODULES = (
    "core_v1",
    "apps_v1",
    "batch_v1",
    "networking_v1",
    "autoscaling_v2",
    "policy_v1",
    "rbac_authorization_v1",
    "storage_v1",
    "apiextensions_v1",
    "scheduling_v1",
    "coordination_v1",
    "discovery_v1",
    "certificates_v1",
    "node_v1",
    "admissionregistration_v1",
)

#: kubectl's short names of the common kinds.
_SHORT = {
    "po": "Pod",
    "deploy": "Deployment",
    "svc": "Service",
    "cm": "ConfigMap",
    "ns": "Namespace",
    "sts": "StatefulSet",
    "ds": "DaemonSet",
    "rs": "ReplicaSet",
    "cj": "CronJob",
    "ing": "Ingress",
    "pvc": "PersistentVolumeClaim",
    "pv": "PersistentVolume",
    "sa": "ServiceAccount",
    "ep": "Endpoints",
    "no": "Node",
    "hpa": "HorizontalPodAutoscaler",
    "netpol": "NetworkPolicy",
    "pdb": "PodDisruptionBudget",
    "sc": "StorageClass",
    "crd": "CustomResourceDefinition",
}


@dataclass(frozen=True)
class ResolvedKind:
    """A lightkube resource class and what messages call it."""

    resource: Any
    kind: str
    namespaced: bool


def _plural(kind: str) -> str:
    lower = kind.lower()
    if lower.endswith("s") or lower.endswith("x") or lower.endswith("ch"):
        return lower + "es"
    if lower.endswith("y") and lower[-2:-1] not in "aeiou":
        return lower[:-1] + "ies"
    return lower + "s"


def _candidates(name: str) -> list[str]:
    """Class names a kind text may mean: "deploy" -> Deployment, "pods" -> Pod."""
    name = _SHORT.get(name.lower(), name)
    out = [name, name[:1].upper() + name[1:]]
    lower = name.lower()
    for suffix, cut in (("ies", "y"), ("ses", "s"), ("es", ""), ("s", "")):
        if lower.endswith(suffix) and len(lower) > len(suffix):
            out.append(name[: len(name) - len(suffix)] + cut)
    return out


def _is_namespaced(resource: Any) -> bool:
    from lightkube.core import resource as r

    return isinstance(resource, type) and issubclass(
        resource, r.NamespacedResource | r.NamespacedResourceG
    )


def resolve_kind(
    kind: str, api_version: str | None = None, plural: str | None = None
) -> ResolvedKind:
    """The resource class of `kind`: a kind, plural or kubectl short name of the built-in API
    ("Deployment", "deployments", "deploy"), or, with `api_version` ("example.com/v1"), any
    kind, a custom resource included (a namespaced generic resource whose plural is `plural`,
    else guessed from the kind). VALIDATION_INVALID_PARAMS names an unknown kind."""
    from lightkube.core.exceptions import LoadResourceError
    from lightkube.core.resource_registry import resource_registry
    from lightkube.generic_resource import create_namespaced_resource

    text = kind.strip()
    if api_version:
        name = _SHORT.get(text.lower(), text)
        try:
            resource = resource_registry.load(api_version, name)
        except (LoadResourceError, ImportError, ValueError):
            resource = None
        if resource is None:
            group, _, version = api_version.rpartition("/")
            resource = create_namespaced_resource(group, version, name, plural or _plural(name))
        return ResolvedKind(resource, name, _is_namespaced(resource))
    lowered = {c.lower() for c in _candidates(text)}
    for module_name in _MODULES:
        module = importlib.import_module(f"lightkube.resources.{module_name}")
        for attr in dir(module):
            if attr.lower() in lowered:
                resource = getattr(module, attr)
                if isinstance(resource, type) and hasattr(resource, "_api_info"):
                    return ResolvedKind(resource, attr, _is_namespaced(resource))
    raise QueueError(
        TaskErrorCode.VALIDATION_INVALID_PARAMS,
        f"unknown kind {kind!r}: name a built-in kind (Deployment, Service, Pod, ConfigMap, "
        "...) or give api_version (and plural) for a custom resource",
        kind=kind,
    )


# --- Label selectors ------------------------------------------------------------------------


@dataclass(frozen=True)
class Requirement:
    """One term of a label selector: `key` `op` (=, !=, in, notin, exists, !exists)
    `values`."""

    key: str
    op: str
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, Any]) -> bool:
        """Whether `labels` satisfy this term."""
        value = labels.get(self.key)
        present = self.key in labels
        match self.op:
            case "=":
                return present and value == self.values[0]
            case "!=":
                return not present or value != self.values[0]
            case "in":
                return present and value in self.values
            case "notin":
                return not present or value not in self.values
            case "exists":
                return present
            case _:
                return not present

    def operator(self) -> Any:
        """The term as a lightkube selector operator."""
        from lightkube import operators

        match self.op:
            case "=":
                return operators.equal(self.values[0])
            case "!=":
                return operators.not_equal(self.values[0])
            case "in":
                return operators.in_(self.values)
            case "notin":
                return operators.not_in(self.values)
            case "exists":
                return operators.exists()
            case _:
                return operators.not_exists()


_KEY = r"[A-Za-z0-9][-A-Za-z0-9_./]*"
_TERM = re.compile(
    rf"\s*(?:(?P<not>!)\s*(?P<nkey>{_KEY})"
    rf"|(?P<skey>{_KEY})\s+(?P<setop>in|notin)\s+\((?P<values>[^)]*)\)"
    rf"|(?P<key>{_KEY})\s*(?:(?P<op>==|=|!=)\s*(?P<value>[-A-Za-z0-9_.]*))?)\s*(?:,|$)"
)


def parse_label_selector(text: str | None) -> list[Requirement]:
    """The terms of a label selector in kubectl's syntax ("app=web,tier!=db,env in (a,b),
    release,!canary"); VALIDATION_INVALID_FORMAT for text that is not one."""
    out: list[Requirement] = []
    text = (text or "").strip()
    pos = 0
    while pos < len(text):
        m = _TERM.match(text, pos)
        if m is None or m.end() == pos:
            raise QueueError(
                TaskErrorCode.VALIDATION_INVALID_FORMAT,
                f"label selector {text!r}: cannot read it from {text[pos:]!r} "
                "(use key=value, key!=value, key in (a,b), key notin (a,b), key or !key, "
                "separated by commas)",
            )
        if m["nkey"]:
            out.append(Requirement(m["nkey"], "!exists"))
        elif m["skey"]:
            values = tuple(v.strip() for v in m["values"].split(",") if v.strip())
            out.append(Requirement(m["skey"], m["setop"], values))
        elif m["op"]:
            out.append(Requirement(m["key"], "!=" if m["op"] == "!=" else "=", (m["value"],)))
        else:
            out.append(Requirement(m["key"], "exists"))
        pos = m.end()
    return out


def labels_match(requirements: list[Requirement], labels: Mapping[str, Any] | None) -> bool:
    """Whether `labels` satisfy every term."""
    return all(r.matches(labels or {}) for r in requirements)
