"""What every Kubernetes params model shares: the cluster a task talks to (kubeconfig, context,
namespace, a keyring token), overriding the family settings for this task only."""

from __future__ import annotations

import logging

from pydantic import Field, field_validator

from qtqueue.executors.base import Params

logger = logging.getLogger(__name__)

__all__ = ["K8S_NAME_PATTERN", "ClusterParams"]

#: A DNS-1123 name (most objects: Deployment, Service, Namespace, ConfigMap...).
K8S_NAME_PATTERN = r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"


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
