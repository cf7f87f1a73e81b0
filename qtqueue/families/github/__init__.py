"""The github family: GITHUB_CREATE_REPO, GITHUB_LIST_REPOS, GITHUB_CLONE, GITHUB_PUSH: GitHub's
REST API and real git.
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

#: The GitHub family, advertised as `github` in the `qtqueue.families` entry-point group.
family = Family(
    name="github",
    title="GitHub",
    category="github",
    executors=_executors,
    errors=ERRORS,
)

# Its codes classify texts (a kubectl or git message in a shell task's output too) as soon as the
# family is imported, as the docker family's do.
CATALOG.register_file(family.name, ERRORS)
