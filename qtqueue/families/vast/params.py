"""What every Vast.ai params model shares: the key's keyring entry, the offer filters and the
search query they become, and the tables the log shows."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

from pydantic import Field

from qtqueue.executors.base import Params

logger = logging.getLogger(__name__)

__all__ = ["ORDERS", "OfferFilters", "Order", "keyring_field", "offer_query", "table"]

#: How offers can be ordered: the API's [column, direction].
ORDERS: dict[str, list[str]] = {
    "price": ["dph_total", "asc"],
    "score": ["score", "desc"],
    "reliability": ["reliability", "desc"],
    "gpus": ["num_gpus", "desc"],
}
Order = Literal["price", "score", "reliability", "gpus"]


def keyring_field() -> Any:
    """The `keyring_name` field every Vast.ai params model ends with."""
    return Field(
        None,
        description="Entry of qtqueue's Credentials (the OS keyring) holding the Vast.ai API key "
        "(default: the vast_keyring_name setting, vast_api_key)",
    )


class OfferFilters(Params):
    """Which offers qualify (a search, or a create that rents the cheapest match)."""

    gpu_name: str | None = Field(
        None, description='GPU model as Vast.ai names it, e.g. "RTX 4090" (default: any)'
    )
    num_gpus: int | None = Field(None, ge=1, le=64, description="Number of GPUs (default: any)")
    max_price_per_hour: float | None = Field(
        None, gt=0, description="Highest price in $/hour (for VAST_CREATE also its cost guard)"
    )
    min_reliability: float | None = Field(
        None, ge=0, le=1, description="Lowest machine reliability, 0–1 (e.g. 0.98)"
    )
    min_disk_gb: float | None = Field(None, gt=0, description="Least free disk, in GB")


def offer_query(
    f: OfferFilters,
    *,
    storage_gb: float,
    limit: int,
    order: Order = "price",
    offer_id: int | None = None,
) -> dict[str, Any]:
    """The search query (`POST /bundles/`) for `f`, `order`ed, with the CLI's defaults
    (verified, not external, rentable, not rented, on-demand) and prices for `storage_gb` of
    disk."""
    q: dict[str, Any] = {
        "verified": {"eq": True},
        "external": {"eq": False},
        "rentable": {"eq": True},
        "rented": {"eq": False},
    }
    if offer_id is not None:
        q["id"] = {"eq": offer_id}
    if f.gpu_name:
        q["gpu_name"] = {"eq": f.gpu_name.replace("_", " ")}
    if f.num_gpus is not None:
        q["num_gpus"] = {"eq": f.num_gpus}
    if f.max_price_per_hour is not None and offer_id is None:
        q["dph_total"] = {"lte": f.max_price_per_hour}
    if f.min_reliability is not None:
        q["reliability"] = {"gte": f.min_reliability}
    if f.min_disk_gb is not None:
        q["disk_space"] = {"gte": f.min_disk_gb}
    q["order"] = [ORDERS[order]]
    q["type"] = "on-demand"
    q["limit"] = limit
    q["allocated_storage"] = storage_gb
    return q


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def table(rows: Iterable[Mapping[str, Any]], columns: Sequence[tuple[str, str]]) -> list[str]:
    """Lines of a plain text table: `columns` are (key, heading)."""
    cells = [[heading for _, heading in columns]]
    cells += [[_cell(row.get(key)) for key, _ in columns] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    return [
        "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in cells
    ]
