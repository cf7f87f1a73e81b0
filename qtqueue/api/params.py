"""What every JSON action's params model shares: unknown keys refused, one way to parse.

`Params` is the executors' own base (`qtqueue.executors.base.Params`), one class for both."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from qtqueue.executors.base import Params, validation_error

__all__ = ["NoParams", "Params", "parse_params"]

_M = TypeVar("_M", bound=BaseModel)


class NoParams(Params):
    """The params of an action that takes none (so that any key given is refused)."""


def parse_params(model: type[_M], action: str, params: Mapping[str, Any]) -> _M:
    """`params` as `model`, or VALIDATION_INVALID_PARAMS naming the action and the fields."""
    try:
        return model.model_validate(params)
    except ValidationError as exc:
        raise validation_error(f"action {action}", exc) from None
