"""The data family: DATA_IMPORT, DATA_EXPORT, DATA_PROCESS, DATA_ANALYZE: files and tables through
duckdb.
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


#: The family's own error codes and message rules (its NETWORK_*/DATA_* codes are the core's).
ERRORS = resources.files(__name__) / "errors.toml"

#: The Data family, advertised as `data` in the `qtqueue.families` entry-point group.
family = Family(
    name="data",
    title="Data",
    category="data",
    executors=_executors,
    errors=ERRORS,
)

CATALOG.register_file(family.name, ERRORS)
