"""The network family: NETWORK_TEST, NETWORK_SCAN, NETWORK_MONITOR: reachability, ports, and
watching a target.
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

#: The Network family, advertised as `network` in the `qtqueue.families` entry-point group.
family = Family(
    name="network",
    title="Network",
    category="network",
    executors=_executors,
    errors=ERRORS,
)

CATALOG.register_file(family.name, ERRORS)
