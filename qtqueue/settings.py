"""Engine settings: one Qt-free pydantic model, each family's settings beside it, kept in the store.

`EngineSettings` holds what the engine itself uses (tasks at once, category limits, retention,
log cap, what running tasks do at shutdown); a family's settings are its own model, the
`settings_model` of its `Family` (Docker's `docker_host`), found through the registry
(`family_settings(queue.registry)`), never imported here. Both are saved in the store's meta
table, so the window, `qtqueue run`, the CLI and the API all read and write the same values,
whoever started the engine:

```
queue = TaskQueue(data_dir)
apply_saved_settings(queue)     # composition roots, before start()
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

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from qtqueue.core.addresses import check_bind, parse_address
from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.engine.logs import DEFAULT_LOG_CAP_BYTES
from qtqueue.engine.queue import DB_NAME, DEFAULT_RETENTION_S, ShutdownPolicy, TaskQueue
from qtqueue.executors import ExecutorRegistry, default_registry
from qtqueue.storage.meta import MetaStore, parse_model, peek_meta, save_model

logger = logging.getLogger(__name__)

__all__ = [
    "ENGINE_KEY",
    "EngineSettings",
    "FamilyModels",
    "Settings",
    "apply_category_limits",
    "apply_saved_settings",
    "apply_settings",
    "changed_settings",
    "checked",
    "current_settings",
    "family_key",
    "family_settings",
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


def family_key(name: str) -> str:
    """The meta key a family's settings are saved under."""
    return f"settings.family.{name}"


class _SettingsModel(BaseModel):
    """A settings model: an unknown field is an error, and every value is checked on change."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


#: The settings of the web API (REST, admin page, metrics), served from the next start.
WEB_API_FIELDS = frozenset({"http_address", "http_tls_cert", "http_tls_keyfile"})


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
        # The window's settings page edits it in a table of category and limit.
        json_schema_extra={"widget": "category_limits"},
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

    http_address: str = Field(
        default="",
        max_length=300,
        title="Web API address",
        description="HOST:PORT where the engine serves the REST API, the admin page "
        "(/admin/tasks) and /metrics, with the API key of `qtqueue token show`; empty: off; "
        "port 0 picks a free one. Any address but this machine's own needs the TLS files "
        "below. Applies when the engine next starts",
    )
    http_tls_cert: str = Field(
        default="",
        max_length=4096,
        title="TLS certificate (PEM file)",
        description="The web API's HTTPS certificate; with the TLS private key file, it serves "
        "HTTPS",
    )
    http_tls_keyfile: str = Field(
        default="",
        max_length=4096,
        title="TLS private key (PEM file)",
        description="The certificate's private key, without a passphrase",
        validate_default=True,  # its check covers the address and the certificate too
    )

    @field_validator("http_address")
    @classmethod
    def _an_address(cls, text: str) -> str:
        text = text.strip()
        if text:
            try:
                parse_address(text)
            except QueueError as exc:
                raise ValueError(str(exc)) from None
        return text

    @field_validator("http_tls_keyfile")
    @classmethod
    def _tls_where_needed(cls, keyfile: str, info: ValidationInfo) -> str:
        # Checked on the last of the three fields (the address and the certificate come first).
        keyfile = keyfile.strip()
        cert = str(info.data.get("http_tls_cert", "")).strip()
        if bool(cert) != bool(keyfile):
            raise ValueError("HTTPS needs both the TLS certificate and its private key file")
        address = str(info.data.get("http_address", ""))
        if address:
            host, _port = parse_address(address)
            try:
                check_bind(host, bool(cert))
            except QueueError:
                raise ValueError(
                    f"the web API on {host} needs TLS: give the certificate and this private "
                    "key file, or use 127.0.0.1"
                ) from None
        return keyfile

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


FamilyModels = Mapping[str, type[BaseModel]]
"""Each family's settings model by family name (`family_settings(registry)`)."""


def family_settings(registry: ExecutorRegistry) -> dict[str, type[BaseModel]]:
    """The settings model of each family `registry` holds that has one, by family name, in
    registration order: what the store, `qtqueue config`, the API and the window's settings
    pages know of. A family's fields reach its executors through `RunContext.settings` under
    their own names."""
    return {f.name: f.settings_model for f in registry.families() if f.settings_model is not None}


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
    data_dir: os.PathLike[str] | str, families: FamilyModels | None = None
) -> Settings:
    """The settings saved in the store of `data_dir`, read before an engine opens it (only
    the fields that were set; see the module docstring). `families`: the family settings
    models to read (default: those of the families a default registry loads, which is what a
    `TaskQueue` given no registry runs)."""
    if families is None:
        families = family_settings(default_registry())
    keys = [ENGINE_KEY, *(family_key(n) for n in families)]
    return _from_stored(peek_meta(Path(data_dir) / DB_NAME, keys), families)


async def load_settings(store: MetaStore, families: FamilyModels) -> Settings:
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
    for name in WEB_API_FIELDS & chosen:
        queue.web_api[name] = getattr(engine, name)
    for model in settings.families.values():
        for name in model.model_fields_set:
            value = getattr(model, name)
            if value in (None, ""):
                queue.executor_settings.pop(name, None)
            else:
                queue.executor_settings[name] = value


def apply_saved_settings(queue: TaskQueue) -> Settings:
    """Give `queue` the settings saved in its data directory's store, engine and those of the
    families in its registry (a composition root, before `start()`); returns them."""
    settings = saved_settings(queue.data_dir, family_settings(queue.registry))
    apply_settings(queue, settings)
    return settings


def current_settings(queue: TaskQueue, families: FamilyModels | None = None) -> Settings:
    """The values the running queue uses now, every field (families' from its executor
    settings, defaults where it has none); `families` defaults to those of `queue.registry`."""
    if families is None:
        families = family_settings(queue.registry)
    retention = queue.retention_s
    engine = EngineSettings.model_construct(
        max_concurrent=queue.max_concurrent,
        category_limits=dict(queue.category_limits),
        retention_days=0.0 if retention is None else retention / DAY_S,
        log_cap_mb=max(1, round(queue.log_cap_bytes / MB)),
        shutdown_policy=ShutdownPolicy(queue.shutdown_policy),
        http_address=queue.web_api.get("http_address", ""),
        http_tls_cert=queue.web_api.get("http_tls_cert", ""),
        http_tls_keyfile=queue.web_api.get("http_tls_keyfile", ""),
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
    models: FamilyModels,
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
        problems = [
            f"{'.'.join([where] * bool(where) + [str(p) for p in e['loc']]) or 'settings'}: "
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
