"""The webhook family: CUSTOM_WEBHOOK: an HTTP request, optionally signed, with retries.
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

#: The Webhooks family, advertised as `webhook` in the `qtqueue.families` entry-point group.
family = Family(
    name="webhook",
    title="Webhooks",
    category="network",
    executors=_executors,
    errors=ERRORS,
)

CATALOG.register_file(family.name, ERRORS)
