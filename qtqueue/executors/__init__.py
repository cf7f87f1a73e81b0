"""The executor registry: task type name -> executor. Explicit, and a duplicate is an error.

Built-in executors are registered by `default_registry()`. Third-party packages add executors
through the `qtqueue.executors` entry-point group (each entry point names an `Executor`
subclass); plain functions come in through `register_handler(name, fn)`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from importlib.metadata import entry_points

from qtqueue.core.task import TaskType
from qtqueue.executors.base import Executor, Handler, HandlerExecutor, Params, RunContext

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "qtqueue.executors"

__all__ = [
    "ENTRY_POINT_GROUP",
    "Executor",
    "ExecutorRegistry",
    "HandlerExecutor",
    "Params",
    "RunContext",
    "default_registry",
]


class ExecutorRegistry:
    """Executors by type name. `register` refuses a name that is already taken."""

    def __init__(self) -> None:
        self._executors: dict[str, Executor] = {}

    def register(self, executor: Executor) -> Executor:
        """Add an executor; raises ValueError if its type name is already registered."""
        name = executor.name
        if name in self._executors:
            raise ValueError(f"an executor for {name!r} is already registered")
        self._executors[name] = executor
        return executor

    def register_handler(self, name: str, fn: Handler) -> Executor:
        """Register a plain or async function `fn(task_id, params) -> dict` as a task type."""
        if not name or not name.replace("_", "").replace("-", "").replace(".", "").isalnum():
            raise ValueError(f"handler name {name!r} must be letters, digits, '_', '-' or '.'")
        return self.register(HandlerExecutor(name, fn))

    def get(self, name: str | TaskType) -> Executor | None:
        """The executor for a type name, or None."""
        key = name.value if isinstance(name, TaskType) else name
        return self._executors.get(key)

    def __contains__(self, name: object) -> bool:
        key = name.value if isinstance(name, TaskType) else name
        return key in self._executors

    def __iter__(self) -> Iterator[Executor]:
        return iter(sorted(self._executors.values(), key=lambda e: e.name))

    def load_entry_points(self) -> None:
        """Register executors that installed packages advertise; a broken one is logged."""
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            try:
                cls = ep.load()
                self.register(cls())
            except Exception:
                logger.exception("could not load executor entry point %s", ep.name)


def default_registry(*, entry_points: bool = True) -> ExecutorRegistry:
    """A registry with every built-in executor (and installed plug-ins, unless disabled)."""
    from qtqueue.executors.command import CommandExecutor, ScriptExecutor
    from qtqueue.executors.docker import docker_executors
    from qtqueue.executors.monitor import SystemMonitorExecutor

    registry = ExecutorRegistry()
    for executor in (
        CommandExecutor(),
        ScriptExecutor(),
        SystemMonitorExecutor(),
        *docker_executors(),
    ):
        registry.register(executor)
    if entry_points:
        registry.load_entry_points()
    return registry
