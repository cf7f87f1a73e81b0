"""The executor registry: task type name -> executor. Explicit, and a duplicate is an error.

Operation families (`Family`, one folder each) come in through the `qtqueue.families`
entry-point group: qtqueue's own families (shell, system, docker) exactly as plug-ins do.
`default_registry()` loads qtqueue's own entries first, then, unless told not to, every other
installed distribution's; a broken plug-in is logged and skipped, a duplicate type name, family
name or error code raises. Single executors still come in through the older
`qtqueue.executors` group (each entry point names an `Executor` subclass), and plain functions
through `register_handler(name, fn)`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from importlib.metadata import EntryPoint, entry_points

from qtqueue.core.errors import CATALOG, ErrorCatalog, QueueError
from qtqueue.core.task import TaskType, register_name_keys
from qtqueue.executors.base import Executor, Handler, HandlerExecutor, Params, RunContext
from qtqueue.executors.family import Family, UnavailableExecutor

logger = logging.getLogger(__name__)

#: Single executors of plug-ins (each entry point names an `Executor` subclass).
ENTRY_POINT_GROUP = "qtqueue.executors"
#: Operation families, built-in and plug-in alike (each entry point names a `Family`).
FAMILY_ENTRY_POINT_GROUP = "qtqueue.families"
#: The distribution whose `qtqueue.families` entries are the built-in families.
OWN_DISTRIBUTION = "qtqueue"

# Only for an install whose metadata predates the `qtqueue.families` group (an editable install
# made before it was added): the same entries pyproject.toml declares, read the same way.
_BUILT_IN_FALLBACK = (
    "shell = qtqueue.families.shell:family",
    "system = qtqueue.families.system:family",
    "docker = qtqueue.families.docker:family",
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "FAMILY_ENTRY_POINT_GROUP",
    "Executor",
    "ExecutorRegistry",
    "Family",
    "HandlerExecutor",
    "Params",
    "RunContext",
    "default_registry",
]


class ExecutorRegistry:
    """Executors by type name, and the families they came with. `register` refuses a name that
    is already taken; `add_family` refuses a family name, type name or error code that is."""

    def __init__(self, catalog: ErrorCatalog = CATALOG) -> None:
        self._executors: dict[str, Executor] = {}
        self._families: dict[str, Family] = {}
        self._family_of: dict[str, Family] = {}
        self._catalog = catalog

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

    def add_family(self, family: Family) -> None:
        """Register a family: its error codes and rules into the catalog, then each of its
        executors. All or nothing: a family name, type name or error code already taken raises
        ValueError before anything is registered."""
        if family.name in self._families:
            raise ValueError(f"a family named {family.name!r} is already registered")
        executors = list(family.executors())
        if family.missing():
            logger.info("family %s lacks %s", family.name, ", ".join(family.missing()))
            executors = [UnavailableExecutor(e, family) for e in executors]
        names = [e.name for e in executors]
        taken = sorted({n for n in names if n in self._executors or names.count(n) > 1})
        if taken:
            raise ValueError(
                f"family {family.name!r}: an executor for {', '.join(taken)} is already registered"
            )
        if family.errors is not None:
            self._catalog.register_file(family.name, family.errors)
        if family.rules:
            self._catalog.register(f"{family.name}:code", (), family.rules)
        for executor in executors:
            self.register(executor)
            self._family_of[executor.name] = family
            register_name_keys(executor.name, family.name_keys)
        self._families[family.name] = family

    def families(self) -> list[Family]:
        """The registered families, in registration order."""
        return list(self._families.values())

    def family(self, name: str) -> Family | None:
        """A registered family by name, or None."""
        return self._families.get(name)

    def family_of(self, type_name: str | TaskType) -> Family | None:
        """The family a type came with, or None (a handler, a single plug-in executor)."""
        return self._family_of.get(str(type_name))

    def unavailable_error(self, type_name: str | TaskType) -> QueueError | None:
        """QUEUE_EXTRA_NOT_INSTALLED when the type's family lacks a module it needs, else None."""
        family = self.family_of(type_name)
        return family.unavailable_error(str(type_name)) if family is not None else None

    def get(self, name: str | TaskType) -> Executor | None:
        """The executor for a type name, or None."""
        return self._executors.get(str(name))

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self._executors

    def __iter__(self) -> Iterator[Executor]:
        return iter(sorted(self._executors.values(), key=lambda e: e.name))

    def load_families(self, eps: Iterable[EntryPoint]) -> None:
        """Add the family each entry point names. One that cannot be loaded, or is not a
        `Family`, is logged and skipped; a duplicate (ValueError from `add_family`) raises."""
        for ep in eps:
            try:
                family = ep.load()
                if not isinstance(family, Family):
                    raise TypeError(f"{ep.value} is a {type(family).__name__}, not a Family")
            except Exception:
                logger.exception("could not load family entry point %s", ep.name)
                continue
            self.add_family(family)

    def load_entry_points(self) -> None:
        """Register what installed plug-ins advertise: families (other distributions' entries of
        `qtqueue.families`), then single executors (`qtqueue.executors`); a broken one is
        logged and skipped."""
        self.load_families(
            ep
            for ep in entry_points(group=FAMILY_ENTRY_POINT_GROUP)
            if not _is_own(ep) and ep.name not in self._families
        )
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            try:
                cls = ep.load()
                self.register(cls())
            except Exception:
                logger.exception("could not load executor entry point %s", ep.name)


def _is_own(ep: EntryPoint) -> bool:
    return ep.dist is not None and ep.dist.name == OWN_DISTRIBUTION


def built_in_family_entry_points() -> list[EntryPoint]:
    """qtqueue's own `qtqueue.families` entries, from its installed metadata (or, for an
    install made before the group existed, the same entries as pyproject.toml declares)."""
    own = [ep for ep in entry_points(group=FAMILY_ENTRY_POINT_GROUP) if _is_own(ep)]
    if own:
        return own
    fallback = []
    for line in _BUILT_IN_FALLBACK:
        name, value = (part.strip() for part in line.split("=", 1))
        fallback.append(EntryPoint(name, value, FAMILY_ENTRY_POINT_GROUP))
    return fallback


def default_registry(*, entry_points: bool = True) -> ExecutorRegistry:
    """A registry with every built-in family (and installed plug-ins, unless disabled)."""
    registry = ExecutorRegistry()
    registry.load_families(built_in_family_entry_points())
    if entry_points:
        registry.load_entry_points()
    return registry
