"""The ollama family: OLLAMA_PULL, OLLAMA_RUN, OLLAMA_LIST, OLLAMA_STATUS and batch_embedding
against an Ollama server, through the official `ollama` package's AsyncClient.

The server is the task's `host`, else the settings' `ollama_host` (http://127.0.0.1:11434).
A pull writes one `layer <digest>: <state> <completed>/<total> bytes` line per layer change to
the task log; `parse_pull_lines` reads them back and the detail pane's layer view (`qt.py`)
shows them. The client is an extra (`pip install 'qtqueue[ollama]'`) imported only inside the
executors' modules; without it the types are listed, and adding or running one raises
QUEUE_EXTRA_NOT_INSTALLED.
"""

from __future__ import annotations

import importlib
import logging
from importlib import resources
from typing import Any

from qtqueue.core.errors import CATALOG
from qtqueue.executors.base import Executor
from qtqueue.executors.family import Family
from qtqueue.families.ollama.settings import OllamaSettings

logger = logging.getLogger(__name__)

__all__ = [
    "OllamaSettings",
    "PullLayer",
    "PullProgress",
    "family",
    "format_pull_line",
    "ollama_executors",
    "parse_pull_lines",
]

#: Names read from the family's modules on first use (the pure progress helpers import no SDK).
_LAZY = {
    "PullLayer": "progress",
    "PullProgress": "progress",
    "format_pull_line": "progress",
    "parse_pull_lines": "progress",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


def ollama_executors() -> list[Executor]:
    """One instance of each of the family's executors."""
    from qtqueue.families.ollama.embed import BatchEmbeddingExecutor
    from qtqueue.families.ollama.models import OllamaListExecutor, OllamaStatusExecutor
    from qtqueue.families.ollama.pull import OllamaPullExecutor
    from qtqueue.families.ollama.run import OllamaRunExecutor

    return [
        OllamaPullExecutor(),
        OllamaRunExecutor(),
        OllamaListExecutor(),
        OllamaStatusExecutor(),
        BatchEmbeddingExecutor(),
    ]


#: The family's error codes and message rules.
ERRORS = resources.files(__name__) / "errors.toml"

#: The Ollama family, advertised as `ollama` in the `qtqueue.families` entry-point group.
family = Family(
    name="ollama",
    title="Ollama",
    category="ollama",
    executors=ollama_executors,
    settings_model=OllamaSettings,
    errors=ERRORS,
    # A pull or a run is named by its model.
    name_keys=("model",),
    qt_module=f"{__name__}.qt",
    requires=("ollama",),
    extra="ollama",
)

# Its codes classify texts (a kubectl or git message in a shell task's output too) as soon as the
# family is imported, as the docker family's do.
CATALOG.register_file(family.name, ERRORS)
