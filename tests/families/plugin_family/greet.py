"""`plugin_greet`: greets someone, or fails in one of the ways its errors.toml names."""

from __future__ import annotations

import logging
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, Field

from qtqueue.core.errors import QueueError
from qtqueue.executors.base import Executor, Params, RunContext

logger = logging.getLogger(__name__)


class GreetParams(Params):
    """Whom to greet, and how it should go."""

    who: str = Field(..., min_length=1, description="Whom to greet")
    outcome: Literal["greet", "refuse", "grumble"] = Field(
        "greet", description="greet; refuse (a coded failure); grumble (an uncoded one)"
    )


class GreetSettings(BaseModel):
    """The family's settings."""

    greeting: str = Field("Hello", description="The word a greeting starts with")


class GreetExecutor(Executor[GreetParams]):
    """Greets `who`."""

    task_type: ClassVar[str] = "plugin_greet"
    params_model = GreetParams
    summary = "Greet someone (a test plug-in)"

    async def run(self, ctx: RunContext[GreetParams]) -> dict[str, Any] | None:
        p = ctx.params
        if p.outcome == "refuse":
            raise QueueError("PLUGIN_GREETING_REFUSED", f"{p.who} does not want a greeting")
        if p.outcome == "grumble":
            # No code: the family's message rule gives it one.
            raise RuntimeError(f"the greeter is grumpy today and will not greet {p.who}")
        # The family's settings reach it as its own model, as the user saved them.
        word = ctx.family_settings(GreetSettings).greeting
        ctx.log(f"greeting {p.who}")
        ctx.progress(100, "greeted")
        return {"greeting": f"{word}, {p.who}!"}
