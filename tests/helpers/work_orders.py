"""The registry work-order tests run on."""

from __future__ import annotations

from qtqueue.executors import ExecutorRegistry, default_registry
from qtqueue.families.work_order import family


def work_order_registry() -> ExecutorRegistry:
    """The built-in families, work orders among them: added here while the installed qtqueue
    metadata predates the family's entry point (an editable install made before it)."""
    found = default_registry(entry_points=False)
    if found.family(family.name) is None:
        found.add_family(family)
    return found
