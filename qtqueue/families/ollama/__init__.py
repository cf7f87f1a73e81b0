"""The ollama family: OLLAMA_PULL, OLLAMA_RUN, OLLAMA_LIST, OLLAMA_STATUS and batch_embedding
against an Ollama server.
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

#: The Ollama family, advertised as `ollama` in the `qtqueue.families` entry-point group.
family = Family(
    name="ollama",
    title="Ollama",
    category="ollama",
    executors=_executors,
    errors=ERRORS,
)

# Its codes classify texts (a kubectl or git message in a shell task's output too) as soon as the
# family is imported, as the docker family's do.
CATALOG.register_file(family.name, ERRORS)
