"""The engine's settings as the facade shows them: limits and retention, read and changed.

A mixin of `TaskQueue` (it reads the parts the facade composes: the shared state, the slots,
the dispatcher and retention), kept apart so that the facade stays a short list of requests.
"""

from __future__ import annotations

import logging
from typing import Any

from qtqueue.engine.alerts import Alerts
from qtqueue.engine.dispatch import Dispatcher, Slots
from qtqueue.engine.retention import Retention
from qtqueue.engine.state import EngineState

logger = logging.getLogger(__name__)


class QueueSettings:
    """Concurrency limits, the log cap and retention of a `TaskQueue`."""

    state: EngineState
    slots: Slots
    dispatcher: Dispatcher
    retention: Retention
    alerts: Alerts

    @property
    def dispatching(self) -> bool:
        """Whether this queue runs tasks (False: it only opens the store)."""
        return self.state.dispatching

    @property
    def web_api(self) -> dict[str, str]:
        """The web API's settings (`http_address`, `http_tls_cert`, `http_tls_keyfile`),
        changed in place; whoever serves the HTTP API reads them when it starts."""
        return self.state.web_api

    @property
    def log_cap_bytes(self) -> int:
        """How much of each task's log is kept (a change applies to attempts started later)."""
        return self.state.log_cap_bytes

    @log_cap_bytes.setter
    def log_cap_bytes(self, value: int) -> None:
        self.state.log_cap_bytes = value

    @property
    def max_concurrent(self) -> int:
        """How many tasks run at once at most."""
        return self.slots.max_concurrent

    @property
    def category_limits(self) -> dict[str, int]:
        """How many tasks of each limited category run at once at most."""
        return self.slots.category_limits

    @property
    def retention_s(self) -> float | None:
        """How long finished tasks are kept (None: for ever)."""
        return self.retention.retention_s

    def set_max_concurrent(self, n: int) -> None:
        """Change the global concurrency limit now."""
        self.dispatcher.set_max_concurrent(n)

    def set_category_limit(self, category: str, limit: int | None) -> None:
        """Limit how many tasks of one category run at once (None: no limit)."""
        self.dispatcher.set_category_limit(category, limit)

    def set_retention(self, retention_s: float | None) -> None:
        """Keep finished tasks this many seconds (None: for ever), from now on."""
        self.retention.set_retention(retention_s)

    def queue_depths(self) -> dict[str, tuple[int, int]]:
        """How many tasks of each named queue wait and run now: counts kept as tasks change
        (cheap at any size, unlike `list_queues`, which counts the unfinished tasks)."""
        running = self.slots.queue_running
        return {name: (self.alerts.depth[name], running[name]) for name in self.state.queues}

    async def set_queue(self, name: str, **settings: Any) -> dict[str, Any]:
        """Create a named queue, or change its settings (`concurrency`, `timeout_s`, `max_retries`,
        `result_ttl_s`, `failure_ttl_s`, `max_length`, `notify_webhook`, `alert_depth`; None:
        none). Persisted; limits apply at once, defaults to new tasks. As `list_queues` shows it."""
        shown = await self.dispatcher.set_queue(name, settings)
        self.retention.restart()
        return shown
