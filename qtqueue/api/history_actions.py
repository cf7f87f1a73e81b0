"""The `history` action: the activity over time that the statistics tab charts.

`TaskQueue.get_history` over the API, so that a window attached to another process's engine
draws the same charts (`qtqueue.api.remote_engine`).
"""

from __future__ import annotations

import logging
from typing import Any

from pydantic import ConfigDict, Field, model_validator

from qtqueue.api.messages import Message
from qtqueue.api.params import Params, parse_params
from qtqueue.engine.queue import TaskQueue

logger = logging.getLogger(__name__)

__all__ = ["HISTORY_ACTIONS", "History", "HistoryParams", "history"]

_DAY_S = 86400.0
#: The most buckets one read may ask for (the charts draw a few hundred at most).
MAX_BUCKETS = 10_000


class HistoryParams(Params):
    """`history`: how far back, and how wide each bucket is (default: 60 buckets)."""

    since_s: float = Field(_DAY_S, gt=0, le=366 * _DAY_S, description="Seconds back from now")
    bucket_s: float | None = Field(None, gt=0, description="Seconds per bucket")

    @model_validator(mode="after")
    def _few_enough_buckets(self) -> HistoryParams:
        if self.bucket_s is not None and self.since_s / self.bucket_s > MAX_BUCKETS:
            raise ValueError(
                f"bucket_s: at most {MAX_BUCKETS} buckets (since_s / bucket_s); give a wider bucket"
            )
        return self


class History(Message):
    """`TaskQueue.get_history()`: buckets of outcomes, throughput and depth, and durations."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)


async def history(queue: TaskQueue, params: dict[str, Any]) -> dict[str, Any]:
    """Activity over the last `since_s` seconds in buckets of `bucket_s`."""
    p = parse_params(HistoryParams, "history", params)
    return History.model_validate(await queue.get_history(p.since_s, p.bucket_s)).dump()


#: The history read by action name.
HISTORY_ACTIONS = {"history": history}
