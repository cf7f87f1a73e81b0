"""VAST_SEARCH: the offers matching GPU model, count, price, reliability and disk."""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from pydantic import Field

from qtqueue.core.task import TaskStatus, TaskType
from qtqueue.executors.base import Executor, RunContext
from qtqueue.families.vast.client import vast_api
from qtqueue.families.vast.params import OfferFilters, Order, keyring_field, offer_query, table

logger = logging.getLogger(__name__)

__all__ = ["OFFER_COLUMNS", "SearchParams", "VastSearchExecutor", "offer_summary"]

#: The offer table of the log: (field, heading).
OFFER_COLUMNS = (
    ("id", "offer"),
    ("gpu_name", "gpu"),
    ("num_gpus", "n"),
    ("dph_total", "$/hour"),
    ("reliability", "reliability"),
    ("disk_space", "disk GB"),
    ("gpu_ram", "VRAM MB"),
    ("geolocation", "where"),
)


class SearchParams(OfferFilters):
    order: Order = Field(
        "price", description="Order: price (cheapest first), score, reliability or gpus"
    )
    disk_gb: float = Field(
        10.0, gt=0, description="Disk to price the offers with, in GB (the price includes it)"
    )
    limit: int = Field(20, ge=1, le=500, description="At most this many offers")
    keyring_name: str | None = keyring_field()


def offer_summary(offer: dict[str, Any]) -> dict[str, Any]:
    """The fields of an offer a result keeps."""
    return {key: offer.get(key) for key, _ in OFFER_COLUMNS} | {
        "machine_id": offer.get("machine_id"),
        "cuda_max_good": offer.get("cuda_max_good"),
    }


class VastSearchExecutor(Executor[SearchParams]):
    """Searches Vast.ai's offers: the result lists them, the log shows them as a table."""

    task_type: ClassVar[TaskType] = TaskType.VAST_SEARCH
    params_model = SearchParams
    summary = "Search Vast.ai GPU offers (model, count, price, reliability, disk)"

    async def run(self, ctx: RunContext[SearchParams]) -> dict[str, Any] | None:
        p = ctx.params
        ctx.phase(TaskStatus.VALIDATING)
        async with vast_api(ctx, p.keyring_name) as api:
            ctx.phase(TaskStatus.RUNNING)
            ctx.progress(10, "searching offers")
            query = offer_query(p, storage_gb=p.disk_gb, limit=p.limit, order=p.order)
            offers = await api.offers(query, "searching offers")
        found = [offer_summary(o) for o in offers]
        ctx.log(f"{len(found)} offer(s):")
        for line in table(found, OFFER_COLUMNS):
            ctx.log(line)
        ctx.progress(100, f"{len(found)} offer(s)")
        return {"count": len(found), "offers": found}
