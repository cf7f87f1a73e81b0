"""Alerts (engine/alerts.py) on a real engine, with a real webhook receiver on 127.0.0.1: a
task that becomes a dead letter, and a named queue whose backlog passes its `alert_depth`,
each publish a NOTICE (what the tray shows) and POST an alert to the queue's notify_webhook;
the depth alert fires once per crossing and is armed again only once the backlog fell back."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from helpers.cli import ok, qtqueue_command
from helpers.queues import QueueFactory
from helpers.waiting import eventually

from engine.alerts_env import AlertReceiver
from qtqueue.api.actions import run_action
from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.core.task import Task, TaskStatus
from qtqueue.engine.credentials import KeyringVault
from qtqueue.engine.events import EventKind, TaskEvent
from qtqueue.engine.queue import TaskQueue

SECRET = "alert-secret-5b1e"


@pytest.fixture
async def receiver() -> AsyncIterator[AlertReceiver]:
    server = AlertReceiver()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


async def _flaky(task_id: str, params: dict[str, Any]) -> dict[str, Any]:
    raise QueueError(TaskErrorCode.NETWORK_TIMEOUT, "the far end never answered")


async def _noop(task_id: str, params: dict[str, Any]) -> dict[str, Any]:
    return {}


def _notices(queue: TaskQueue) -> list[str]:
    queue.register_handler("noop", _noop)
    seen: list[str] = []

    def on_events(events: list[TaskEvent]) -> None:
        seen.extend(e.detail for e in events if e.kind == EventKind.NOTICE)

    queue.subscribe(on_events)
    return seen


async def _sent(queue: TaskQueue) -> None:
    """Every change durable and every webhook post under way finished."""
    await queue.settled()
    if queue.notifier.pending:
        await asyncio.wait(set(queue.notifier.pending))


@pytest.mark.usefixtures("secret_service")
async def test_a_dead_letter_raises_a_notice_and_posts_a_signed_alert_against_local_receiver(
    make_queue: QueueFactory, receiver: AlertReceiver
) -> None:
    KeyringVault().set("alert-signing", SECRET)
    queue = await make_queue(
        executor_settings={
            "webhook_notify_backoff_s": 0.0,
            "webhook_notify_keyring_entry": "alert-signing",
        }
    )
    queue.register_handler("flaky", _flaky)
    await queue.set_queue("ingest", notify_webhook=receiver.url)
    notices = _notices(queue)
    dead = await queue.add_task(
        Task("flaky", {}, name="fetch feed", queue="ingest", max_retries=1, retry_backoff=0.0)
    )
    once = await queue.add_task(Task("flaky", {}, name="one shot", queue="ingest", max_retries=0))
    assert (await queue.wait_for(dead, timeout_s=20)).dead_letter
    assert not (await queue.wait_for(once, timeout_s=20)).dead_letter
    await eventually(lambda: receiver.of("alert.dead_letter"), what="the dead-letter alert")
    await _sent(queue)

    [alert] = receiver.of("alert.dead_letter")  # the task without retries is no dead letter
    assert alert["queue"] == "ingest" and alert["task_id"] == dead
    assert alert["error_code"] == "NETWORK_TIMEOUT" and alert["retry_count"] == 1
    assert alert["status"] == "failed" and alert["name"] == "fetch feed"
    assert notices == ["dead letter: fetch feed (NETWORK_TIMEOUT)"]
    assert queue.alerts.raised_total["dead_letter"] == 1
    for signature, body in receiver.signatures:  # the alert and the two task summaries
        assert signature == "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert len(receiver.signatures) == 3


async def test_depth_alert_fires_once_per_crossing_with_hysteresis_against_local_receiver(
    make_queue: QueueFactory, receiver: AlertReceiver
) -> None:
    queue = await make_queue()
    await queue.pause_queue()  # tasks wait
    await queue.set_queue("batch", alert_depth=10, notify_webhook=receiver.url)
    notices = _notices(queue)

    async def add(n: int) -> list[str]:
        return await queue.add_tasks(Task("noop", {}, queue="batch") for _ in range(n))

    ids = await add(10)  # 10 waiting: not above 10
    await _sent(queue)
    assert notices == [] and receiver.posts == []
    ids += await add(2)  # 12: above
    ids += await add(3)  # 15: still above, no second alert
    await _sent(queue)
    assert notices == ["queue backlog: 12 tasks wait in 'batch' (alert above 10)"]
    for tid in ids[:5]:  # down to 10: not above, yet above the re-arm level (90 %: 9)...
        await queue.cancel_task(tid)
    await _sent(queue)
    ids += await add(1)  # ...so 11 does not alert again
    await _sent(queue)
    assert len(notices) == 1 and len(receiver.of("alert.queue_depth")) == 1
    for tid in ids[5:7]:  # 11 - 2 = 9: armed again
        await queue.cancel_task(tid)
    ids += await add(2)  # 11
    await _sent(queue)
    assert notices[1:] == ["queue backlog: 11 tasks wait in 'batch' (alert above 10)"]
    bodies = receiver.of("alert.queue_depth")
    assert [(b["queue"], b["depth"], b["alert_depth"]) for b in bodies] == [
        ("batch", 12, 10), ("batch", 11, 10),
    ]  # fmt: skip
    assert queue.alerts.depth["batch"] == 11
    assert next(q for q in queue.list_queues() if q["name"] == "batch")["waiting"] == 11


async def test_the_backlog_an_engine_reopens_with_counts_toward_the_alert(
    make_queue: QueueFactory,
) -> None:
    first = await make_queue()
    first.register_handler("noop", _noop)
    await first.pause_queue()
    await first.set_queue("batch", alert_depth=3)
    await first.add_tasks(Task("noop", {}, queue="batch") for _ in range(3))
    await first.close()
    again = await make_queue()  # the same data directory: still paused, 3 waiting
    notices = _notices(again)
    await again.add_task(Task("noop", {}, queue="batch"))
    await again.settled()
    assert notices == ["queue backlog: 4 tasks wait in 'batch' (alert above 3)"]


async def test_alert_depth_is_set_and_checked_through_the_api_action(queue: TaskQueue) -> None:
    reply = await run_action(
        queue, {"action": "set_queue", "params": {"name": "nightly", "alert_depth": 50}}
    )
    assert reply["ok"] and reply["result"]["queue"]["alert_depth"] == 50
    assert next(q for q in queue.list_queues() if q["name"] == "nightly")["alert_depth"] == 50
    bad = await run_action(
        queue, {"action": "set_queue", "params": {"name": "nightly", "alert_depth": 0}}
    )
    assert not bad["ok"] and bad["error"]["code"] == "VALIDATION_INVALID_PARAMS"
    with pytest.raises(QueueError) as err:
        await queue.set_queue("nightly", alert_depth=2.5)
    assert "alert_depth: must be a whole number" in str(err.value)
    cleared = await queue.set_queue("nightly", alert_depth=None)
    assert cleared["alert_depth"] is None


async def test_a_task_that_completes_raises_no_alert(queue: TaskQueue) -> None:
    notices = _notices(queue)
    done = await queue.wait_for(await queue.add_task(Task("noop", {})), timeout_s=20)
    await queue.settled()
    assert done.status is TaskStatus.COMPLETED and notices == []


def test_queues_set_alert_depth_and_webhook_from_the_command_line(tmp_path: Path) -> None:
    cli = qtqueue_command(tmp_path)
    shown = json.loads(
        ok(cli("queues", "set", "nightly", "--alert-depth", "40",
               "--notify-webhook", "http://127.0.0.1:9/hook", "--json"))
    )  # fmt: skip
    assert shown[0]["alert_depth"] == 40 and shown[0]["notify_webhook"] == "http://127.0.0.1:9/hook"
    table = ok(cli("queues")).splitlines()
    assert table[0].split()[7] == "ALERT-DEPTH"
    assert next(line.split() for line in table if line.startswith("nightly"))[7] == "40"
    cleared = json.loads(ok(cli("queues", "set", "nightly", "--alert-depth", "none", "--json")))
    assert cleared[0]["alert_depth"] is None
    refused_ = cli("queues", "set", "nightly", "--alert-depth", "0")
    assert refused_.returncode != 0 and "must be at least 1" in refused_.stderr
