"""The user's application settings: a small typed wrapper over `QSettings`.

Keys (all under the `app/` group of the window's QSettings):

- `app/maxConcurrent` (int ≥ 1, default 4): tasks running at once.
- `app/categoryLimits` (JSON object, default `{}`): category → its tasks running at once.
- `app/retentionDays` (float ≥ 0, default 30): finished tasks kept this long; 0 keeps them.
- `app/notifications` (`all` / `failures` / `none`, default `all`): tray messages.
- `app/logCapMb` (int ≥ 1, default 10): each task's log is capped at this many MiB.
- `app/closeToTray` (bool, default false): closing the window hides it to the tray.
- `app/shutdownPolicy` (`wait` / `requeue` / `cancel`, default `requeue`): running tasks
  when the application quits.
- `app/dockerHost` (text, default empty): the Docker daemon of Docker tasks that name none
  (empty: $DOCKER_HOST, else the local socket).
- `app/confirmCancel`, `app/confirmRemove` (bool, default true): Cancel and Remove ask first
  (their question's "Don't ask again" turns one off; the settings dialog turns it back on).

Engine settings that were never saved are not applied: the queue keeps what it was built
with (so `create_main_window(max_concurrent=...)` still means what it says).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TypeVar

from PySide6.QtCore import QSettings

from qtqueue.engine.logs import DEFAULT_LOG_CAP_BYTES
from qtqueue.engine.queue import DEFAULT_RETENTION_S, ShutdownPolicy, TaskQueue
from qtqueue.settings import apply_category_limits

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
#: The task actions that ask before acting, and the key that says whether they do.
CONFIRM_KEYS = {"cancel": KEY_CONFIRM_CANCEL, "remove": KEY_CONFIRM_REMOVE}
#: URL schemes the docker SDK accepts for a daemon.
DOCKER_HOST_SCHEMES = ("unix://", "tcp://", "ssh://", "npipe://", "http://", "https://")


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
    #: The Docker daemon of Docker tasks that name none ("": $DOCKER_HOST or the socket).
    docker_host: str = ""
    #: Cancel asks before acting on the selected tasks.
    confirm_cancel: bool = True
    #: Remove asks before deleting the selected tasks.
    confirm_remove: bool = True

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
        host = self.docker_host.strip()
        if host and (not host.startswith(DOCKER_HOST_SCHEMES) or host in DOCKER_HOST_SCHEMES):
            problems["docker_host"] = (
                "must be a daemon URL such as unix:///var/run/docker.sock or tcp://host:2375"
            )
        return problems

    @property
    def retention_s(self) -> float | None:
        return self.retention_days * DAY_S if self.retention_days > 0 else None


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
            logger.warning("ignoring the setting %s: not a JSON object of limits", raw)
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

    def asks_before(self, action: str) -> bool:
        """Whether `action` (a key of CONFIRM_KEYS) asks before acting."""
        return self._bool(CONFIRM_KEYS[action], True)

    def stop_asking_before(self, action: str) -> None:
        """"Don't ask again" was ticked for `action` (a key of CONFIRM_KEYS)."""
        self.qsettings.setValue(CONFIRM_KEYS[action], False)
        self.qsettings.sync()

    @property
    def shutdown_policy(self) -> ShutdownPolicy:
        return self._choice(KEY_SHUTDOWN_POLICY, ShutdownPolicy, DEFAULTS.shutdown_policy)

    @property
    def docker_host(self) -> str:
        return str(self.qsettings.value(KEY_DOCKER_HOST, "") or "").strip()

    def config_for(self, queue: TaskQueue) -> AppConfig:
        """The current settings; engine values are the queue's live ones."""
        retention = queue.retention_s
        return AppConfig(
            max_concurrent=queue.max_concurrent,
            category_limits=dict(queue.category_limits),
            retention_days=0.0 if retention is None else retention / DAY_S,
            notifications=self.notifications,
            log_cap_mb=max(1, round(queue.log_cap_bytes / MB)),
            close_to_tray=self.close_to_tray,
            shutdown_policy=self.shutdown_policy,
            docker_host=str(queue.executor_settings.get("docker_host") or ""),
            confirm_cancel=self.asks_before("cancel"),
            confirm_remove=self.asks_before("remove"),
        )

    def save(self, config: AppConfig) -> None:
        """Persist every field of `config` (raises ValueError if it does not validate)."""
        problems = config.validate()
        if problems:
            raise ValueError(f"invalid settings: {problems}")
        s = self.qsettings
        s.setValue(KEY_MAX_CONCURRENT, config.max_concurrent)
        s.setValue(KEY_CATEGORY_LIMITS, json.dumps(config.category_limits, sort_keys=True))
        s.setValue(KEY_RETENTION_DAYS, config.retention_days)
        s.setValue(KEY_NOTIFICATIONS, config.notifications.value)
        s.setValue(KEY_LOG_CAP_MB, config.log_cap_mb)
        s.setValue(KEY_CLOSE_TO_TRAY, config.close_to_tray)
        s.setValue(KEY_SHUTDOWN_POLICY, config.shutdown_policy.value)
        s.setValue(KEY_DOCKER_HOST, config.docker_host.strip())
        s.setValue(KEY_CONFIRM_CANCEL, config.confirm_cancel)
        s.setValue(KEY_CONFIRM_REMOVE, config.confirm_remove)
        s.sync()

    def apply_saved(self, queue: TaskQueue) -> None:
        """Give the queue the engine settings that were saved (at start, before dispatching)."""
        if self.has(KEY_MAX_CONCURRENT):
            queue.set_max_concurrent(self.max_concurrent)
        if self.has(KEY_CATEGORY_LIMITS):
            apply_category_limits(queue, self.category_limits)
        if self.has(KEY_RETENTION_DAYS):
            days = self.retention_days
            queue.set_retention(days * DAY_S if days > 0 else None)
        if self.has(KEY_LOG_CAP_MB):
            queue.log_cap_bytes = self.log_cap_mb * MB
        if self.docker_host:
            queue.executor_settings["docker_host"] = self.docker_host

    def shutdown_policy_if_saved(self) -> ShutdownPolicy | None:
        """The saved policy for `queue.close(policy)`; None: the queue's own."""
        return self.shutdown_policy if self.has(KEY_SHUTDOWN_POLICY) else None


def apply_config(queue: TaskQueue, config: AppConfig) -> None:
    """Apply the engine part of `config` to the running queue, live."""
    queue.set_max_concurrent(config.max_concurrent)
    apply_category_limits(queue, config.category_limits)
    queue.set_retention(config.retention_s)
    queue.log_cap_bytes = config.log_cap_mb * MB
    if config.docker_host.strip():
        queue.executor_settings["docker_host"] = config.docker_host.strip()
    else:
        queue.executor_settings.pop("docker_host", None)
