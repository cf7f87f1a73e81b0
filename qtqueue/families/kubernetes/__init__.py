"""The kubernetes family: K8S_DEPLOY … K8S_EXEC: deploy, scale, delete, get, logs and exec against
a cluster named by a kubeconfig.

The cluster comes from a kubeconfig and context (the family settings, `KubernetesSettings`, or
the task's own `kubeconfig`/`context`); a token may come from the OS keyring
(`token_credential`). Deploy and scale write one `rollout <name>: ...` line per change of the
rollout to the task log (`rollout.py`), which the detail pane's rollout view (`qt.py`) reads.

lightkube is an extra (`pip install 'qtqueue[kubernetes]'`) imported only inside the
executors' modules; without it the types are listed, and adding or running one raises
QUEUE_EXTRA_NOT_INSTALLED.
"""

from __future__ import annotations

import logging
from importlib import resources

from qtqueue.core.errors import CATALOG
from qtqueue.executors.base import Executor
from qtqueue.executors.family import Family
from qtqueue.families.kubernetes.settings import KubernetesSettings

logger = logging.getLogger(__name__)

__all__ = ["KubernetesSettings", "family"]


def _executors() -> list[Executor]:
    """One instance of each of the family's executors."""
    from qtqueue.families.kubernetes.objects import K8sDeleteExecutor, K8sGetExecutor
    from qtqueue.families.kubernetes.resources import K8sDeployExecutor, K8sScaleExecutor

    executors: list[Executor] = [
        K8sDeployExecutor(),
        K8sScaleExecutor(),
        K8sDeleteExecutor(),
        K8sGetExecutor(),
    ]
    from qtqueue.families.kubernetes import pod_exec, pod_logs  # K8S_LOGS, K8S_EXEC

    executors += [pod_logs.K8sLogsExecutor(), pod_exec.K8sExecExecutor()]
    return executors


#: The family's error codes and message rules.
ERRORS = resources.files(__name__) / "errors.toml"

#: The Kubernetes family, advertised as `kubernetes` in the `qtqueue.families` entry-point group.
family = Family(
    name="kubernetes",
    title="Kubernetes",
    category="kubernetes",
    executors=_executors,
    settings_model=KubernetesSettings,
    errors=ERRORS,
    # A deploy names its run by the deployment (or the manifest), the others by the object.
    name_keys=("name", "manifest_path", "kind", "pod", "deployment"),
    qt_module=f"{__name__}.qt",
    requires=("lightkube", "yaml"),
    extra="kubernetes",
)

# Its codes classify texts (a kubectl or git message in a shell task's output too) as soon as the
# family is imported, as the docker family's do.
CATALOG.register_file(family.name, ERRORS)
