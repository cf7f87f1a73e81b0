"""The vast executors through a real TaskQueue against a local server that speaks Vast.ai's
REST API (vast_server.py): search filters, create (price stated, cost guard, approval, phases
driven by the test), cancel while it starts, destroy waiting until gone, list, and the code each
failure gets — wrong key, missing instance, dead server, no credit."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from typing import Any

import pytest
from helpers.waiting import eventually
from vast_server import API_KEY, VastServer

from qtqueue.core.errors import TaskErrorCode
from qtqueue.core.task import Task, TaskStatus, TaskType
from qtqueue.engine.credentials import KeyringVault
from qtqueue.engine.events import EventKind, TaskEvent
from qtqueue.engine.queue import TaskQueue
from qtqueue.families.vast.progress import InstanceFacts, InstanceFeed

C = TaskErrorCode
S = TaskStatus
T = TaskType


class Steps:
    """Every (status, step) a task went through, in order, without repeats."""

    def __init__(self, queue: TaskQueue) -> None:
        self.seen: dict[str, list[tuple[TaskStatus, str]]] = {}
        queue.subscribe(self)

    def __call__(self, events: list[TaskEvent]) -> None:
        for e in events:
            if e.kind is EventKind.CHANGED and e.task is not None and e.status is not None:
                entry = (e.status, e.task.current_step or "")
                trail = self.seen.setdefault(e.task_id, [])
                if not trail or trail[-1] != entry:
                    trail.append(entry)

    def steps(self, task_id: str) -> list[str]:
        out: list[str] = []
        for _, step in self.seen.get(task_id, []):
            if step and (not out or out[-1] != step):
                out.append(step)
        return out

    def now(self, task_id: str) -> tuple[TaskStatus, str] | None:
        trail = self.seen.get(task_id)
        return trail[-1] if trail else None


async def submit(queue: TaskQueue, task_type: T, /, **params: Any) -> str:
    return await queue.add_task(Task(task_type, params, max_retries=0))


async def run(queue: TaskQueue, task_type: T, /, **params: Any) -> Task:
    return await queue.wait_for(await submit(queue, task_type, **params), timeout_s=30)


async def _has(text: Any, part: str) -> bool:
    return part in await text


async def new_instance(vast: VastServer) -> int:
    """The instance a create under way made, once it made it."""
    made: int = await eventually(lambda: next(iter(vast.instances), None), what="an instance")
    return made


async def loading(vq: TaskQueue, vast: VastServer, steps: Steps) -> tuple[str, int]:
    """A create of offer 101 whose instance is loading its image, as the task shows it."""
    task_id = await submit(vq, T.VAST_CREATE, offer_id=101, image="busybox")
    instance = await new_instance(vast)
    vast.set_status(instance, "loading", "Pulling image busybox")
    await eventually(lambda: steps.now(task_id) == (S.PULLING, "loading image"), what="loading")
    return task_id, instance


def only_instance(vast: VastServer) -> int:
    assert len(vast.instances) == 1, vast.instances
    return next(iter(vast.instances))


async def test_search_filters_offers_against_local_vast_api(
    vq: TaskQueue, vast: VastServer
) -> None:
    found = await run(
        vq, T.VAST_SEARCH, gpu_name="RTX 4090", max_price_per_hour=1.0, min_reliability=0.98
    )
    assert found.status is S.COMPLETED, found.error
    assert [o["id"] for o in found.result["offers"]] == [101]
    sent = vast.queries[-1]
    assert sent["gpu_name"] == {"eq": "RTX 4090"} and sent["dph_total"] == {"lte": 1.0}
    assert sent["verified"] == {"eq": True} and sent["rentable"] == {"eq": True}
    log = await vq.read_log(found.id)
    assert "1 offer(s)" in log and "RTX 4090" in log and "0.45" in log

    # No filter but disk: cheapest first, the small-disk offer left out.
    by_price = await run(vq, T.VAST_SEARCH, min_disk_gb=100)
    assert [o["id"] for o in by_price.result["offers"]] == [101, 102, 104]
    assert [o["id"] for o in (await run(vq, T.VAST_SEARCH, num_gpus=8)).result["offers"]] == [104]
    by_gpus = await run(vq, T.VAST_SEARCH, order="gpus", limit=2)
    assert [o["id"] for o in by_gpus.result["offers"]] == [104, 102]


async def test_create_states_the_price_and_shows_each_phase_against_local_vast_api(
    vq: TaskQueue, vast: VastServer
) -> None:
    steps = Steps(vq)
    task_id = await submit(vq, T.VAST_CREATE, offer_id=101, image="pytorch/pytorch", disk_gb=20)
    await eventually(lambda: steps.now(task_id) == (S.PREPARING, "creating"), what="creating")
    instance = await new_instance(vast)  # the step shows as the create request leaves
    assert only_instance(vast) == instance
    assert vast.creates[-1]["image"] == "pytorch/pytorch" and vast.creates[-1]["disk"] == 20
    assert vast.creates[-1]["client_id"] == "me"

    vast.set_status(instance, "loading", "Pulling image pytorch/pytorch")
    await eventually(lambda: steps.now(task_id) == (S.PULLING, "loading image"), what="loading")
    vast.set_status(instance, "created")
    await eventually(lambda: steps.now(task_id) == (S.PREPARING, "starting"), what="starting")
    vast.set_status(instance, "running", "success, running pytorch/pytorch")
    done = await vq.wait_for(task_id, timeout_s=30)

    assert done.status is S.COMPLETED, done.error
    assert done.result["instance_id"] == instance and done.result["price_per_hour"] == 0.45
    assert steps.steps(task_id)[-5:] == [
        "$0.4500/hour: offer 101",
        "creating",
        "loading image",
        "starting",
        "running",
    ]
    log = await vq.read_log(task_id)
    assert log.index("costs $0.4500/hour") < log.index(f"created instance {instance}")
    assert "Pulling image pytorch/pytorch" in log
    # What the detail pane's widget reads back from that log, fed in two pieces.
    feed = InstanceFeed()
    cut = len(log) // 2
    feed.feed(log[:cut])
    feed.feed(log[cut:])
    feed.finish()
    assert feed.facts == InstanceFacts(instance, 101, "running", 0.45, "1x RTX 4090")


async def test_create_without_an_offer_rents_the_cheapest_match_against_local_vast_api(
    vq: TaskQueue, vast: VastServer
) -> None:
    task_id = await submit(vq, T.VAST_CREATE, gpu_name="RTX 4090", image="busybox")
    instance = await new_instance(vast)
    vast.set_status(instance, "running")
    done = await vq.wait_for(task_id, timeout_s=30)
    assert done.status is S.COMPLETED, done.error
    assert done.result["offer_id"] == 101  # 0.45 $/h, not the 2-GPU 0.95 one


async def test_cost_guard_refuses_a_dearer_offer_against_local_vast_api(
    vq: TaskQueue, vast: VastServer
) -> None:
    refused = await run(vq, T.VAST_CREATE, offer_id=104, image="busybox")  # 18.5 $/h > 2.0
    assert refused.status is S.FAILED
    assert refused.error_code == C.VALIDATION_INVALID_PARAMS.value
    assert "$18.5000/hour" in refused.error and "max_price_per_hour" in refused.error
    assert vast.creates == [] and vast.instances == {}
    assert "costs $18.5000/hour" in await vq.read_log(refused.id)

    # The task's own, lower limit wins over the setting too.
    lower = await run(vq, T.VAST_CREATE, offer_id=101, image="busybox", max_price_per_hour=0.3)
    assert lower.error_code == C.VALIDATION_INVALID_PARAMS.value and vast.creates == []


async def test_create_asks_to_approve_the_price_against_local_vast_api(
    vq: TaskQueue, vast: VastServer
) -> None:
    vq.executor_settings["vast_require_approval"] = True

    async def question(task_id: str) -> Any:
        asked = await eventually(lambda: vq.questions.list(task_id=task_id), what="a question")
        return asked[0]

    rejected_id = await submit(vq, T.VAST_CREATE, offer_id=101, image="busybox")
    asked = await question(rejected_id)
    assert "$0.4500/hour" in asked.message and asked.request_type == "approval"
    await vq.questions.answer(asked.id, "too dear", response_type="rejection")
    rejected = await vq.wait_for(rejected_id, timeout_s=30)
    assert rejected.error_code == C.QUEUE_REJECTED.value
    assert vast.creates == []  # nothing rented without the approval

    approved_id = await submit(vq, T.VAST_CREATE, offer_id=101, image="busybox")
    await vq.questions.answer((await question(approved_id)).id, "ok", response_type="approval")
    instance = await new_instance(vast)
    vast.set_status(instance, "running")
    approved = await vq.wait_for(approved_id, timeout_s=30)
    assert approved.status is S.COMPLETED, approved.error


async def test_cancel_while_it_starts_destroys_the_instance_against_local_vast_api(
    vq: TaskQueue, vast: VastServer
) -> None:
    steps = Steps(vq)
    task_id, instance = await loading(vq, vast, steps)

    await vq.cancel_task(task_id)
    cancelled = await vq.wait_for(task_id, timeout_s=30)
    assert cancelled.status is S.CANCELLED
    assert vast.instances == {}  # nothing left to pay for
    log = await vq.read_log(task_id)
    assert f"destroyed instance {instance}" in log
    feed = InstanceFeed()
    feed.feed(log)
    assert (feed.facts.instance, feed.facts.phase) == (instance, "gone")


async def test_an_instance_that_fails_to_start_is_destroyed_against_local_vast_api(
    vq: TaskQueue, vast: VastServer
) -> None:
    task_id = await submit(vq, T.VAST_CREATE, offer_id=103, image="nosuch/image")
    instance = await new_instance(vast)
    vast.set_status(instance, "exited", "Error response from daemon: pull access denied")
    failed = await vq.wait_for(task_id, timeout_s=30)
    assert failed.error_code == C.VAST_INSTANCE_CREATION_FAILED.value
    assert "pull access denied" in failed.error
    assert vast.instances == {}
    assert f"destroyed instance {instance}" in await vq.read_log(task_id)


async def test_destroy_waits_until_the_instance_is_gone_against_local_vast_api(
    vq: TaskQueue, vast: VastServer
) -> None:
    instance = vast.rent(vast.offers[0], {"image": "busybox", "disk": 10})
    vast.set_status(instance, "running")
    vast.linger_on_destroy = True
    steps = Steps(vq)
    task_id = await submit(vq, T.VAST_DESTROY, instance_id=instance)
    await eventually(
        lambda: steps.now(task_id) == (S.RUNNING, "waiting until it is gone"), what="waiting"
    )
    assert vast.instances[instance]["intended_status"] == "stopped"  # told to go, not gone yet
    assert (await vq.get_task(task_id)).status is S.RUNNING
    vast.forget(instance)
    done = await vq.wait_for(task_id, timeout_s=30)
    assert done.status is S.COMPLETED, done.error
    assert done.result["gone"] is True and done.result["was"]["gpu_name"] == "RTX 4090"


async def test_destroying_a_missing_instance_says_so_against_local_vast_api(
    vq: TaskQueue,
) -> None:
    missing = await run(vq, T.VAST_DESTROY, instance_id=424242)
    assert missing.status is S.FAILED
    assert missing.error_code == C.VAST_INSTANCE_NOT_FOUND.value
    assert "424242" in missing.error


async def test_list_shows_every_instance_with_status_price_and_gpu_against_local_vast_api(
    vq: TaskQueue, vast: VastServer
) -> None:
    ids = [vast.rent(o, {"image": f"img{n}", "disk": 10}) for n, o in enumerate(vast.offers)]
    vast.set_status(ids[0], "running")
    vast.set_status(ids[1], "running")
    vast.set_status(ids[2], "loading")
    for n in range(26):  # more than one page (25 a page)
        vast.rent(vast.offers[n % 4] | {"rented": False}, {"image": "bulk", "disk": 10})
    listed = await run(vq, T.VAST_LIST)
    assert listed.status is S.COMPLETED, listed.error
    assert listed.result["count"] == 30
    assert listed.result["running_price_per_hour"] == pytest.approx(0.45 + 0.95)
    first = listed.result["instances"][0]
    assert (first["id"], first["actual_status"], first["gpu_name"]) == (
        ids[0],
        "running",
        "RTX 4090",
    )
    log = await vq.read_log(listed.id)
    assert "30 instance(s)" in log and "$1.4000/hour" in log and "H100 SXM" in log


async def test_a_server_paging_in_a_circle_fails_instead_of_listing_for_ever_against_local_vast_api(
    vq: TaskQueue, vast: VastServer
) -> None:
    vast.stuck_paging = True
    listed = await run(vq, T.VAST_LIST)
    assert listed.error_code == C.VAST_API_ERROR.value
    assert listed.error is not None and "same page twice" in listed.error


async def test_a_wrong_key_fails_and_no_key_leaks_against_local_vast_api(
    vq: TaskQueue, vast: VastServer
) -> None:
    wrong = "vastkey-wrong-77aa01"
    await asyncio.to_thread(KeyringVault().set, "vast-wrong", wrong)
    refused = await run(vq, T.VAST_SEARCH, keyring_name="vast-wrong")
    assert refused.status is S.FAILED
    assert refused.error_code == C.VAST_AUTHENTICATION_FAILED.value
    ok = await run(vq, T.VAST_LIST)
    assert ok.status is S.COMPLETED
    for task in (refused, ok):
        stored = json.dumps([task.error, task.error_details, task.result, task.params])
        log = await vq.read_log(task.id)
        for secret in (wrong, API_KEY):
            assert secret not in stored and secret not in log
    assert not any(API_KEY in u or wrong in u for u in vast.urls)  # only ever in a header


async def test_a_dead_server_fails_fast_with_its_code(vq: TaskQueue) -> None:
    with socket.socket() as s:  # a port nothing listens on any more
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    vq.executor_settings["vast_api_url"] = f"http://127.0.0.1:{port}"
    started = time.monotonic()
    dead = await run(vq, T.VAST_LIST)
    assert dead.status is S.FAILED
    assert dead.error_code == C.NETWORK_CONNECTION_FAILED.value
    assert f"127.0.0.1:{port}" in dead.error and "vast_api_url" in dead.error
    assert time.monotonic() - started < 10


async def test_no_credit_gives_quota_exceeded_against_local_vast_api(
    vq: TaskQueue, vast: VastServer
) -> None:
    vast.credit = 0.10
    broke = await run(vq, T.VAST_CREATE, offer_id=101, image="busybox")
    assert broke.status is S.FAILED
    assert broke.error_code == C.VAST_QUOTA_EXCEEDED.value
    assert "credit" in broke.error and vast.instances == {}


async def test_pause_holds_the_wait_for_a_starting_instance_against_local_vast_api(
    vq: TaskQueue, vast: VastServer
) -> None:
    steps = Steps(vq)
    task_id, instance = await loading(vq, vast, steps)
    assert (await vq.pause_task(task_id)).status is S.PAUSED
    vast.set_status(instance, "running")
    await vq.resume_task(task_id)
    done = await vq.wait_for(task_id, timeout_s=30)
    assert done.status is S.COMPLETED, done.error
    assert S.PAUSED in [status for status, _ in steps.seen[task_id]]


async def test_cancel_while_renting_destroys_what_the_rent_made_against_local_vast_api(
    vq: TaskQueue, vast: VastServer
) -> None:
    vast.hold["create"] = asyncio.Event()
    task_id = await submit(vq, T.VAST_CREATE, offer_id=101, image="busybox")
    await eventually(lambda: "create" in vast.calls, what="the rent under way")
    cancelling = asyncio.create_task(vq.cancel_task(task_id))  # it returns once the task ended
    await eventually(lambda: _has(vq.read_log(task_id), "stopped while renting"), what="the cancel")
    vast.hold["create"].set()  # the rent goes through after all
    assert (await cancelling).status is S.CANCELLED
    assert vast.calls[-2:] == ["create", "destroy"] and vast.instances == {}
    assert "destroyed instance 5000" in await vq.read_log(task_id)
    assert "destroyed instance 5000" in await vq.read_log(task_id)


async def test_a_failed_clean_up_names_the_instance_left_running_against_local_vast_api(
    vq: TaskQueue, vast: VastServer
) -> None:
    steps = Steps(vq)
    task_id, instance = await loading(vq, vast, steps)
    vast.fail["destroy"] = (500, "server_error", "could not reach the host")
    await vq.cancel_task(task_id)
    cancelled = await vq.wait_for(task_id, timeout_s=30)
    assert cancelled.status is S.CANCELLED
    assert instance in vast.instances  # still there: the user must be told
    log = await vq.read_log(task_id)
    assert f"instance {instance} is LEFT RUNNING" in log and "could not reach the host" in log


async def test_an_unanswered_approval_rents_nothing_against_local_vast_api(
    vq: TaskQueue, vast: VastServer
) -> None:
    vq.executor_settings.update(vast_require_approval=True, vast_approval_timeout_s=0.2)
    unanswered = await run(vq, T.VAST_CREATE, offer_id=101, image="busybox")
    assert unanswered.error_code == C.QUEUE_QUESTION_TIMEOUT.value
    assert vast.creates == []
    assert "nothing was rented" in await vq.read_log(unanswered.id)


async def test_a_refused_destroy_says_the_instance_may_still_cost_against_local_vast_api(
    vq: TaskQueue, vast: VastServer
) -> None:
    instance = vast.rent(vast.offers[0], {"image": "busybox", "disk": 10})
    vast.fail["destroy"] = (500, "server_error", "could not reach the host")
    refused = await run(vq, T.VAST_DESTROY, instance_id=instance)
    assert refused.error_code == C.VAST_INSTANCE_DESTRUCTION_FAILED.value
    assert "could not reach the host" in refused.error and "costing money" in refused.error


async def test_a_server_error_gives_its_message_against_local_vast_api(
    vq: TaskQueue, vast: VastServer
) -> None:
    vast.fail["list"] = (500, "server_error", "the database is down")
    broken = await run(vq, T.VAST_LIST)
    assert broken.error_code == C.VAST_API_ERROR.value
    assert "the database is down" in broken.error


async def test_a_server_that_does_not_answer_times_out_against_local_vast_api(
    vq: TaskQueue, vast: VastServer
) -> None:
    vast.hold["list"] = asyncio.Event()
    vq.executor_settings["vast_request_timeout_s"] = 0.3
    try:
        silent = await run(vq, T.VAST_LIST)
    finally:
        vast.hold["list"].set()
    assert silent.error_code == C.NETWORK_TIMEOUT.value
    assert "vast_request_timeout_s" in silent.error


async def test_a_rent_whose_answer_never_came_warns_and_rents_nothing_more_against_local_vast_api(
    vq: TaskQueue, vast: VastServer
) -> None:
    """The server made the instance but its answer came after the time limit: the task says an
    instance may be running and is not retried by itself, though it has retries left."""
    vast.late["create"] = asyncio.Event()
    vq.executor_settings["vast_request_timeout_s"] = 0.3
    task_id = await vq.add_task(
        Task(T.VAST_CREATE, {"image": "busybox"}, max_retries=2, retry_backoff=0.01)
    )
    try:
        done = await vq.wait_for(task_id, timeout_s=30)
    finally:
        vast.late["create"].set()
    assert done.error_code == C.NETWORK_TIMEOUT.value
    assert done.retry_count == 0 and len(vast.creates) == 1 and len(vast.instances) == 1
    assert "may have been made" in done.error and "VAST_LIST" in done.error
    assert done.error_details["instance_may_exist"] is True
    assert "WARNING: no answer came to renting offer" in await vq.read_log(task_id)


async def test_a_missing_key_entry_says_which_against_local_vast_api(vq: TaskQueue) -> None:
    missing = await run(vq, T.VAST_LIST, keyring_name="no-such-entry")
    assert missing.error_code == C.CREDENTIAL_NOT_FOUND.value
    assert "no-such-entry" in missing.error
