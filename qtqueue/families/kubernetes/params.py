"""What every Kubernetes params model shares: the cluster a task talks to (kubeconfig, context,
namespace, a keyring token), overriding the family settings for this task only."""

from __future__ import annotations

import logging
import re

from pydantic import Field, field_validator

from qtqueue.executors.base import Params

logger = logging.getLogger(__name__)

__all__ = [
    "K8S_NAME_MAX",
    "K8S_NAME_PATTERN",
    "PATH_SEGMENT_KINDS",
    "ClusterParams",
    "check_k8s_name",
    "check_object_name",
    "check_path_segment",
]

#: A DNS-1123 name (most objects: Deployment, Service, Namespace, ConfigMap...).
K8S_NAME_PATTERN = r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"
#: The longest such name.
K8S_NAME_MAX = 253

_NAME = re.compile(K8S_NAME_PATTERN)


def check_k8s_name(value: str | None, what: str) -> str | None:
    """`value` unless it is not a Kubernetes (DNS-1123 subdomain) name: lower-case letters,
    digits, '-' and '.', at most K8S_NAME_MAX characters. A name goes into the request's URL
    path, so "../other/configmaps/x" must never reach it; ValueError (a validation error at
    add time) says so."""
    if value is None:
        return None
    if len(value) > K8S_NAME_MAX or not _NAME.match(value):
        raise ValueError(
            f"{what} {value!r} is not a Kubernetes name: lower-case letters, digits, '-' and "
            f"'.', starting and ending with a letter or digit, at most {K8S_NAME_MAX} characters"
        )
    return value


#: Kinds whose names the API server checks only as a path segment (RBAC's system roles are
#: named "system:controller:...", say): lower-case kind, plural.
PATH_SEGMENT_KINDS = frozenset(
    {
        "role",
        "roles",
        "rolebinding",
        "rolebindings",
        "clusterrole",
        "clusterroles",
        "clusterrolebinding",
        "clusterrolebindings",
    }
)


def check_path_segment(value: str, what: str) -> str:
    """`value` unless the API server would refuse it as a name in a URL path ("." or "..",
    or holding '/' or '%'): ValueError then."""
    if value in (".", "..") or "/" in value or "%" in value:
        raise ValueError(f"{what} {value!r} is not a Kubernetes name: no '/', '%', '.' or '..'")
    return value


def check_object_name(value: str, kind: str | None, what: str = "name") -> str:
    """`value` checked as a name of a `kind` object: a path segment for the RBAC kinds
    (PATH_SEGMENT_KINDS), a DNS-1123 subdomain (`check_k8s_name`) for every other."""
    if kind is not None and kind.strip().lower() in PATH_SEGMENT_KINDS:
        return check_path_segment(value, what)
    check_k8s_name(value, what)
    return value


class ClusterParams(Params):
    """The base of every Kubernetes params model: where the task's cluster is. Every field is
    optional; an empty one falls back to the family settings (`KubernetesSettings`), then to
    the kubeconfig's own choice."""

    namespace: str | None = Field(
        None,
        description="Namespace (default: the namespace of the settings, else the context's, "
        "else 'default')",
    )
    kubeconfig: str | None = Field(
        None,
        description="Kubeconfig file for this task (default: the settings', else $KUBECONFIG, "
        "else ~/.kube/config)",
        json_schema_extra={"widget": "file"},
    )
    context: str | None = Field(
        None,
        description="Kubeconfig context for this task (default: the settings', else the "
        "kubeconfig's current-context)",
    )
    token_credential: str | None = Field(
        None,
        description="Name of a credential in the OS keyring holding a bearer token; it "
        "replaces the kubeconfig user's credentials for this task (the token itself is never "
        "stored in the queue)",
    )

    @field_validator("namespace", "kubeconfig", "context", "token_credential")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip()
        return value or None

    @field_validator("namespace")
    @classmethod
    def _namespace_is_a_name(cls, value: str | None) -> str | None:
        return check_k8s_name(value, "namespace")
