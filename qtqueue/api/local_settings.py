"""`LocalSettings`: the engine settings port (`qtqueue.api.port.EngineSettingsPort`) of an
engine in this process: read live from the `TaskQueue`, applied to it, saved in its store."""

from __future__ import annotations

import logging
from collections.abc import Coroutine
from typing import Any

from qtqueue.engine.queue import TaskQueue
from qtqueue.settings import (
    Settings,
    apply_settings,
    current_settings,
    family_settings,
    load_settings,
    overlay,
    save_settings,
)

logger = logging.getLogger(__name__)

__all__ = ["LocalSettings"]


class LocalSettings:
    """The settings of `queue`, an engine this process runs."""

    def __init__(self, queue: TaskQueue) -> None:
        self.queue = queue

    def current(self) -> Settings:
        """The values the engine uses now, every field."""
        return current_settings(self.queue, family_settings(self.queue.registry))

    def change(self, edited: Settings) -> Coroutine[Any, Any, None]:
        """Apply the fields set in `edited` at once (before this returns), then save them over
        what the store holds (a field saved there and not edited, e.g. by `qtqueue config
        set`, keeps its value) when the coroutine returned is awaited."""
        apply_settings(self.queue, edited)
        return self._save(edited)

    async def _save(self, edited: Settings) -> None:
        models = family_settings(self.queue.registry)
        saved = await load_settings(self.queue.store, models)
        await save_settings(self.queue.store, overlay(saved, edited))
