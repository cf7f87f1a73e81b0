"""`Executor[P]` and `RunContext[P]`: an executor names its params model once and gets it,
typed, with its family's settings model, from a real engine; a class whose declared params
type and `params_model` disagree is refused when it is made."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import pytest
from pydantic import BaseModel, Field

from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.core.task import Task, TaskStatus
from qtqueue.engine.queue import TaskQueue
from qtqueue.executors import ExecutorRegistry
from qtqueue.executors.base import Executor, Params, RunContext


class _CountParams(Params):
    times: int = Field(2, ge=1)


class _CountSettings(BaseModel):
    """A family's settings model: its own fields, with defaults."""

    model_config = {"extra": "forbid"}

    word: str = "tick"
    spacing: int = 1


class _CountExecutor(Executor[_CountParams]):
    """Names its params model once, in `Executor[...]`."""

    task_type: ClassVar[str] = "count_words"

    async def run(self, ctx: RunContext[_CountParams]) -> dict[str, Any] | None:
        settings = ctx.family_settings(_CountSettings)
        sep = " " * settings.spacing
        return {"said": sep.join([settings.word] * ctx.params.times)}


async def _said(data_dir: Path, executor_settings: dict[str, Any], times: int) -> str:
    registry = ExecutorRegistry()
    registry.register(_CountExecutor())
    async with TaskQueue(data_dir, registry=registry, executor_settings=executor_settings) as queue:
        task_id = await queue.add_task(Task(task_type="count_words", params={"times": times}))
        done = await queue.wait_for(task_id, timeout_s=30)
    assert done.status == TaskStatus.COMPLETED, done.error
    assert done.result is not None
    return str(done.result["said"])


async def test_an_executor_reads_its_typed_params_and_its_family_settings_model(
    data_dir: Path,
) -> None:
    """The settings for executors hold every family's fields by name; `family_settings`
    gives an executor its own model of them (other families' fields left out), with its
    defaults for what the user did not set."""
    said = await _said(data_dir, {"word": "tock", "docker_host": "tcp://elsewhere:2375"}, 3)
    assert said == "tock tock tock"


async def test_unset_family_settings_take_the_model_defaults(data_dir: Path) -> None:
    assert await _said(data_dir, {}, 2) == "tick tick"


async def test_params_named_once_in_the_class_statement_are_checked_when_a_task_is_added(
    queue: TaskQueue,
) -> None:
    """`Executor[_CountParams]` alone makes `_CountParams` the model `add_task` checks with,
    and the schema forms and `qtqueue types` show."""
    queue.register_executor(_CountExecutor())
    with pytest.raises(QueueError) as refused:
        await queue.add_task(Task(task_type="count_words", params={"times": 0}))
    assert refused.value.code == TaskErrorCode.VALIDATION_INVALID_PARAMS
    assert "times" in refused.value.message
    assert _CountExecutor().schema()["properties"]["times"]["default"] == 2


def test_an_executor_whose_params_model_is_not_its_declared_params_type_is_refused() -> None:
    """`Executor[X]` with `params_model = Y` (Y not an X) would hand `run` a Y typed as an X:
    the class is refused when it is made, naming both."""

    class _Other(Params):
        name: str = ""

    with pytest.raises(TypeError, match=r"params_model _Other is not the _CountParams"):

        class _Mismatched(Executor[_CountParams]):
            task_type: ClassVar[str] = "mismatched"
            params_model = _Other

            async def run(self, ctx: RunContext[_CountParams]) -> dict[str, Any] | None:
                return None
