"""Webhooks for task completion (engine/notify.py) against a local aiohttp receiver on
127.0.0.1: a task that completes and one that fails each POST their summary, signed with the
keyring's secret; a receiver that is down or busy is retried and logged, and never changes the
task's outcome; a queue's `notify_webhook` applies to its tasks that name none."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from helpers.queues import QueueFactory
from helpers.waiting import eventually

from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.core.task import Task, TaskStatus
from qtqueue.engine.credentials import KeyringVault
from qtqueue.engine.notify import NOTIFY_DEFAULTS
from qtqueue.engine.queue import TaskQueue
from qtqueue.families.webhook.settings import WebhookSettings

SECRET = "notify-secret-0c4f2a"


class Receiver:
    """Records each POST (headers, body); answers `answers` in turn, then 200."""

    def __init__(self) -> None:
        self.posts: list[tuple[dict[str, str], bytes]] = []
        self.paths: list[str] = []
        self.answers: list[int] = []
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def _hook(self, request: web.Request) -> web.Response:
        self.posts.append((dict(request.headers), await request.read()))
        self.paths.append(request.path)
        status = self.answers.pop(0) if self.answers else 200
        return web.Response(status=status, headers={"Retry-After": "0"})

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _, body in self.posts]

    async def start(self) -> None:
        app = web.Application()
        app.add_routes([web.post("/{name}", self._hook)])
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    server = Receiver()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


async def _ok(task_id: str, params: dict[str, Any]) -> dict[str, Any]:
    return {"answer": params.get("n", 0) * 2}


async def _fail(task_id: str, params: dict[str, Any]) -> dict[str, Any]:
    raise QueueError(TaskErrorCode.NETWORK_TIMEOUT, "the far end never answered")


async def _queue(make_queue: QueueFactory, **settings: Any) -> TaskQueue:
    queue = await make_queue(
        executor_settings={"webhook_notify_backoff_s": 0.0, "webhook_notify_attempts": 3} | settings
    )
    queue.register_handler("ok", _ok)
    queue.register_handler("fail", _fail)
    return queue


async def _ended(queue: TaskQueue, task: Task) -> Task:
    return await queue.wait_for(await queue.add_task(task), timeout_s=20)


@pytest.mark.usefixtures("secret_service")
async def test_a_completed_and_a_failed_task_post_their_signed_summary_against_local_receiver(
    make_queue: QueueFactory, receiver: Receiver
) -> None:
    KeyringVault().set("notify-signing", SECRET)
    queue = await _queue(make_queue, webhook_notify_keyring_entry="notify-signing")
    url = receiver.url + "/ended"
    done = await _ended(queue, Task("ok", {"n": 21}, notify_webhook=url, max_retries=0))
    failed = await _ended(queue, Task("fail", {}, notify_webhook=url, max_retries=0))
    assert done.status is TaskStatus.COMPLETED and failed.status is TaskStatus.FAILED
    await eventually(lambda: len(receiver.posts) == 2, what="two notifications")

    for headers, body in receiver.posts:
        want = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        assert headers["X-Hub-Signature-256"] == want
        assert headers["Content-Type"] == "application/json"
        assert SECRET.encode() not in body
    by_id = {b["id"]: b for b in receiver.bodies()}
    ok, bad = by_id[done.id], by_id[failed.id]
    assert ok["event"] == "task.ended" and ok["type"] == "ok" and ok["status"] == "completed"
    assert ok["result"] == {"answer": 42} and ok["error"] is None
    assert ok["timing"]["completed_at"] == done.completed_at
    assert bad["status"] == "failed" and bad["error"]["code"] == "NETWORK_TIMEOUT"
    assert bad["error"]["message"] == "the far end never answered"
    log = await queue.read_log(done.id)
    assert f"summary posted to {url}: 200" in log and SECRET not in log


async def test_a_receiver_that_is_down_is_retried_and_logged_and_the_outcome_stands(
    make_queue: QueueFactory,
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    queue = await _queue(make_queue)
    url = f"http://127.0.0.1:{port}/down"
    done = await _ended(queue, Task("ok", {"n": 1}, notify_webhook=url, max_retries=0))

    async def gave_up() -> bool:
        return "gave up" in await queue.read_log(done.id)

    await eventually(gave_up, what="the notification given up")
    log = await queue.read_log(done.id)
    assert "try 1/3" in log and "retrying in 0 s" in log and "try 3/3" in log
    after = await queue.get_task(done.id)
    assert after.status is TaskStatus.COMPLETED and after.result == {"answer": 2}
    assert after.error is None and after.error_code is None


async def test_a_busy_receiver_gets_the_summary_on_a_later_try_against_local_receiver(
    make_queue: QueueFactory, receiver: Receiver
) -> None:
    receiver.answers = [503, 429]
    queue = await _queue(make_queue)
    done = await _ended(queue, Task("ok", {}, notify_webhook=receiver.url + "/busy"))
    await eventually(lambda: len(receiver.posts) == 3, what="a third try")
    assert receiver.posts[0][1] == receiver.posts[2][1]  # the same summary each time

    async def posted() -> bool:
        return "summary posted" in await queue.read_log(done.id)

    await eventually(posted, what="the success logged")
    assert "answered 503; retrying" in await queue.read_log(done.id)


async def test_a_queues_notify_webhook_serves_its_tasks_without_their_own_against_local_receiver(
    make_queue: QueueFactory, receiver: Receiver
) -> None:
    queue = await _queue(make_queue)
    shown = await queue.set_queue("hooked", notify_webhook=receiver.url + "/queue")
    assert shown["notify_webhook"] == receiver.url + "/queue"
    plain = await _ended(queue, Task("ok", {}, queue="hooked"))
    own = await _ended(queue, Task("ok", {}, queue="hooked", notify_webhook=receiver.url + "/own"))
    elsewhere = await _ended(queue, Task("ok", {}))  # the default queue has none
    await eventually(lambda: len(receiver.posts) == 2, what="two notifications")
    await queue.settled()
    paths = {b["id"]: path for path, b in zip(receiver.paths, receiver.bodies(), strict=True)}
    assert paths == {plain.id: "/queue", own.id: "/own"}  # the task's own wins
    assert elsewhere.id not in paths

    with pytest.raises(QueueError, match="notify_webhook: must be an http"):
        await queue.set_queue("hooked", notify_webhook="ftp://example.org/x")
    with pytest.raises(QueueError, match="user name or password"):
        await queue.add_task(Task("ok", {}, notify_webhook="https://u:p@example.org/x"))
    with pytest.raises(QueueError, match="longer than 2048"):
        await queue.add_task(Task("ok", {}, notify_webhook="https://a.example/" + "x" * 2048))


async def test_a_tasks_notify_webhook_is_stored_with_it(
    make_queue: QueueFactory, receiver: Receiver
) -> None:
    queue = await make_queue(dispatch=False)
    queue.register_handler("ok", _ok)
    task_id = await queue.add_task(Task("ok", {}, notify_webhook=receiver.url))
    await queue.close()
    reopened = await make_queue(dispatch=False)
    assert (await reopened.get_task(task_id)).notify_webhook == receiver.url


def test_the_settings_page_shows_the_defaults_the_engine_uses() -> None:
    assert WebhookSettings().model_dump() == NOTIFY_DEFAULTS


async def test_a_task_that_ends_while_the_queue_closes_posts_its_summary_against_local_receiver(
    make_queue: QueueFactory, receiver: Receiver
) -> None:
    queue = await _queue(make_queue)
    started, release = asyncio.Event(), asyncio.Event()

    async def slow(task_id: str, params: dict[str, Any]) -> dict[str, Any]:
        started.set()
        await release.wait()
        return {"ok": 1}

    queue.register_handler("slow", slow)
    task_id = await queue.add_task(
        Task("slow", {}, notify_webhook=receiver.url + "/closing", max_retries=0)
    )
    await asyncio.wait_for(started.wait(), timeout=20)
    closing = asyncio.create_task(queue.close("wait"))
    await eventually(lambda: queue.state.closing, what="the queue closing")
    release.set()  # the task completes while close waits for it
    await asyncio.wait_for(closing, timeout=20)
    [body] = receiver.bodies()  # posted before close returned
    assert body["id"] == task_id and body["status"] == "completed"
    assert body["result"] == {"ok": 1}

    await queue.start()  # reopened, it notifies again
    again = await _ended(queue, Task("ok", {}, notify_webhook=receiver.url + "/reopened"))
    await eventually(lambda: len(receiver.posts) == 2, what="the reopened queue's notification")
    assert receiver.bodies()[1]["id"] == again.id
