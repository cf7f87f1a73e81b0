"""The window's preferences in `QSettings`, and the dialog's view of every setting.

The engine's settings (tasks at once, category limits, retention, log cap, shutdown policy)
are `qtqueue.settings.EngineSettings`, and each family's (the Docker host) its `Family`'s
`settings_model`, found through the engine's registry; both are kept in the engine's store,
so that `qtqueue run` and the CLI use them too. `QSettings` keeps only what belongs to this
window, under the `app/` group:

- `app/notifications` (`all` / `failures` / `none`, default `all`): tray messages.
- `app/closeToTray` (bool, default false): closing the window hides it to the tray.
- `app/confirmCancel`, `app/confirmRemove` (bool, default true): Cancel and Remove ask first
  (their question's "Don't ask again" turns one off; the settings dialog turns it back on).
- `app/theme` (`system` / `light` / `dark`, default `system`): the colours (`ui/theme.py`).
- `app/fontSize` (points, 0 = the system's, default 0): the application's font size.
- `cluster/url`, `cluster/caFile`: the saved cluster connection (`ui/cluster_settings.py`):
  a Redis URL without a password (that is in the OS keyring) and a CA file for rediss://.

Earlier versions kept the engine's settings in `QSettings` too (`app/maxConcurrent`,
`app/categoryLimits`, `app/retentionDays`, `app/logCapMb`, `app/shutdownPolicy`,
`app/dockerHost`). `start_engine` moves those into the store at the first start and removes
them here (a value the store already holds wins).

Engine settings that were never saved are not applied: the queue keeps what it was built
with (so `create_main_window(max_concurrent=...)` still means what it says).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

from pydantic import BaseModel, ValidationError
from PySide6.QtCore import QSettings

from qtqueue.core.errors import QueueError
from qtqueue.engine.logs import DEFAULT_LOG_CAP_BYTES
from qtqueue.engine.queue import DEFAULT_RETENTION_S, ShutdownPolicy
from qtqueue.settings import (
    EngineSettings,
    FamilyModels,
    Settings,
    checked,
)
from qtqueue.ui.theme import (
    KEY_FONT_SIZE,
    KEY_THEME,
    MAX_FONT_PT,
    MIN_FONT_PT,
    ThemeMode,
    saved_font_size,
    saved_theme,
)

logger = logging.getLogger(__name__)

E = TypeVar("E", bound=StrEnum)

MB = 1024 * 1024
DAY_S = 86400.0

KEY_MAX_CONCURRENT = "app/maxConcurrent"
KEY_CATEGORY_LIMITS = "app/categoryLimits"
KEY_RETENTION_DAYS = "app/retentionDays"
KEY_NOTIFICATIONS = "app/notifications"
KEY_LOG_CAP_MB = "app/logCapMb"
KEY_CLOSE_TO_TRAY = "app/closeToTray"
KEY_SHUTDOWN_POLICY = "app/shutdownPolicy"
KEY_DOCKER_HOST = "app/dockerHost"
KEY_CONFIRM_CANCEL = "app/confirmCancel"
KEY_CONFIRM_REMOVE = "app/confirmRemove"
KEY_CLUSTER_URL = "cluster/url"
KEY_CLUSTER_CA = "cluster/caFile"
#: The task actions that ask before acting, and the key that says whether they do.
CONFIRM_KEYS = {"cancel": KEY_CONFIRM_CANCEL, "remove": KEY_CONFIRM_REMOVE}
#: Where earlier versions kept each engine setting (moved into the store by `start_engine`).
LEGACY_ENGINE_KEYS = {
    "max_concurrent": KEY_MAX_CONCURRENT,
    "category_limits": KEY_CATEGORY_LIMITS,
    "retention_days": KEY_RETENTION_DAYS,
    "log_cap_mb": KEY_LOG_CAP_MB,
    "shutdown_policy": KEY_SHUTDOWN_POLICY,
}


class NotificationMode(StrEnum):
    """Which finished tasks make a tray message."""

    ALL = "all"
    FAILURES = "failures"
    NONE = "none"


@dataclass(slots=True)
class AppConfig:
    """One complete set of the settings (what the dialog edits)."""

    #: Tasks running at once (≥ 1).
    max_concurrent: int = 4
    #: Category → at most this many of its tasks at once (each ≥ 1).
    category_limits: dict[str, int] = field(default_factory=dict)
    #: Finished tasks are deleted after this many days; 0 keeps them for ever.
    retention_days: float = DEFAULT_RETENTION_S / DAY_S
    #: Which finished tasks make a tray message.
    notifications: NotificationMode = NotificationMode.ALL
    #: Each task's log is capped at this many MiB.
    log_cap_mb: int = DEFAULT_LOG_CAP_BYTES // MB
    #: Closing the window hides it to the tray (when there is one).
    close_to_tray: bool = False
    #: What running tasks do when the application quits.
    shutdown_policy: ShutdownPolicy = ShutdownPolicy.REQUEUE
    #: Where the engine serves its web API (HOST:PORT; "": off) and its TLS files.
    http_address: str = ""
    http_tls_cert: str = ""
    http_tls_keyfile: str = ""
    #: Each family's settings: family name → its settings model's field values.
    families: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Cancel asks before acting on the selected tasks.
    confirm_cancel: bool = True
    #: Remove asks before deleting the selected tasks.
    confirm_remove: bool = True
    #: Light, dark or the system's colours.
    theme: ThemeMode = ThemeMode.SYSTEM
    #: The application's font size in points (0: the system's).
    font_size: int = 0
    #: The settings model of each family in `families` (`family_settings(queue.registry)`).
    family_models: FamilyModels = field(default_factory=dict, compare=False, repr=False)

    def validate(self) -> dict[str, str]:
        """Problems by field name (empty when every value is acceptable)."""
        problems: dict[str, str] = {}
        if self.max_concurrent < 1:
            problems["max_concurrent"] = "must be at least 1"
        bad = [c for c, n in self.category_limits.items() if not c.strip() or n < 1]
        if bad:
            problems["category_limits"] = "each category needs a name and a limit of at least 1"
        if self.retention_days < 0:
            problems["retention_days"] = "cannot be negative"
        if self.log_cap_mb < 1:
            problems["log_cap_mb"] = "must be at least 1 MiB"
        if self.font_size and not MIN_FONT_PT <= self.font_size <= MAX_FONT_PT:
            problems["font_size"] = f"must be 0 (the system's) or {MIN_FONT_PT} to {MAX_FONT_PT}"
        for name, values in self.families.items():
            if name not in self.family_models:
                problems[name] = "no family of this name has settings"
                continue
            try:
                checked(self.family_models[name], values, name)
            except QueueError as exc:
                for problem in exc.details["fields"]:
                    where, _, why = str(problem).partition(": ")
                    problems[where] = why
        return problems

    @property
    def retention_s(self) -> float | None:
        """Retention in seconds (None: keep for ever)."""
        return self.retention_days * DAY_S if self.retention_days > 0 else None

    def engine_settings(self) -> Settings:
        """The engine's part, every field set (check `validate()` first)."""
        return Settings(
            EngineSettings(
                max_concurrent=self.max_concurrent,
                category_limits=self.category_limits,
                retention_days=self.retention_days,
                log_cap_mb=self.log_cap_mb,
                shutdown_policy=self.shutdown_policy,
                http_address=self.http_address,
                http_tls_cert=self.http_tls_cert,
                http_tls_keyfile=self.http_tls_keyfile,
            ),
            {n: checked(self.family_models[n], v) for n, v in self.families.items()},
        )


#: The settings of a fresh installation.
DEFAULTS = AppConfig()


class AppSettings:
    """Typed reads and writes of the settings in a `QSettings` (see the module's key table)."""

    def __init__(self, settings: QSettings) -> None:
        self.qsettings = settings

    def has(self, key: str) -> bool:
        return self.qsettings.contains(key)

    def _int(self, key: str, default: int) -> int:
        try:
            return int(str(self.qsettings.value(key, default)))
        except (TypeError, ValueError):
            logger.warning("ignoring the setting %s: not a whole number", key)
            return default

    def _float(self, key: str, default: float) -> float:
        try:
            return float(str(self.qsettings.value(key, default)))
        except (TypeError, ValueError):
            logger.warning("ignoring the setting %s: not a number", key)
            return default

    def _choice(self, key: str, enum: type[E], default: E) -> E:
        try:
            return enum(str(self.qsettings.value(key, default.value)))
        except ValueError:
            logger.warning("ignoring the setting %s: not one of %s", key, [e.value for e in enum])
            return default

    @property
    def max_concurrent(self) -> int:
        return max(1, self._int(KEY_MAX_CONCURRENT, DEFAULTS.max_concurrent))

    @property
    def category_limits(self) -> dict[str, int]:
        raw = self.qsettings.value(KEY_CATEGORY_LIMITS, "{}")
        try:
            data = json.loads(str(raw))
            return {str(c): int(n) for c, n in data.items() if int(n) >= 1}
        except (ValueError, TypeError, AttributeError):
            logger.warning(
                "ignoring the setting %s: not a JSON object of limits", KEY_CATEGORY_LIMITS
            )
            return {}

    @property
    def retention_days(self) -> float:
        return max(0.0, self._float(KEY_RETENTION_DAYS, DEFAULTS.retention_days))

    @property
    def notifications(self) -> NotificationMode:
        return self._choice(KEY_NOTIFICATIONS, NotificationMode, DEFAULTS.notifications)

    @property
    def log_cap_mb(self) -> int:
        return max(1, self._int(KEY_LOG_CAP_MB, DEFAULTS.log_cap_mb))

    def _bool(self, key: str, default: bool) -> bool:
        value = self.qsettings.value(key, default)
        return value is True or str(value).lower() in ("true", "1")

    @property
    def close_to_tray(self) -> bool:
        return self._bool(KEY_CLOSE_TO_TRAY, DEFAULTS.close_to_tray)

    @property
    def theme(self) -> ThemeMode:
        return saved_theme(self.qsettings)

    @property
    def font_size(self) -> int:
        return saved_font_size(self.qsettings)

    def asks_before(self, action: str) -> bool:
        """Whether `action` (a key of CONFIRM_KEYS) asks before acting."""
        return self._bool(CONFIRM_KEYS[action], True)

    def stop_asking_before(self, action: str) -> None:
        """ "Don't ask again" was ticked for `action` (a key of CONFIRM_KEYS)."""
        self.qsettings.setValue(CONFIRM_KEYS[action], False)
        self.qsettings.sync()

    @property
    def shutdown_policy(self) -> ShutdownPolicy:
        return self._choice(KEY_SHUTDOWN_POLICY, ShutdownPolicy, DEFAULTS.shutdown_policy)

    @property
    def docker_host(self) -> str:
        return str(self.qsettings.value(KEY_DOCKER_HOST, "") or "").strip()

    @property
    def cluster_url(self) -> str:
        """The saved cluster's Redis URL ("": none)."""
        return str(self.qsettings.value(KEY_CLUSTER_URL, "") or "").strip()

    @property
    def cluster_ca_file(self) -> str:
        """The saved cluster's CA file for rediss:// ("": none)."""
        return str(self.qsettings.value(KEY_CLUSTER_CA, "") or "").strip()

    def save_cluster(self, url: str, ca_file: str) -> None:
        """Save the cluster connection (the URL holds no password: the caller checked it)."""
        self.qsettings.setValue(KEY_CLUSTER_URL, url)
        self.qsettings.setValue(KEY_CLUSTER_CA, ca_file)
        self.qsettings.sync()

    def cluster_connection_url(self) -> str | None:
        """The saved cluster's URL with its CA file (None: none saved)."""
        return connection_url(self.cluster_url, self.cluster_ca_file) or None

    def config_for(self, live: Settings, models: FamilyModels) -> AppConfig:
        """The current settings: engine values are the engine's live ones (`live`, as the
        engine settings port gives them); `models`: the families' settings models."""
        return AppConfig(
            max_concurrent=live.engine.max_concurrent,
            category_limits=dict(live.engine.category_limits),
            retention_days=live.engine.retention_days,
            notifications=self.notifications,
            log_cap_mb=live.engine.log_cap_mb,
            close_to_tray=self.close_to_tray,
            shutdown_policy=live.engine.shutdown_policy,
            http_address=live.engine.http_address,
            http_tls_cert=live.engine.http_tls_cert,
            http_tls_keyfile=live.engine.http_tls_keyfile,
            families={n: m.model_dump(mode="json") for n, m in live.families.items()},
            confirm_cancel=self.asks_before("cancel"),
            confirm_remove=self.asks_before("remove"),
            theme=self.theme,
            font_size=self.font_size,
            family_models=models,
        )

    def save(self, config: AppConfig) -> None:
        """Persist the window's preferences of `config` (raises ValueError if it does not
        validate); the engine's part goes to the store (`AppConfig.engine_settings`)."""
        problems = config.validate()
        if problems:
            raise ValueError(f"invalid settings: {problems}")
        s = self.qsettings
        s.setValue(KEY_NOTIFICATIONS, config.notifications.value)
        s.setValue(KEY_CLOSE_TO_TRAY, config.close_to_tray)
        s.setValue(KEY_CONFIRM_CANCEL, config.confirm_cancel)
        s.setValue(KEY_CONFIRM_REMOVE, config.confirm_remove)
        s.setValue(KEY_THEME, config.theme.value)
        s.setValue(KEY_FONT_SIZE, config.font_size)
        s.sync()

    def legacy_settings(self, models: FamilyModels) -> Settings:
        """The engine settings an earlier version saved here (only those it saved; a value
        the models refuse is left out, with a warning). `models`: the families' settings
        models (the Docker host, `app/dockerHost`, goes to the docker family's, if any)."""
        found: dict[str, object] = {}
        for name, key in LEGACY_ENGINE_KEYS.items():
            if not self.has(key):
                continue
            value = getattr(self, name)  # each field has its typed reader of the same name
            try:
                EngineSettings.model_validate({name: value})
            except ValidationError as exc:
                logger.warning("not moving the setting %s into the store: %s", key, _why(exc))
                continue
            found[name] = value
        families: dict[str, BaseModel] = {}
        if self.has(KEY_DOCKER_HOST) and "docker" in models:
            try:
                families["docker"] = models["docker"](docker_host=self.docker_host)
            except ValidationError as exc:
                logger.warning(
                    "not moving the setting %s into the store: %s", KEY_DOCKER_HOST, _why(exc)
                )
        return Settings(EngineSettings.model_validate(found), families)

    def forget_legacy(self) -> None:
        """Remove the engine settings an earlier version saved here."""
        for key in (*LEGACY_ENGINE_KEYS.values(), KEY_DOCKER_HOST):
            self.qsettings.remove(key)
        self.qsettings.sync()

    def shutdown_policy_if_saved(self) -> ShutdownPolicy | None:
        """A policy an earlier version saved here and not yet moved into the store, for
        `queue.close(policy)`; None: the queue's own (the store's, applied at start)."""
        return self.shutdown_policy if self.has(KEY_SHUTDOWN_POLICY) else None


def connection_url(url: str, ca_file: str) -> str:
    """`url` with the CA file as its `ssl_ca_certs` (for rediss:// only, when it names none)."""
    url, ca_file = url.strip(), ca_file.strip()
    parts = urlsplit(url)
    if not ca_file or parts.scheme != "rediss" or "ssl_ca_certs" in parse_qs(parts.query):
        return url
    return f"{url}{'&' if parts.query else '?'}ssl_ca_certs={ca_file}"


def _why(exc: ValidationError) -> str:
    """The fields a validation error names and the kind of each error, never the value (the
    text of a ValidationError quotes the input, which may hold a credential)."""
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'value'}: {e['type']}" for e in exc.errors()
    )
