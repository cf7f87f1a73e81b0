"""The kubernetes family's settings: which cluster (kubeconfig and context) tasks talk to when
they name none, the namespace they default to, and how long requests and rollouts may take."""

from __future__ import annotations

import logging

from pydantic import BaseModel, ConfigDict, Field, field_validator

logger = logging.getLogger(__name__)

__all__ = ["KubernetesSettings"]


class KubernetesSettings(BaseModel):
    """Settings every Kubernetes task reads at run time (`RunContext.family_settings`); the
    settings page and `qtqueue config` are generated from it. Names carry the family's `k8s_`
    prefix: all families' settings share one mapping. No credential lives here: tokens and
    client keys stay in the kubeconfig or the OS keyring (a task's `token_credential`)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    k8s_kubeconfig: str = Field(
        default="",
        title="Kubeconfig",
        description="The kubeconfig file of Kubernetes tasks that name none "
        "(empty: $KUBECONFIG, else ~/.kube/config)",
        json_schema_extra={"widget": "file"},
    )
    k8s_context: str = Field(
        default="",
        title="Context",
        description="The kubeconfig context to use (empty: its current-context)",
    )
    k8s_namespace: str = Field(
        default="",
        title="Namespace",
        description="The namespace of tasks that name none (empty: the context's, else 'default')",
    )
    k8s_request_timeout_s: float = Field(
        default=30.0,
        gt=0,
        le=3600,
        title="Request timeout (s)",
        description="Seconds one request to the API server may take (connect and answer); a "
        "dead cluster fails within it with K8S_CLUSTER_UNAVAILABLE",
    )
    k8s_rollout_timeout_s: float = Field(
        default=600.0,
        gt=0,
        title="Rollout timeout (s)",
        description="Seconds a deploy or scale waits for its replicas to be ready before it "
        "fails with K8S_DEPLOYMENT_FAILED (a task's own rollout_timeout_s wins)",
    )

    @field_validator("k8s_kubeconfig", "k8s_context", "k8s_namespace")
    @classmethod
    def _stripped(cls, value: str) -> str:
        return value.strip()
