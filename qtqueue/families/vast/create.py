"""VAST_CREATE: rent an offer with an image and disk, after stating its price (and asking for
approval when the settings say so), then wait until the instance runs.

The cost guard: the offer's $/hour is written to the log and the step before anything is
rented; an offer dearer than `max_price_per_hour` (the task's, else the setting) is refused
with VALIDATION_INVALID_PARAMS (final: retrying the same refused rent cannot help; the fix is
the limit or another offer). An instance that fails to start, does not start in time, or whose
task is cancelled or timed out while it starts is destroyed at once, and the log says so — or
says loudly which instance is left running when even that fails: nobody pays for an orphan
without being told.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, ClassVar, Literal

from pydantic import Field

from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.core.question import ResponseType
from qtqueue.core.task import TaskStatus, TaskType
from qtqueue.executors.base import Executor, Params, RunContext
from qtqueue.families.vast.client import VastApi, vast_api, wait_interval
from qtqueue.families.vast.instances import destroy_instance, instance_summary
from qtqueue.families.vast.offers import offer_summary
from qtqueue.families.vast.params import OfferFilters, keyring_field, offer_query
from qtqueue.families.vast.settings import VastSettings

logger = logging.getLogger(__name__)

__all__ = ["CreateParams", "VastCreateExecutor", "start_phase"]

_C = TaskErrorCode
S = TaskStatus

#: Answers (of the "answer" kind) that approve a rent.
_YES = frozenset({"yes", "y", "ok", "approve", "approved", "rent"})
#: actual_status values of an instance that will not start.
_FAILED = frozenset({"exited", "offline", "stopped"})


class _Launch(Params):
    """How a rented instance starts: the last fields of a create's form."""

    env: dict[str, str] = Field(default_factory=dict, description="Environment variables")
    onstart: str | None = Field(None, description="Commands run when the instance starts")
    label: str | None = Field(None, description="Label shown in the Vast.ai console")
    runtype: Literal["ssh", "ssh_direct", "jupyter", "jupyter_direct", "args"] = Field(
        "ssh",
        description="How to reach it: ssh, jupyter (proxied or direct) or args (the "
        "image's entrypoint as is)",
    )
    keyring_name: str | None = keyring_field()


class CreateParams(OfferFilters, _Launch):
    """An offer (or the filters for the cheapest one), the image and disk, and how it starts.
    The form shows a model's own fields first, then its bases': the image, offer and disk
    come first, then the filters, then how it starts."""

    offer_id: int | None = Field(
        None,
        ge=1,
        description="Offer to rent (a VAST_SEARCH result's id); empty: the "
        "cheapest offer matching the filters",
    )
    image: str = Field(
        ..., min_length=1, description="Docker image the instance runs, e.g. pytorch/pytorch:latest"
    )
    disk_gb: float = Field(10.0, gt=0, le=10000, description="Disk of the instance, in GB")


def start_phase(row: dict[str, Any]) -> tuple[str, float, TaskStatus]:
    """(step, percent, status) of an instance on its way to running, from its actual_status."""
    actual = str(row.get("actual_status") or "")
    if actual == "running":
        return "running", 100.0, S.RUNNING
    if actual == "loading":
        return "loading image", 40.0, S.PULLING
    if actual in ("created", "starting"):
        return "starting", 80.0, S.PREPARING
    return "creating", 20.0, S.PREPARING


def _price(offer: dict[str, Any]) -> float:
    value = offer.get("dph_total")
    if not isinstance(value, int | float):
        raise QueueError(_C.VAST_API_ERROR, f"offer {offer.get('id')} came without a price")
    return float(value)


class VastCreateExecutor(Executor[CreateParams]):
    """Rents an offer (stating its price, refusing one above the limit, asking for approval when
    the settings say so) and waits until the instance runs: creating, loading image, starting,
    running. Cancelled while it starts, it destroys the instance again."""

    task_type: ClassVar[TaskType] = TaskType.VAST_CREATE
    params_model = CreateParams
    summary = "Rent a Vast.ai GPU instance (price stated, cost guard) and wait until it runs"
    #: Never rented again by itself: a failed attempt may have left an instance (a rent whose
    #: answer never came), and a retry would rent another. A person retries it knowingly.
    retry_safe = False

    async def run(self, ctx: RunContext[CreateParams]) -> dict[str, Any] | None:
        p = ctx.params
        settings = ctx.family_settings(VastSettings)
        ctx.phase(S.VALIDATING)
        async with vast_api(ctx, p.keyring_name) as api:
            offer = await self._offer(api, p)
            price = self._guard(ctx, p, offer, settings)
            if settings.vast_require_approval:
                await self._approve(ctx, p, offer, price, settings)
            ctx.phase(S.PREPARING)
            ctx.progress(10, "creating")
            instance_id = await self._rent(ctx, api, p, int(offer["id"]))
            try:
                row = await self._wait_running(ctx, api, instance_id, settings)
            except BaseException as exc:
                await self._clean_up(ctx, api, instance_id, exc)
                raise
        ctx.log(f"instance {instance_id} runs, at ${price:.4f}/hour until it is destroyed")
        return {
            **instance_summary(row),
            "instance_id": instance_id,
            "offer_id": int(offer["id"]),
            "price_per_hour": price,
            "image": p.image,
        }

    # --- the offer and its price -----------------------------------------------------------

    async def _offer(self, api: VastApi, p: CreateParams) -> dict[str, Any]:
        what = f"looking up offer {p.offer_id}" if p.offer_id else "finding the cheapest offer"
        query = offer_query(p, storage_gb=p.disk_gb, limit=1, offer_id=p.offer_id)
        offers = await api.offers(query, what)
        if not offers:
            which = (
                f"offer {p.offer_id} is no longer available (rented by someone else, or a wrong id)"
                if p.offer_id
                else "no offer matches the filters"
            )
            raise QueueError(
                _C.VAST_INSTANCE_CREATION_FAILED,
                f"nothing rented: {which}; run VAST_SEARCH again and pick another offer",
                offer_id=p.offer_id,
            )
        return offers[0]

    def _guard(
        self, ctx: RunContext, p: CreateParams, offer: dict[str, Any], settings: VastSettings
    ) -> float:
        """State the price; refuse it above the limit."""
        price = _price(offer)
        ceiling = p.max_price_per_hour or settings.vast_max_price_per_hour
        ctx.log(
            f"price: offer {offer['id']}, {offer.get('num_gpus') or '?'}x "
            f"{offer.get('gpu_name') or '?'}, costs ${price:.4f}/hour with {p.disk_gb:g} GB disk "
            f"(limit ${ceiling:.4f}/hour)"
        )
        ctx.progress(5, f"${price:.4f}/hour: offer {offer['id']}")
        if price > ceiling:
            raise QueueError(
                _C.VALIDATION_INVALID_PARAMS,
                f"cost guard: offer {offer['id']} costs ${price:.4f}/hour, above the limit of "
                f"${ceiling:.4f}/hour; nothing was rented. Raise max_price_per_hour (the task's, "
                "or the vast_max_price_per_hour setting) or choose a cheaper offer",
                offer_id=offer["id"],
                price_per_hour=price,
                max_price_per_hour=ceiling,
            )
        return price

    async def _approve(
        self,
        ctx: RunContext,
        p: CreateParams,
        offer: dict[str, Any],
        price: float,
        settings: VastSettings,
    ) -> None:
        """Ask a person to approve the price; anything but an approval rents nothing."""
        question = (
            f"Rent Vast.ai offer {offer['id']} ({offer.get('num_gpus') or '?'}x "
            f"{offer.get('gpu_name') or '?'}) at ${price:.4f}/hour with image {p.image}? It "
            "costs money until it is destroyed."
        )
        try:
            answer = await ctx.ask(
                question,
                request_type="approval",
                context={
                    "offer": offer_summary(offer),
                    "price_per_hour": price,
                    "image": p.image,
                    "disk_gb": p.disk_gb,
                },
                timeout_s=settings.vast_approval_timeout_s,
            )
        except QueueError:
            ctx.log("no approval came: nothing was rented")
            raise
        said = (answer.answer or "").strip()
        if answer.response_type == ResponseType.APPROVAL or (
            answer.response_type == ResponseType.ANSWER and said.lower() in _YES
        ):
            ctx.log(f"approved: ${price:.4f}/hour")
            return
        raise QueueError(
            _C.QUEUE_REJECTED,
            f"not rented: offer {offer['id']} at ${price:.4f}/hour was not approved"
            + (f" ({said})" if said else ""),
            offer_id=offer["id"],
            price_per_hour=price,
        )

    # --- renting and starting --------------------------------------------------------------

    async def _rent(self, ctx: RunContext, api: VastApi, p: CreateParams, offer_id: int) -> int:
        """`PUT /asks/{offer}/` with the CLI's body: the new instance's id. Cancelled while the
        request is under way, the instance it made is destroyed before the cancel goes on."""
        body = {
            "client_id": "me",
            "image": p.image,
            "env": dict(p.env),
            "price": None,
            "disk": p.disk_gb,
            "label": p.label,
            "extra": None,
            "onstart": p.onstart,
            "image_login": None,
            "python_utf8": False,
            "lang_utf8": False,
            "use_jupyter_lab": False,
            "jupyter_dir": None,
            "force": False,
            "cancel_unavail": True,  # an error rather than a stopped instance
            "template_hash_id": None,
            "user": None,
            "runtype": p.runtype,
        }
        gone = QueueError(
            _C.VAST_INSTANCE_CREATION_FAILED,
            f"offer {offer_id} is no longer available; pick another one",
            offer_id=offer_id,
        )
        request = asyncio.get_running_loop().create_task(
            api.call(
                "PUT",
                f"/asks/{offer_id}/",
                f"renting offer {offer_id}",
                body=body,
                not_found=gone,
                offer_id=offer_id,
            )
        )
        try:
            answer = await asyncio.shield(request)
        except asyncio.CancelledError:
            ctx.log(
                f"stopped while renting offer {offer_id}: waiting for the answer, to destroy "
                "the instance if one was made"
            )
            try:
                made = (await request).get("new_contract")
            except QueueError as exc:
                if exc.code in (_C.NETWORK_TIMEOUT, _C.NETWORK_CONNECTION_FAILED):
                    ctx.log(
                        f"WARNING: no answer came to renting offer {offer_id} ({exc.message}); "
                        "check with VAST_LIST that no instance of it is running and costing money"
                    )
                else:
                    ctx.log(f"renting offer {offer_id} was refused: nothing was made")
            else:
                if isinstance(made, int):
                    await self._clean_up(ctx, api, made, None)
            raise
        except QueueError as exc:
            if exc.code is _C.VAST_API_ERROR:
                raise QueueError(
                    _C.VAST_INSTANCE_CREATION_FAILED,
                    f"renting offer {offer_id} failed: {exc.message}",
                    **exc.details,
                ) from None
            if exc.code in (_C.NETWORK_TIMEOUT, _C.NETWORK_CONNECTION_FAILED):
                warning = (
                    f"no answer came to renting offer {offer_id} ({exc.message}): an instance "
                    "may have been made; check with VAST_LIST that none of it is running and "
                    "costing money before renting again"
                )
                ctx.log(f"WARNING: {warning}")
                details = {**exc.details, "instance_may_exist": True}
                raise QueueError(exc.code, warning, **details) from None
            raise
        made = answer.get("new_contract") if isinstance(answer, dict) else None
        if not isinstance(made, int):
            raise QueueError(
                _C.VAST_INSTANCE_CREATION_FAILED,
                f"renting offer {offer_id}: the answer named no instance ({answer!r:.120})",
                offer_id=offer_id,
            )
        ctx.log(f"created instance {made} from offer {offer_id}")
        return made

    async def _wait_running(
        self, ctx: RunContext, api: VastApi, instance_id: int, settings: VastSettings
    ) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + settings.vast_start_timeout_s
        shown = ""
        while True:
            row = await api.instance(instance_id, f"watching instance {instance_id} start")
            if row is None:
                raise QueueError(
                    _C.VAST_INSTANCE_CREATION_FAILED,
                    f"instance {instance_id} disappeared while it was starting",
                    instance_id=instance_id,
                )
            step, percent, status = start_phase(row)
            message = str(row.get("status_msg") or "").strip()
            if step != shown:
                shown = step
                ctx.phase(status)
                ctx.progress(percent, step)
                ctx.log(f"instance {instance_id}: {step}" + (f" ({message})" if message else ""))
            if step == "running":
                return row
            if str(row.get("actual_status") or "") in _FAILED or message.lower().startswith(
                "error"
            ):
                raise QueueError(
                    _C.VAST_INSTANCE_CREATION_FAILED,
                    f"instance {instance_id} failed to start: "
                    f"{message or row.get('actual_status')}",
                    instance_id=instance_id,
                    actual_status=row.get("actual_status"),
                )
            if loop.time() > deadline:
                raise QueueError(
                    _C.VAST_INSTANCE_CREATION_FAILED,
                    f"instance {instance_id} did not run within {settings.vast_start_timeout_s:g}"
                    f" s (still {step}); raise vast_start_timeout_s for large images",
                    instance_id=instance_id,
                )
            await wait_interval(ctx, settings.vast_poll_interval_s)

    async def _clean_up(
        self, ctx: RunContext, api: VastApi, instance_id: int, why: BaseException | None
    ) -> None:
        """Destroy an instance that will not be handed over, and say so; when that fails, say
        which instance is left running (and record it on the error)."""
        reason = (
            "the task was cancelled or timed out"
            if why is None or isinstance(why, asyncio.CancelledError)
            else "it did not start"
        )
        try:
            await asyncio.shield(destroy_instance(api, instance_id))
        except asyncio.CancelledError:
            self._orphan(ctx, instance_id, reason, why, "cancelled again")
            raise
        except QueueError as exc:
            if exc.code is _C.VAST_INSTANCE_NOT_FOUND:
                ctx.log(f"instance {instance_id} was already gone ({reason})")
                return
            self._orphan(ctx, instance_id, reason, why, exc.message)
            return
        ctx.log(f"destroyed instance {instance_id} because {reason}: it costs nothing more")

    @staticmethod
    def _orphan(
        ctx: RunContext, instance_id: int, reason: str, why: BaseException | None, how: str
    ) -> None:
        ctx.log(
            f"WARNING: instance {instance_id} is LEFT RUNNING and may cost money ({reason}; "
            f"destroying it failed: {how}); destroy it with VAST_DESTROY instance_id="
            f"{instance_id} or in the Vast.ai console"
        )
        if isinstance(why, QueueError):
            why.details["instance_left_running"] = instance_id
