"""A real Prometheus (Debian's `prometheus` 2.42) on 127.0.0.1 scrapes the engine's `/metrics`
every second, sending the bearer key its configuration names (refused without it), and answers
a query with the engine's count: what a user's own monitoring sees."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import pytest
from helpers.queues import QueueFactory
from helpers.waiting import eventually

from api.metrics_env import PROMETHEUS, prometheus
from qtqueue.api.http.server import HttpServer
from qtqueue.api.keys import ApiKeys
from qtqueue.core.task import Task

pytestmark = [
    pytest.mark.skipif(
        PROMETHEUS is None, reason="Debian's prometheus is not installed (apt install prometheus)"
    ),
    pytest.mark.usefixtures("secret_service"),  # the API key is in the keyring
]


async def _ok(task_id: str, params: dict[str, Any]) -> dict[str, Any]:
    return {}


async def _query(session: aiohttp.ClientSession, base: str, query: str) -> list[Any]:
    """The result vector of an instant query (empty while Prometheus has no sample yet)."""
    try:
        async with session.get(f"{base}/api/v1/query", params={"query": query}) as r:
            if r.status != 200:
                return []
            body = await r.json()
    except aiohttp.ClientConnectionError:
        return []  # still starting
    assert body["status"] == "success", body
    return body["data"]["result"]  # type: ignore[no-any-return]


async def test_prometheus_scrapes_the_engine_and_answers_a_query(
    make_queue: QueueFactory, tmp_path: Path
) -> None:
    queue = await make_queue()
    queue.register_handler("ok", _ok)
    await queue.set_queue("reports")
    for tid in await queue.add_tasks(Task("ok", {}, queue="reports") for _ in range(3)):
        await queue.wait_for(tid, timeout_s=20)
    key = ApiKeys(queue.data_dir).current().secret  # the engine's own key, from the keyring
    server = HttpServer(queue)
    async with server, aiohttp.ClientSession() as session:
        target = f"127.0.0.1:{server.port}"
        with prometheus(tmp_path / "prometheus", target, key) as base:

            async def completed() -> list[Any]:
                return [
                    r
                    for r in await _query(session, base, "jobs_completed_total")
                    if r["value"][1] == "3"
                ]

            [series] = await eventually(completed, timeout_s=30, what="jobs_completed_total = 3")
            assert series["metric"]["queue"] == "reports" and series["metric"]["task_type"] == "ok"
            assert series["metric"]["job"] == "qtqueue" and series["metric"]["instance"] == target
            up = await _query(session, base, 'up{job="qtqueue"}')
            assert [r["value"][1] for r in up] == ["1"]
            depth = await _query(session, base, 'queue_depth{queue="reports"}')
            assert [r["value"][1] for r in depth] == ["0"]
