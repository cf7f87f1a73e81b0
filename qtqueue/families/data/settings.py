"""The data family's settings: how much memory and how many threads duckdb may use, and the
largest input a task accepts."""

from __future__ import annotations

import logging

from pydantic import BaseModel, ConfigDict, Field

logger = logging.getLogger(__name__)

__all__ = ["DataSettings"]


class DataSettings(BaseModel):
    """Settings every data task reads at run time (`RunContext.family_settings`)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    data_memory_limit_mb: int = Field(
        default=256,
        ge=64,
        le=1_048_576,
        title="Memory limit (MB)",
        description="duckdb's memory limit per task: larger work spills to a temporary folder, "
        "so a file of any size is processed within it",
    )
    data_threads: int = Field(
        default=2,
        ge=1,
        le=256,
        title="Threads",
        description="Threads duckdb uses per task",
    )
    data_max_input_mb: float = Field(
        default=0,
        ge=0,
        title="Largest input (MB)",
        description="Inputs larger than this, together, fail with DATA_SIZE_TOO_LARGE; 0: no limit "
        "(a task's own max_input_mb overrides it)",
    )
    data_preview_rows: int = Field(
        default=100,
        ge=0,
        le=10_000,
        title="Rows in a result",
        description="How many rows a process task without an output file returns in its result",
    )
