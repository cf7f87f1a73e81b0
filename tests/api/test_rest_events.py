"""`GET /events`: the engine's changes as server-sent events, in order, to every client."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from api.rest_env import Rest, command, serve
from qtqueue.api.http import sse
from qtqueue.core.task import Task
from qtqueue.engine.queue import TaskQueue

#: The routes sit behind the API key, kept in the real keyring.
pytestmark = pytest.mark.usefixtures("secret_service")

@pytest.fixture
async def rest(queue: TaskQueue) -> AsyncIterator[Rest]:
    async with serve(queue) as client:
        yield client


async def frames(resp: aiohttp.ClientResponse) -> AsyncIterator[dict[str, Any]]:
    """The stream's frames as {"id", "event", "data", "comment"} (what is in each)."""
    frame: dict[str, Any] = {}
    while True:
        line = (await resp.content.readline()).decode()
        if not line:
            return
        line = line.rstrip("\n")
        if not line:
            if frame:
                yield frame
            frame = {}
        elif line.startswith(":"):
            yield {"comment": line[1:].strip()}
        else:
            field, _, value = line.partition(": ")
            frame[field] = json.loads(value) if field == "data" else value


async def test_a_tasks_changes_arrive_in_order(rest: Rest) -> None:
    async with rest.session.get(rest.url + "/events") as resp:
        assert resp.status == 200
        assert resp.content_type == "text/event-stream"
        stream = frames(resp)
        hello = await anext(stream)
        assert hello["event"] == "hello"

        _, body = await rest.post("/tasks/", command("echo", "hi"))
        task_id = body["task"]["id"]
        seen: list[tuple[str, str | None]] = []
        ids: list[int] = []
        async with asyncio.timeout(10):
            async for frame in stream:
                data = frame["data"]
                if data["task_id"] != task_id:
                    continue
                assert frame["event"] == data["kind"]
                ids.append(int(frame["id"]))
                seen.append((data["kind"], data["status"]))
                if data["status"] == "completed":
                    break
        assert seen[0] == ("added", "pending")
        statuses = [s for _, s in seen]
        assert statuses.index("running") < statuses.index("completed")
        assert ids == sorted(ids) and len(set(ids)) == len(ids)


async def test_every_client_gets_every_event(rest: Rest, queue: TaskQueue) -> None:
    async with (
        rest.session.get(rest.url + "/events") as one,
        rest.session.get(rest.url + "/events") as two,
    ):
        streams = [frames(one), frames(two)]
        for stream in streams:
            assert (await anext(stream))["event"] == "hello"
        await queue.pause_queue()
        added = [(await rest.post("/tasks/", command("true")))[1]["task"]["id"] for _ in range(50)]
        for stream in streams:
            got: list[str] = []
            async with asyncio.timeout(10):
                while len(got) < len(added):
                    frame = await anext(stream)
                    if frame.get("event") == "added":
                        got.append(frame["data"]["task_id"])
            assert got == added


async def test_a_client_that_falls_behind_is_told_to_read_again(
    rest: Rest, queue: TaskQueue, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sse, "EVENT_BUFFER", 5)
    await queue.pause_queue()
    async with rest.session.get(rest.url + "/events") as resp:
        stream = frames(resp)
        assert (await anext(stream))["event"] == "hello"
        await queue.add_tasks([Task.from_dict(command("true")) for _ in range(20)])  # one batch
        async with asyncio.timeout(10):
            overflow = await anext(stream)
        assert overflow["event"] == "overflow"
        later = await queue.add_task(Task.from_dict(command("true")))
        async with asyncio.timeout(10):
            after = await anext(stream)
        assert (after["event"], after["data"]["task_id"]) == ("added", later)
        assert int(after["id"]) == int(overflow["id"]) + 1


async def test_a_quiet_stream_sends_keepalive_comments(
    rest: Rest, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sse, "KEEPALIVE_S", 0.05)
    async with rest.session.get(rest.url + "/events") as resp:
        stream = frames(resp)
        assert (await anext(stream))["event"] == "hello"
        async with asyncio.timeout(10):
            assert await anext(stream) == {"comment": "keepalive"}


async def test_the_stream_keeps_up_with_thousands_of_changes_a_second(
    rest: Rest, queue: TaskQueue
) -> None:
    await queue.pause_queue()
    total = 5000
    async with rest.session.get(rest.url + "/events") as resp:
        stream = frames(resp)
        assert (await anext(stream))["event"] == "hello"
        started = time.perf_counter()

        async def add_all() -> None:
            for _ in range(total // 100):
                await queue.add_tasks([Task.from_dict(command("true")) for _ in range(100)])

        adding = asyncio.create_task(add_all())
        got = 0
        async with asyncio.timeout(60):
            async for frame in stream:
                if frame.get("event") == "added":
                    got += 1
                    if got == total:
                        break
                else:
                    assert frame.get("event") != "overflow"
        elapsed = time.perf_counter() - started
        await adding
    rate = total / elapsed
    print(f"\nSSE: {total} task additions streamed in {elapsed:.2f} s ({rate:,.0f} events/s)")
    assert rate > 1000
