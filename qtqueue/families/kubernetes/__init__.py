"""The kubernetes family: K8S_DEPLOY … K8S_EXEC: deploy, scale, delete, get, logs and exec against
a cluster named by a kubeconfig.
"""

from __future__ import annotations

import logging
from importlib import resources

from qtqueue.core.errors import CATALOG
from qtqueue.executors.base import Executor
from qtqueue.executors.family import Family

logger = logging.getLogger(__name__)

__all__ = ["family"]


def _executors() -> list[Executor]:
    """One instance of each of the family's executors."""
    return []


#: The family's error codes and message rules.
ERRORS = resources.files(__name__) / "errors.toml"

#: The Kubernetes family, advertised as `kubernetes` in the `qtqueue.families` entry-point group.
family = Family(
    name="kubernetes",
    title="Kubernetes",
    category="kubernetes",
    executors=_executors,
    errors=ERRORS,
)

# Its codes classify texts (a kubectl or git message in a shell task's output too) as soon as the
# family is imported, as the docker family's do.
CATALOG.register_file(family.name, ERRORS)
