"""Open streams and the API key, in process (a real engine, real HTTP on 127.0.0.1, the real
Secret Service keyring): an `/events` stream or a followed log ends cleanly once the key it
was opened with is rotated away or expires (the client's reconnection then gets 401), and a
client that closes its `/events` stream is unsubscribed without waiting for an event."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from helpers.waiting import eventually

from qtqueue.api.http import sse
from qtqueue.api.http.server import HttpServer
from qtqueue.api.keys import ApiKeys
from qtqueue.core.task import Task, TaskStatus
from qtqueue.engine.queue import TaskQueue

pytestmark = pytest.mark.usefixtures("secret_service")

#: A task that writes a line and then runs for longer than any test here.
TALKER = {"task_type": "custom_command",
          "params": {"command": "sh", "args": ["-c", "echo talking; sleep 60"]}}  # fmt: skip


@pytest.fixture
async def server(queue: TaskQueue) -> AsyncIterator[HttpServer]:
    async with HttpServer(queue, "127.0.0.1", 0) as served:
        yield served


@pytest.fixture
async def talking(queue: TaskQueue) -> str:
    """A running task whose log has its first line."""
    task_id = await queue.add_task(Task.from_dict(TALKER))

    async def spoke() -> bool:
        task = await queue.get_task(task_id)
        return task.status == TaskStatus.RUNNING and "talking" in await queue.read_log(task_id)

    await eventually(spoke, what="the task runs and writes")
    return task_id


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def _to_the_end(resp: aiohttp.ClientResponse) -> bytes:
    """The rest of a streamed reply; fails if it is cut rather than ended."""
    async with asyncio.timeout(10):
        return await resp.content.read()  # a cut chunked reply raises ClientPayloadError


async def test_open_streams_end_when_their_key_is_rotated_and_the_client_then_gets_401(
    server: HttpServer, queue: TaskQueue, data_dir: Path, talking: str
) -> None:
    keys = ApiKeys(data_dir)
    old = keys.current().secret
    async with aiohttp.ClientSession(headers=_bearer(old)) as session:
        events = await session.get(server.url + "/events")
        log = await session.get(f"{server.url}/tasks/{talking}/log?follow=1")
        assert (events.status, log.status) == (200, 200)
        assert (await events.content.readline()).startswith(b"event: hello")
        assert b"talking" in await log.content.readline()

        new = (await asyncio.to_thread(keys.rotate)).secret
        await _to_the_end(events)
        await _to_the_end(log)
        assert (await queue.get_task(talking)).status == TaskStatus.RUNNING  # not the task's end
        events.release(), log.release()

        for path in ("/events", f"/tasks/{talking}/log?follow=1"):
            async with session.get(server.url + path) as again:
                assert again.status == 401
                assert (await again.json())["error"]["code"] == "API_KEY_REQUIRED"
            async with session.get(server.url + path, headers=_bearer(new)) as fresh:
                assert fresh.status == 200


async def test_open_streams_end_when_their_key_expires(
    server: HttpServer, data_dir: Path, talking: str
) -> None:
    keys = ApiKeys(data_dir)
    expires = time.time() + 1.5
    key = (await asyncio.to_thread(keys.rotate, expires_at=expires)).secret
    async with aiohttp.ClientSession(headers=_bearer(key)) as session:
        events = await session.get(server.url + "/events")
        log = await session.get(f"{server.url}/tasks/{talking}/log?follow=1")
        assert (events.status, log.status) == (200, 200)
        await _to_the_end(events)
        await _to_the_end(log)
        assert time.time() >= expires
        async with session.get(server.url + "/events") as again:
            assert again.status == 401
            assert "expired" in (await again.json())["error"]["message"]


async def test_a_closed_events_client_is_unsubscribed_without_waiting_for_an_event(
    server: HttpServer, queue: TaskQueue, data_dir: Path
) -> None:
    assert server.app is not None
    broadcast = server.app[sse.BROADCAST]
    async with aiohttp.ClientSession(headers=_bearer(ApiKeys(data_dir).current().secret)) as s:
        streams = [await s.get(server.url + "/events") for _ in range(3)]
        for resp in streams:
            assert (await resp.content.readline()).startswith(b"event: hello")
        assert len(broadcast.clients) == 3
        for resp in streams:
            resp.close()  # the connection goes; no event follows, no keepalive is due
        await eventually(lambda: not broadcast.clients, timeout_s=5, what="clients dropped")
        assert not server.app[sse.STREAMS].open
        assert sse.KEEPALIVE_S > 5  # so it was not a keepalive's failed write that found out
