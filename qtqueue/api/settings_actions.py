"""The local API's settings actions: `config_get` and `config_set` over the engine's settings.

Both answer `{"engine": {...}, "families": {name: {...}}}` (`messages.SettingsReply`): every
field of `EngineSettings` and of the settings model of each family in the engine's registry
(`Family.settings_model`), as the running engine uses them now. `config_set` takes the fields
to change (`{"engine": {"max_concurrent": 2}, "families": {"docker": {...}}}`), checks them
through the models (QueueError VALIDATION_INVALID_PARAMS naming each bad field as
`engine.<field>` or `<family>.<field>`), saves them in the store and applies them to the
running engine at once. `queue_actions` gives them in the `(queue, params)` form of
`qtqueue.api.actions.ACTIONS`, as the schedule actions are.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import Field

from qtqueue.api.messages import SettingsReply
from qtqueue.api.params import NoParams, Params, parse_params
from qtqueue.engine.queue import TaskQueue
from qtqueue.settings import (
    Settings,
    apply_settings,
    changed_settings,
    current_settings,
    family_settings,
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
    return SettingsReply.of(current_settings(queue)).dump()


async def config_set(queue: TaskQueue, params: dict[str, Any]) -> dict[str, Any]:
    """Change, save and apply settings; returns them all as `config_get` does."""
    p = parse_params(SetConfigParams, "config_set", params)
    models = family_settings(queue.registry)
    saved = await load_settings(queue.store, models)
    changed = changed_settings(saved, p.engine, p.families, models)
    await save_settings(queue.store, changed)
    # Only what this request names is applied: a value the engine was started with for this
    # run (`qtqueue run --max-concurrent 8`) stays until someone changes that very setting.
    apply_settings(queue, _only_given(changed, p))
    names = [f"engine.{k}" for k in p.engine] + [
        f"{family}.{k}" for family, values in p.families.items() for k in values
    ]
    logger.info("settings changed: %s", ", ".join(names) or "nothing")  # names only: no values
    return SettingsReply.of(current_settings(queue)).dump()


def _only_given(changed: Settings, p: SetConfigParams) -> Settings:
    """`changed` reduced to the fields the request set (the models' fields_set say which)."""
    # Constructed, not validated again: `changed` was checked whole, and a rule over several
    # fields (the web API's address and its TLS pair) does not hold for a part of them.
    engine = type(changed.engine).model_construct(
        set(p.engine), **{k: getattr(changed.engine, k) for k in p.engine}
    )
    families = {
        name: type(changed.families[name]).model_construct(
            set(values), **{k: getattr(changed.families[name], k) for k in values}
        )
        for name, values in p.families.items()
    }
    return Settings(engine, families)


def queue_actions() -> dict[str, QueueAction]:
    """The settings actions by name, for `ACTIONS`."""
    return {"config_get": config_get, "config_set": config_set}
