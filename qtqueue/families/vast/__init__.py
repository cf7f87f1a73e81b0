"""The vast family: VAST_SEARCH, VAST_CREATE, VAST_DESTROY, VAST_LIST: GPU instances through
Vast.ai's REST API.

The API is spoken with aiohttp (a qtqueue dependency) exactly as the official `vastai` CLI
speaks it (client.py); the `vastai` package itself pins heavy exact versions and stays out of
the runtime. The API key comes from the OS keyring (the `vast_keyring_name` setting, or a
task's `keyring_name`). VAST_CREATE states the offer's price before it rents, refuses one above
the cost guard's limit and, with `vast_require_approval` on (the default), asks a person to
approve the price first (`RunContext.ask`).
"""

from __future__ import annotations

import logging
from importlib import resources

from qtqueue.core.errors import CATALOG
from qtqueue.executors.base import Executor
from qtqueue.executors.family import Family
from qtqueue.families.vast.settings import VastSettings

logger = logging.getLogger(__name__)

__all__ = ["VastSettings", "family", "vast_executors"]


def vast_executors() -> list[Executor]:
    """One instance of each of the family's executors."""
    from qtqueue.families.vast.create import VastCreateExecutor
    from qtqueue.families.vast.instances import VastDestroyExecutor, VastListExecutor
    from qtqueue.families.vast.offers import VastSearchExecutor

    return [VastSearchExecutor(), VastCreateExecutor(), VastDestroyExecutor(), VastListExecutor()]


#: The family's error codes and message rules.
ERRORS = resources.files(__name__) / "errors.toml"

#: The Vast.ai family, advertised as `vast` in the `qtqueue.families` entry-point group.
family = Family(
    name="vast",
    title="Vast.ai",
    category="vast",
    executors=vast_executors,
    settings_model=VastSettings,
    errors=ERRORS,
    # An instance names a destroy best; then the image a create runs, then the GPU searched for.
    name_keys=("instance_id", "image", "gpu_name"),
    qt_module=f"{__name__}.qt",
)

# Its codes classify texts (a kubectl or git message in a shell task's output too) as soon as the
# family is imported, as the docker family's do.
CATALOG.register_file(family.name, ERRORS)
