"""The vast family: VAST_SEARCH, VAST_CREATE, VAST_DESTROY, VAST_LIST: GPU instances through
Vast.ai's REST API.
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

#: The Vast.ai family, advertised as `vast` in the `qtqueue.families` entry-point group.
family = Family(
    name="vast",
    title="Vast.ai",
    category="vast",
    executors=_executors,
    errors=ERRORS,
)

# Its codes classify texts (a kubectl or git message in a shell task's output too) as soon as the
# family is imported, as the docker family's do.
CATALOG.register_file(family.name, ERRORS)
