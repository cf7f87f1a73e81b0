"""Engine settings: one Qt-free pydantic model, each family's settings beside it, kept in the store.

`EngineSettings` holds what the engine itself uses (tasks at once, category limits, retention,
log cap, what running tasks do at shutdown); a family's settings are its own model (Docker's is
`DockerSettings`). Both are saved in the store's meta table, so the window, `qtqueue run`, the
CLI and the API all read and write the same values, whoever started the engine:

```
queue = TaskQueue(data_dir)
apply_settings(queue, saved_settings(queue.data_dir))   # composition roots, before start()
await queue.start()
```

Only the fields a user set are saved and applied (`model_fields_set`): a field never set keeps
what the queue was built with. A saved value that cannot be read gives the defaults and a logged
warning, never a failed start.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.engine.logs import DEFAULT_LOG_CAP_BYTES
from qtqueue.engine.queue import DB_NAME, DEFAULT_RETENTION_S, ShutdownPolicy, TaskQueue
from qtqueue.storage.meta import MetaStore, parse_model, peek_meta, save_model

logger = logging.getLogger(__name__)

__all__ = [
    "ENGINE_KEY",
    "FAMILY_SETTINGS",
    "DockerSettings",
    "EngineSettings",
    "Settings",
    "apply_category_limits",
    "apply_settings",
    "changed_settings",
    "checked",
    "current_settings",
    "family_key",
    "load_settings",
    "overlay",
    "save_settings",
    "saved_settings",
]

_M = TypeVar("_M", bound=BaseModel)

MB = 1024 * 1024
DAY_S = 86400.0
#: The meta key of the engine's settings; a family's are under `family_key(name)`.
ENGINE_KEY = "settings.engine"
#: URL schemes the docker SDK accepts for a daemon.
DOCKER_HOST_SCHEMES = ("unix://", "tcp://", "ssh://", "npipe://", "http://", "https://")


def family_key(name: str) -> str:
    """The meta key a family's settings are saved under."""
    return f"settings.family.{name}"


class _SettingsModel(BaseModel):
    """A settings model: an unknown field is an error, and every value is checked on change."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class EngineSettings(_SettingsModel):
    """What the engine itself uses; the window's settings page and `qtqueue config` edit it."""

    max_concurrent: int = Field(
        default=4,
        ge=1,
        le=1024,
        title="Tasks at once",
        description="How many tasks run at the same time",
    )
    category_limits: dict[str, Annotated[int, Field(ge=1, le=1024)]] = Field(
        default_factory=dict,
        title="Per category",
        description="Category → at most this many of its tasks running at once",
    )
    retention_days: float = Field(
        default=DEFAULT_RETENTION_S / DAY_S,
        ge=0,
        le=3650,
        title="Keep finished tasks (days)",
        description="Finished tasks and their logs are deleted after this long; 0 keeps them",
    )
    log_cap_mb: int = Field(
        default=DEFAULT_LOG_CAP_BYTES // MB,
        ge=1,
        le=10240,
        title="Log size per task (MiB)",
        description="Each task's log keeps at most this much (the newest part)",
    )
    shutdown_policy: ShutdownPolicy = Field(
        default=ShutdownPolicy.REQUEUE,
        title="On quit, running tasks",
        description="requeue: stop them and run them again at the next start; "
        "wait: wait until they finish; cancel: cancel them",
    )

    @field_validator("category_limits")
    @classmethod
    def _named_categories(cls, limits: dict[str, int]) -> dict[str, int]:
        if any(not name.strip() for name in limits):
            raise ValueError("each category needs a name")
        return {name.strip(): n for name, n in limits.items()}

    @property
    def retention_s(self) -> float | None:
        """Retention in seconds for `TaskQueue.set_retention` (None: keep for ever)."""
        return self.retention_days * DAY_S if self.retention_days > 0 else None


class DockerSettings(_SettingsModel):
    """The Docker family's settings.

    TODO(issue 11 §4): move to qtqueue/families/docker/ as the family's `settings_model` once
    the `Family` descriptor exists; FAMILY_SETTINGS then comes from the registered families.
    """

    docker_host: str = Field(
        default="",
        title="Docker host",
        description="The Docker daemon of Docker tasks that name none, e.g. tcp://build-box:2375 "
        "(empty: $DOCKER_HOST, else the local socket)",
    )

    @field_validator("docker_host")
    @classmethod
    def _daemon_url(cls, host: str) -> str:
        host = host.strip()
        if host and (not host.startswith(DOCKER_HOST_SCHEMES) or host in DOCKER_HOST_SCHEMES):
            raise ValueError(
                "must be a daemon URL such as unix:///var/run/docker.sock or tcp://host:2375"
            )
        return host


#: Each family's settings model by family name. Its fields reach executors through
#: `RunContext.settings` under their own names.
FAMILY_SETTINGS: Mapping[str, type[BaseModel]] = {"docker": DockerSettings}


@dataclass(slots=True)
class Settings:
    """The engine's settings and each family's."""

    engine: EngineSettings = field(default_factory=EngineSettings)
    """What the engine itself uses."""
    families: dict[str, BaseModel] = field(default_factory=dict)
    """A family's settings by family name (families with none saved are left out)."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: {"engine": {...}, "families": {name: {...}}}, every field."""
        return {
            "engine": self.engine.model_dump(mode="json"),
            "families": {n: m.model_dump(mode="json") for n, m in sorted(self.families.items())},
        }


def _from_stored(raw: Mapping[str, str], families: Mapping[str, type[BaseModel]]) -> Settings:
    engine = parse_model(raw.get(ENGINE_KEY), ENGINE_KEY, EngineSettings)
    found: dict[str, BaseModel] = {}
    for name, model in families.items():
        value = parse_model(raw.get(family_key(name)), family_key(name), model)
        if value is not None:
            found[name] = value
    return Settings(engine or EngineSettings(), found)


def saved_settings(
    data_dir: os.PathLike[str] | str, families: Mapping[str, type[BaseModel]] = FAMILY_SETTINGS
) -> Settings:
    """The settings saved in the store of `data_dir`, read before an engine opens it (only
    the fields that were set; see the module docstring)."""
    keys = [ENGINE_KEY, *(family_key(n) for n in families)]
    return _from_stored(peek_meta(Path(data_dir) / DB_NAME, keys), families)


async def load_settings(
    store: MetaStore, families: Mapping[str, type[BaseModel]] = FAMILY_SETTINGS
) -> Settings:
    """The settings saved in an open store (only the fields that were set)."""
    raw = {}
    for key in [ENGINE_KEY, *(family_key(n) for n in families)]:
        value = await store.get_meta(key)
        if value is not None:
            raw[key] = value
    return _from_stored(raw, families)


async def save_settings(store: MetaStore, settings: Settings) -> None:
    """Save the fields that were set, engine and families; durable on return."""
    await save_model(store, ENGINE_KEY, settings.engine)
    for name, model in settings.families.items():
        await save_model(store, family_key(name), model)


def overlay(base: Settings, top: Settings) -> Settings:
    """`base` with every field set in `top` taking `top`'s value (set fields of both stay set)."""

    def merged(model: type[_M], below: BaseModel | None, above: BaseModel | None) -> _M:
        return model.model_validate(
            {
                **(below.model_dump(exclude_unset=True) if below is not None else {}),
                **(above.model_dump(exclude_unset=True) if above is not None else {}),
            }
        )

    families = {
        name: merged(
            type(top.families.get(name) or base.families[name]),
            base.families.get(name),
            top.families.get(name),
        )
        for name in {*base.families, *top.families}
    }
    return Settings(merged(EngineSettings, base.engine, top.engine), families)


def apply_category_limits(queue: TaskQueue, limits: Mapping[str, int]) -> None:
    """Make the queue's category limits exactly `limits` (removed ones are lifted)."""
    for category in set(queue.category_limits) - set(limits):
        queue.set_category_limit(category, None)
    for category, limit in limits.items():
        if queue.category_limits.get(category) != limit:
            queue.set_category_limit(category, limit)


def apply_settings(queue: TaskQueue, settings: Settings) -> None:
    """Give the queue the fields of `settings` that were set, live (before `start()` at the
    composition roots; on a running engine, at once)."""
    engine, chosen = settings.engine, settings.engine.model_fields_set
    if "max_concurrent" in chosen:
        queue.set_max_concurrent(engine.max_concurrent)
    if "category_limits" in chosen:
        apply_category_limits(queue, engine.category_limits)
    if "retention_days" in chosen:
        queue.set_retention(engine.retention_s)
    if "log_cap_mb" in chosen:
        queue.log_cap_bytes = engine.log_cap_mb * MB
    if "shutdown_policy" in chosen:
        queue.shutdown_policy = engine.shutdown_policy
    for model in settings.families.values():
        for name in model.model_fields_set:
            value = getattr(model, name)
            if value in (None, ""):
                queue.executor_settings.pop(name, None)
            else:
                queue.executor_settings[name] = value


def current_settings(
    queue: TaskQueue, families: Mapping[str, type[BaseModel]] = FAMILY_SETTINGS
) -> Settings:
    """The values the running queue uses now, every field (families' from its executor
    settings, defaults where it has none)."""
    retention = queue.retention_s
    engine = EngineSettings.model_construct(
        max_concurrent=queue.max_concurrent,
        category_limits=dict(queue.category_limits),
        retention_days=0.0 if retention is None else retention / DAY_S,
        log_cap_mb=max(1, round(queue.log_cap_bytes / MB)),
        shutdown_policy=ShutdownPolicy(queue.shutdown_policy),
    )
    found = {
        name: model.model_validate(
            {
                k: queue.executor_settings[k]
                for k in model.model_fields
                if k in queue.executor_settings
            }
        )
        for name, model in families.items()
    }
    return Settings(engine, found)


def changed_settings(
    saved: Settings,
    engine: Mapping[str, Any],
    families: Mapping[str, Mapping[str, Any]],
    models: Mapping[str, type[BaseModel]] = FAMILY_SETTINGS,
) -> Settings:
    """`saved` with the given fields changed, checked by the models: QueueError
    VALIDATION_INVALID_PARAMS (VALIDATION_INVALID_FORMAT for an unknown family) naming each bad
    field as `engine.<field>` or `<family>.<field>`. Only the fields given and those saved
    before are set in the result."""
    unknown = sorted(set(families) - set(models))
    if unknown:
        raise QueueError(
            TaskErrorCode.VALIDATION_INVALID_FORMAT,
            f"no settings for {', '.join(unknown)} (families with settings: "
            f"{', '.join(sorted(models)) or 'none'})",
            fields=unknown,
        )
    new_engine = _validated("engine", EngineSettings, saved.engine, engine)
    new_families = dict(saved.families)
    for name, values in families.items():
        before = saved.families.get(name) or models[name]()
        new_families[name] = _validated(name, models[name], before, values)
    return Settings(new_engine, new_families)


def _validated(where: str, model: type[_M], before: BaseModel, changes: Mapping[str, Any]) -> _M:
    """`before` with `changes`, as `model`; QueueError naming each bad field `<where>.<field>`."""
    return checked(model, {**before.model_dump(exclude_unset=True), **dict(changes)}, where)


def checked(model: type[_M], values: Mapping[str, Any], where: str = "") -> _M:
    """`values` as `model`, or QueueError VALIDATION_INVALID_PARAMS whose `fields` name each
    bad field and why ("log_cap_mb: Input should be greater than or equal to 1"), each led by
    `where.` when given. The settings pages show these under their fields."""
    try:
        return model.model_validate(dict(values))
    except ValidationError as exc:
        lead = f"{where}." if where else ""
        problems = [
            f"{lead}{'.'.join(str(p) for p in e['loc'])}: "
            + (
                "unknown setting"
                if e["type"] == "extra_forbidden"
                else e["msg"].removeprefix("Value error, ")
            )
            for e in exc.errors()
        ]
        raise QueueError(
            TaskErrorCode.VALIDATION_INVALID_PARAMS,
            "invalid settings: " + "; ".join(problems),
            fields=problems,
        ) from None
