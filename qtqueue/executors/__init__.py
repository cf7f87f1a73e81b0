"""The executor registry: task type name -> executor. Explicit, and a duplicate is an error.

Operation families (`Family`, one folder each) come in through the `qtqueue.families`
entry-point group: qtqueue's own families (shell, system, docker) exactly as plug-ins do.
`default_registry()` loads qtqueue's own entries first, then, unless told not to, every other
installed distribution's. A plug-in family is registered all or nothing: one that cannot be
loaded or registered (a duplicate type name, family name, error code or setting, a bad errors.toml,
a setting that would hold a credential) is logged and skipped; for the built-in families it
raises. Single executors still come in through the older
`qtqueue.executors` group (each entry point names an `Executor` subclass), and plain functions
through `register_handler(name, fn)`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from qtqueue.core.error_catalog import code_rules_owner
from qtqueue.core.errors import CATALOG, ErrorCatalog, QueueError
from qtqueue.core.task import TaskType, summarize_params
from qtqueue.executors.base import Executor, Handler, HandlerExecutor, Params, RunContext
from qtqueue.executors.family import Family, UnavailableExecutor, secret_settings

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
    "work_order = qtqueue.families.work_order:family",
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
        #: The family whose settings model declares each settings field (they reach
        #: executors through `RunContext.settings` by field name, so each has one owner).
        self._setting_owner: dict[str, Family] = {}
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
        executors. All or nothing: a family name, type name, error code or settings field
        already taken, or a settings field that would hold a credential, raises ValueError;
        whatever raises leaves nothing of the family registered."""
        if family.name in self._families:
            raise ValueError(f"a family named {family.name!r} is already registered")
        model = family.settings_model
        settings = list(model.model_fields) if model is not None else []
        secrets = secret_settings(model) if model is not None else []
        if secrets:
            raise ValueError(
                f"family {family.name!r}: the setting {', '.join(secrets)} would hold a "
                "credential, but settings are saved as plain text; keep it in the OS keyring "
                "and read it in the executor with ctx.credential(name)"
            )
        clashes = sorted(n for n in settings if n in self._setting_owner)
        if clashes:
            owners = sorted({self._setting_owner[n].name for n in clashes})
            raise ValueError(
                f"family {family.name!r}: the setting {', '.join(clashes)} is already one of "
                f"family {', '.join(map(repr, owners))} (executors read settings by field name)"
            )
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
        owners_before = set(self._catalog.owners())
        try:
            if family.errors is not None:
                self._catalog.register_file(family.name, family.errors)
            if family.rules:
                self._catalog.register(code_rules_owner(family.name), (), family.rules)
            for executor in executors:
                self.register(executor)
                self._family_of[executor.name] = family
        except BaseException:
            for owner in set(self._catalog.owners()) - owners_before:
                self._catalog.unregister(owner)
            for name in names:
                if self._family_of.pop(name, None) is family:
                    del self._executors[name]
            raise
        self._setting_owner.update(dict.fromkeys(settings, family))
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

    def name_keys(self, type_name: str | TaskType) -> tuple[str, ...]:
        """The param keys that name a task of that type: those of the family it came with in
        this registry, most telling first; () for a type of no family or an unknown one."""
        family = self.family_of(type_name)
        return tuple(family.name_keys) if family is not None else ()

    def default_name(self, type_name: str | TaskType, params: Mapping[str, Any]) -> str:
        """The name a task of that type with those params gets when it is given none: the
        value of its family's first name key set (then command, script_path, url), else the
        type name (`summarize_params` with this registry's `name_keys`)."""
        return summarize_params(type_name, params, self.name_keys(type_name))

    def unavailable_error(self, type_name: str | TaskType) -> QueueError | None:
        """QUEUE_EXTRA_NOT_INSTALLED when the type's family lacks a module it needs, else None."""
        family = self.family_of(type_name)
        return family.unavailable_error(str(type_name)) if family is not None else None

    def titles(self) -> dict[str, str]:
        """Each registered type's name in words, by type name ("docker_push": "Docker push")."""
        return {name: e.display_title for name, e in self._executors.items()}

    def get(self, name: str | TaskType) -> Executor | None:
        """The executor for a type name, or None."""
        return self._executors.get(str(name))

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self._executors

    def __iter__(self) -> Iterator[Executor]:
        return iter(sorted(self._executors.values(), key=lambda e: e.name))

    def load_families(self, eps: Iterable[EntryPoint], *, strict: bool = False) -> None:
        """Add the family each entry point names. One that cannot be loaded, or is not a
        `Family`, is logged and skipped. So is, unless `strict`, one that `add_family` refuses
        or that raises while registered (a clashing name or code, a bad errors.toml, its
        `executors()` failing): a broken plug-in must not stop qtqueue. With `strict` (qtqueue's
        own families) that error raises."""
        for ep in eps:
            try:
                family = ep.load()
                if not isinstance(family, Family):
                    raise TypeError(f"{ep.value} is a {type(family).__name__}, not a Family")
            except Exception:
                logger.exception("could not load family entry point %s", ep.name)
                continue
            if strict:
                self.add_family(family)
                continue
            try:
                self.add_family(family)
            except Exception:
                logger.exception(
                    "skipped family %s (entry point %s = %s): it could not be registered",
                    family.name, ep.name, ep.value,
                )  # fmt: skip

    def load_entry_points(self) -> None:
        """Register what installed plug-ins advertise: families (other distributions' entries of
        `qtqueue.families`), then single executors (`qtqueue.executors`); a broken one is
        logged and skipped."""
        self.load_families(self._plugin_family_entry_points())
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            try:
                cls = ep.load()
                self.register(cls())
            except Exception:
                logger.exception("could not load executor entry point %s", ep.name)

    def _plugin_family_entry_points(self) -> Iterator[EntryPoint]:
        """Other distributions' `qtqueue.families` entries; one named like a family already
        registered is left out, with a warning naming both."""
        for ep in entry_points(group=FAMILY_ENTRY_POINT_GROUP):
            if _is_own(ep):
                continue
            if ep.name in self._families:
                logger.warning(
                    "skipped family entry point %s = %s%s: a family named %r is already "
                    "registered (%s)",
                    ep.name, ep.value, _from_dist(ep), ep.name,
                    self._families[ep.name].title,
                )  # fmt: skip
                continue
            yield ep


def _from_dist(ep: EntryPoint) -> str:
    return f" of {ep.dist.name}" if ep.dist is not None else ""


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
    registry.load_families(built_in_family_entry_points(), strict=True)
    if entry_points:
        registry.load_entry_points()
    return registry
