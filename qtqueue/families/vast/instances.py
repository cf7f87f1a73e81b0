"""VAST_DESTROY and VAST_LIST, and what VAST_CREATE shares with them: an instance described,
destroyed, and waited for until it is gone."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, ClassVar

from pydantic import Field

from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.core.task import TaskStatus, TaskType
from qtqueue.executors.base import Executor, Params, RunContext
from qtqueue.families.vast.client import VastApi, vast_api, wait_interval
from qtqueue.families.vast.params import keyring_field, table
from qtqueue.families.vast.settings import VastSettings

logger = logging.getLogger(__name__)

__all__ = [
    "INSTANCE_COLUMNS",
    "DestroyParams",
    "ListParams",
    "VastDestroyExecutor",
    "VastListExecutor",
    "destroy_instance",
    "instance_summary",
    "wait_gone",
]

_C = TaskErrorCode
S = TaskStatus

#: The instance table of the log: (field, heading).
INSTANCE_COLUMNS = (
    ("id", "instance"),
    ("actual_status", "status"),
    ("gpu_name", "gpu"),
    ("num_gpus", "n"),
    ("dph_total", "$/hour"),
    ("image_uuid", "image"),
    ("label", "label"),
)
_SUMMARY_KEYS = (
    *(key for key, _ in INSTANCE_COLUMNS),
    "intended_status",
    "status_msg",
    "public_ipaddr",
    "ssh_host",
    "ssh_port",
    "machine_id",
)


def instance_summary(row: dict[str, Any]) -> dict[str, Any]:
    """The fields of an instance a result keeps."""
    return {key: row.get(key) for key in _SUMMARY_KEYS}


def describe(row: dict[str, Any]) -> str:
    """ "instance 42 (1x RTX 4090, $0.4500/hour, running)"."""
    price = row.get("dph_total")
    cost = f"${float(price):.4f}/hour" if isinstance(price, int | float) else "price unknown"
    return (
        f"instance {row.get('id')} ({row.get('num_gpus') or '?'}x {row.get('gpu_name') or '?'}, "
        f"{cost}, {row.get('actual_status') or 'not started'})"
    )


def not_found(instance_id: int) -> QueueError:
    """VAST_INSTANCE_NOT_FOUND for `instance_id`."""
    return QueueError(
        _C.VAST_INSTANCE_NOT_FOUND,
        f"Vast.ai instance {instance_id} does not exist in this account (destroyed already, or "
        "a wrong id: VAST_LIST shows the account's instances)",
        instance_id=instance_id,
    )


async def destroy_instance(api: VastApi, instance_id: int) -> None:
    """Ask the API to destroy an instance (`DELETE /instances/{id}/`): VAST_INSTANCE_NOT_FOUND
    when it does not exist, VAST_INSTANCE_DESTRUCTION_FAILED when the API refuses."""
    try:
        await api.call(
            "DELETE",
            f"/instances/{instance_id}/",
            f"destroying instance {instance_id}",
            body={},
            not_found=not_found(instance_id),
            instance_id=instance_id,
        )
    except QueueError as exc:
        if exc.code is _C.VAST_API_ERROR:
            raise QueueError(
                _C.VAST_INSTANCE_DESTRUCTION_FAILED,
                f"{exc.message}; instance {instance_id} may still be running and costing money: "
                "retry, or destroy it in the Vast.ai console",
                **exc.details,
            ) from None
        raise


async def wait_gone(
    ctx: RunContext, api: VastApi, instance_id: int, timeout_s: float, settings: VastSettings
) -> None:
    """Return once the instance is no longer there; VAST_INSTANCE_DESTRUCTION_FAILED when it
    still is after `timeout_s`."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while await api.instance(instance_id, f"waiting for instance {instance_id} to go") is not None:
        if asyncio.get_running_loop().time() > deadline:
            raise QueueError(
                _C.VAST_INSTANCE_DESTRUCTION_FAILED,
                f"Vast.ai instance {instance_id} was still there {timeout_s:g} s after it was "
                "told to go; it may still cost money: check the Vast.ai console",
                instance_id=instance_id,
            )
        await wait_interval(ctx, settings.vast_poll_interval_s)


# --- VAST_DESTROY ---------------------------------------------------------------------------


class DestroyParams(Params):
    instance_id: int = Field(
        ...,
        ge=1,
        description="The instance to destroy (VAST_LIST shows them); its disk and data go with it",
    )
    wait: bool = Field(True, description="Wait until the instance is gone")
    wait_timeout_s: float = Field(
        600.0, gt=0, description="How long to wait for it to go before failing"
    )
    keyring_name: str | None = keyring_field()


class VastDestroyExecutor(Executor[DestroyParams]):
    """Destroys an instance and waits until it is gone, so that it costs nothing more."""

    task_type: ClassVar[TaskType] = TaskType.VAST_DESTROY
    params_model = DestroyParams
    summary = "Destroy a Vast.ai instance and wait until it is gone"

    async def run(self, ctx: RunContext[DestroyParams]) -> dict[str, Any] | None:
        p = ctx.params
        settings = ctx.family_settings(VastSettings)
        ctx.phase(S.VALIDATING)
        async with vast_api(ctx, p.keyring_name) as api:
            row = await api.instance(p.instance_id, f"looking up instance {p.instance_id}")
            if row is None:
                raise not_found(p.instance_id)
            ctx.phase(S.RUNNING)
            ctx.log(f"destroying {describe(row)}")
            ctx.progress(20, "destroying")
            await destroy_instance(api, p.instance_id)
            if p.wait:
                ctx.progress(50, "waiting until it is gone")
                await wait_gone(ctx, api, p.instance_id, p.wait_timeout_s, settings)
                ctx.log(f"instance {p.instance_id} is gone")
        ctx.progress(100, "destroyed" if p.wait else "destruction requested")
        return {
            "instance_id": p.instance_id,
            "destroyed": True,
            "gone": p.wait,
            "was": instance_summary(row),
        }


# --- VAST_LIST ------------------------------------------------------------------------------


class ListParams(Params):
    keyring_name: str | None = keyring_field()


class VastListExecutor(Executor[ListParams]):
    """Lists the account's instances with status, price and GPU."""

    task_type: ClassVar[TaskType] = TaskType.VAST_LIST
    params_model = ListParams
    summary = "List the Vast.ai account's instances (status, $/hour, GPU)"

    async def run(self, ctx: RunContext[ListParams]) -> dict[str, Any] | None:
        ctx.phase(S.VALIDATING)
        async with vast_api(ctx, ctx.params.keyring_name) as api:
            ctx.phase(S.RUNNING)
            ctx.progress(10, "listing instances")
            rows = [instance_summary(r) for r in await api.instances("listing instances")]
        hourly = sum(
            float(r["dph_total"])
            for r in rows
            if r.get("actual_status") == "running" and isinstance(r.get("dph_total"), int | float)
        )
        ctx.log(f"{len(rows)} instance(s); the running ones cost ${hourly:.4f}/hour in all")
        for line in table(rows, INSTANCE_COLUMNS):
            ctx.log(line)
        ctx.progress(100, f"{len(rows)} instance(s)")
        return {"count": len(rows), "running_price_per_hour": round(hourly, 6), "instances": rows}
