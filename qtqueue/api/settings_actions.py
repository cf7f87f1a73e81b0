"""The local API's settings actions: `config_get` and `config_set` over the engine's settings.

Both answer `{"engine": {...}, "families": {name: {...}}}`: every field of `EngineSettings`
and of each family's settings model, as the running engine uses them now. `config_set` takes
the fields to change (`{"engine": {"max_concurrent": 2}, "families": {"docker": {...}}}`),
checks them through the models (QueueError VALIDATION_INVALID_PARAMS naming each bad field as
`engine.<field>` or `<family>.<field>`), saves them in the store and applies them to the
running engine at once. `queue_actions` gives them in the `(queue, params)` form of
`qtqueue.api.actions.ACTIONS`, as the schedule actions are.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import Field

from qtqueue.api.params import NoParams, Params, parse_params
from qtqueue.engine.queue import TaskQueue
from qtqueue.settings import (
    apply_settings,
    changed_settings,
    current_settings,
    load_settings,
    save_settings,
)

logger = logging.getLogger(__name__)

__all__ = ["SetConfigParams", "config_get", "config_set", "queue_actions"]

QueueAction = Callable[[TaskQueue, dict[str, Any]], Awaitable[dict[str, Any]]]


class SetConfigParams(Params):
    """`config_set`: only the fields given change."""

    engine: dict[str, Any] = Field(
        default_factory=dict, description="EngineSettings fields to change"
    )
    families: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="Family name → its settings fields to change"
    )


async def config_get(queue: TaskQueue, params: dict[str, Any]) -> dict[str, Any]:
    """Every setting as the engine uses it now."""
    parse_params(NoParams, "config_get", params)
    return current_settings(queue).to_dict()


async def config_set(queue: TaskQueue, params: dict[str, Any]) -> dict[str, Any]:
    """Change, save and apply settings; returns them all as `config_get` does."""
    p = parse_params(SetConfigParams, "config_set", params)
    changed = changed_settings(await load_settings(queue.store), p.engine, p.families)
    await save_settings(queue.store, changed)
    apply_settings(queue, changed)
    logger.info("settings changed: engine %s, families %s", p.engine, p.families)
    return current_settings(queue).to_dict()


def queue_actions() -> dict[str, QueueAction]:
    """The settings actions by name, for `ACTIONS`."""
    return {"config_get": config_get, "config_set": config_set}
