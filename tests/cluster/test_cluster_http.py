"""`qtqueue run --redis URL --http ADDR`: the REST API, the admin page and /metrics of a cluster,
for real — a real redis-server, real `qtqueue worker` processes and the real server in a
subprocess, reached over HTTP with the data directory's API key (kept in a real keyring)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
from pathlib import Path
from typing import Any

import aiohttp
import psutil
import pytest
from aiohttp import web
from api.admin_env import browser_missing, chromium, read_png
from cluster_control_env import background_worker
from cluster_env import RedisServer, free_port, redis_server, run_workers
from cluster_http_env import cluster_http, sample
from helpers.cli import qtqueue_command, refused
from helpers.waiting import wait_until

from qtqueue.api.http.app import build_app
from qtqueue.cluster.backend import ClusterBackend
from qtqueue.cluster.http_engine import ClusterEngine

pytestmark = pytest.mark.usefixtures("secret_service")  # the API key is in the keyring


def shell(line: str, **fields: object) -> dict[str, object]:
    """The body of `POST /tasks/` for a custom_command running `line` through /bin/sh."""
    return {"task_type": "custom_command", "params": {"command": line, "shell": True}, **fields}


def test_a_task_posted_over_rest_runs_on_a_worker_and_the_list_filters_orders_and_pages(
    redis: RedisServer, tmp_path: Path
) -> None:
    with cluster_http(redis.url, tmp_path) as api:
        status, added = api.request(
            "POST", "/tasks/", shell("echo made-over-rest", name="greet", category="ops")
        )
        assert status == 201, added
        greet = added["task"]
        assert (greet["status"], greet["created_by"], greet["queue"]) == ("pending", "admin",
                                                                          "default")  # fmt: skip
        status, broke = api.request(
            "POST", "/tasks/", shell("exit 3", name="broke", category="ci", max_retries=0)
        )
        assert status == 201, broke
        dead = shell("exit 4", name="dead", category="ci", max_retries=1, retry_backoff=[0])
        assert api.request("POST", "/tasks/", dead)[0] == 201
        assert api.get(f"/tasks/{greet['id']}")["task"]["status"] == "pending"

        assert [w.returncode for w in run_workers(redis.url, tmp_path)] == [0]

        shown = api.get(f"/tasks/{greet['id'][:8]}")["task"]  # a prefix, as locally
        assert (shown["id"], shown["status"], shown["result"]) == (greet["id"], "completed",
                                                                   {"exit_code": 0})  # fmt: skip
        assert "made-over-rest" in api.get(f"/tasks/{greet['id']}/log")
        assert "made-over-rest" in api.get(f"/tasks/{greet['id'][:8]}/log?follow=1")  # ends
        failed = api.get(f"/tasks/{broke['task']['id']}")["task"]
        assert failed["status"] == "failed" and failed["error_code"]

        done = api.get("/tasks/?status=completed")
        assert ([t["id"] for t in done["tasks"]], done["total"]) == ([greet["id"]], 1)
        ci = api.get("/tasks/?category=ci")
        assert [t["name"] for t in ci["tasks"]] == ["dead", "broke"]  # newest first
        newest = api.get("/tasks/?limit=1")
        assert ([t["name"] for t in newest["tasks"]], newest["total"]) == (["dead"], 3)
        by_name = api.get("/tasks/?sort=name&limit=1&offset=2")
        assert [t["name"] for t in by_name["tasks"]] == ["greet"]
        assert api.get("/tasks/?status=pending,running")["total"] == 0
        stats = api.get("/tasks/stats/queue")
        assert stats["status_distribution"] == {"completed": 1, "failed": 2}
        assert stats["summary"]["dead_letters"] == 1  # "dead" used its retry; "broke" had none
        m = api.samples()  # RQ's failed registry holds both
        assert sample(m, "cluster_dead_letters", queue="default") == 2
        assert sample(m, "cluster_jobs", queue="default", state="finished") == 1

        status, bad = api.request("GET", "/tasks/?sort=size")
        assert (status, bad["error"]["code"]) == (400, "VALIDATION_INVALID_PARAMS")
        status, missing = api.request("GET", "/tasks/nosuchtask")
        assert (status, missing["error"]["code"]) == (404, "QUEUE_TASK_NOT_FOUND")
    assert "Traceback" not in api.log.read_text()
    audit = (tmp_path / "q" / "audit.log").read_text()
    assert f"admin POST /tasks/ task_id={greet['id']} -> 201" in audit


def test_metrics_show_depth_and_worker_states_and_delete_cancels_a_running_task(
    redis: RedisServer, tmp_path: Path
) -> None:
    pid_file, go = tmp_path / "t.pid", tmp_path / "t.go"
    hold = f"echo $$ > {pid_file}.tmp; mv {pid_file}.tmp {pid_file}; until [ -e {go} ]; do sleep 0.05; done"  # noqa: E501
    with (
        cluster_http(redis.url, tmp_path) as api,
        background_worker(redis.url, tmp_path, "w0", client=redis.client),
    ):
        wait_until(lambda: sample(api.samples(), "cluster_workers", state="idle") == 1,
                   what="w0 idle in the metrics")  # fmt: skip
        status, held = api.request("POST", "/tasks/", shell(hold, name="hold", max_retries=0))
        assert status == 201, held
        wait_until(pid_file.exists, what="the task's command")
        status, later = api.request("POST", "/tasks/", shell("true", name="later",
                                                            priority="low"))  # fmt: skip
        assert status == 201, later

        m = api.samples()
        assert sample(m, "cluster_workers", state="busy") == 1
        assert sample(m, "cluster_workers", state="idle") == 0
        assert sample(m, "cluster_workers", state="suspended") == 0
        assert sample(m, "tasks_running", queue="default") == 1
        assert sample(m, "queue_depth", queue="low_priority") == 1
        assert sample(m, "queue_depth", queue="default") == 0
        assert sample(m, "cluster_jobs", queue="low_priority", state="queued") == 1
        assert sample(m, "cluster_up") == 1
        helps = api.helps()
        assert "idle, busy, suspended" in helps["cluster_workers"]
        assert "dead letters" in helps["cluster_dead_letters"]

        shell_pid = int(pid_file.read_text())
        status, cancelled = api.request("DELETE", f"/tasks/{held['task']['id']}")
        assert status == 200, cancelled
        wait_until(lambda: not psutil.pid_exists(shell_pid)
                   or psutil.Process(shell_pid).status() == psutil.STATUS_ZOMBIE,
                   what="the cancelled task's shell gone")  # fmt: skip
        wait_until(lambda: api.get(f"/tasks/{held['task']['id']}")["task"]["status"]
                   == "cancelled", what="cancelled")  # fmt: skip
        wait_until(lambda: api.get(f"/tasks/{later['task']['id']}")["task"]["status"]
                   == "completed", what="the next task run")  # fmt: skip

        def counted() -> bool:
            m = api.samples()
            return (sample(m, "cluster_worker_jobs_total", worker="w0", outcome="completed") == 1
                    and sample(m, "queue_depth", queue="low_priority") == 0
                    and sample(m, "cluster_workers", state="idle") == 1)  # fmt: skip

        wait_until(counted, what="w0's completed job counted, idle again")
    assert "Traceback" not in api.log.read_text()


def test_what_a_cluster_does_not_do_answers_its_code_and_redis_gone_is_503_not_500(
    tmp_path: Path,
) -> None:
    with contextlib.ExitStack() as stack:
        server = stack.enter_context(redis_server(tmp_path / "redis"))
        api = stack.enter_context(cluster_http(server.url, tmp_path))
        status, added = api.request("POST", "/tasks/", shell("true", name="t"))
        assert status == 201, added
        task_id = added["task"]["id"]
        status, moved = api.request("POST", f"/tasks/{task_id}/priority", {"priority": "high"})
        assert status == 200 and moved["task"]["queue"] == "high_priority", moved  # as locally
        refusals = [
            api.request("POST", "/schedules/", {"name": "nightly", "cron": "0 3 * * *"}),
        ]
        for status, body in refusals:
            assert (status, body["error"]["code"]) == (501, "CLUSTER_NOT_SUPPORTED"), body
            assert body["error"]["suggestion"]
        # Pausing dispatch pauses the whole cluster (`cluster_pause.py`), as locally.
        status, stopped = api.request("POST", "/tasks/worker/stop")
        assert (status, stopped["queue_paused"]) == (200, True), stopped
        assert sample(api.samples(), "queue_paused") == 1
        status, started = api.request("POST", "/tasks/worker/start")
        assert (status, started["queue_paused"]) == (200, False), started
        status, page = api.request("GET", "/admin/tasks")
        assert status == 200 and '"kind":"cluster"' in page

        os.kill(server.pid, signal.SIGKILL)  # Redis goes away under the running server
        gone = lambda: psutil.Process(server.pid).status() == psutil.STATUS_ZOMBIE  # noqa: E731
        wait_until(gone, what="redis-server gone (its fixture reaps it)")
        status, body = api.request("GET", "/tasks/")
        assert (status, body["error"]["code"]) == (503, "CLUSTER_REDIS_UNAVAILABLE"), body
        assert sample(api.samples(), "cluster_up") == 0
    assert "Traceback" not in api.log.read_text()


def test_a_password_in_the_url_or_redis_down_at_the_start_is_a_coded_error(
    tmp_path: Path,
) -> None:
    run = qtqueue_command(tmp_path)
    secret = "hunter2-not-in-argv"
    said = refused(run("run", "--redis", f"redis://:{secret}@127.0.0.1:6379/0", "--http",
                       "127.0.0.1:0"), "CLUSTER_REDIS_PASSWORD_IN_URL", exit_status=2)  # fmt: skip
    assert secret not in said
    down = f"redis://127.0.0.1:{free_port()}/0"
    said = refused(run("run", "--redis", down, "--http", "127.0.0.1:0"),
                   "CLUSTER_REDIS_UNAVAILABLE")  # fmt: skip
    assert "cannot reach the cluster's Redis" in said
    no_http = run("run", "--redis", down)
    assert no_http.returncode == 2 and "--http HOST:PORT" in no_http.stderr
    engine_option = run("run", "--redis", down, "--http", "127.0.0.1:0", "--until-idle")
    assert engine_option.returncode == 2 and "runs no tasks" in engine_option.stderr
    assert "Traceback" not in no_http.stderr + engine_option.stderr


def _css(browser: Any, selector: str) -> list[Any]:
    from selenium.webdriver.common.by import By

    return list(browser.find_elements(By.CSS_SELECTOR, selector))


def _text(browser: Any, selector: str) -> str:
    found = _css(browser, selector)
    return str(found[0].text) if len(found) == 1 else ""


@pytest.mark.skipif(browser_missing() is not None, reason=browser_missing() or "")
def test_the_admin_page_on_a_cluster_shows_its_tasks_its_workers_and_what_it_lacks(
    redis: RedisServer, tmp_path: Path
) -> None:
    """Set QTQUEUE_ADMIN_SCREENSHOT=PATH to keep the page's picture."""
    from selenium.webdriver.support.ui import WebDriverWait

    pid_file, go = tmp_path / "t.pid", tmp_path / "t.go"
    hold = f"echo 40%; echo $$ > {pid_file}; until [ -e {go} ]; do sleep 0.05; done"
    with (
        cluster_http(redis.url, tmp_path) as api,
        background_worker(redis.url, tmp_path, "w0", client=redis.client),
        chromium(tmp_path / "chromium") as browser,
    ):
        lines = (("lint", "true"), ("broken", "exit 2"), ("build", hold))
        posts = [api.request("POST", "/tasks/", shell(line, name=name, max_retries=0))
                 for name, line in lines]  # fmt: skip
        ids = [body["task"]["id"] for _, body in posts]
        wait_until(pid_file.exists, what="the build running")

        def until(condition: Any, what: str) -> Any:
            return WebDriverWait(browser, 20).until(condition, message=what)

        browser.get(api.url + "/admin/tasks")
        field = _css(browser, "#key-input")[0]
        field.send_keys(api.key)
        _css(browser, "#key-submit")[0].click()

        def row_status(task_id: str) -> str | None:
            rows = _css(browser, f'tr[data-task-id="{task_id}"]')
            return rows[0].get_attribute("data-status") if rows else None

        for task_id, status in zip(ids, ("completed", "failed", "running"), strict=True):
            until(lambda b, t=task_id, s=status: row_status(t) == s, f"a task {status}")
        until(lambda b: _text(b, 'tr[data-worker="w0"] .worker-state') == "busy", "w0 busy")
        assert "1 live · 1 busy" in _text(browser, "#workers-summary")
        note = _text(browser, "#cluster-note")
        assert f"Redis at 127.0.0.1:{redis.port}" in note
        assert "Not available on a cluster: pausing the whole queue" in note
        assert "approval" not in note and "live events" not in note  # both work on a cluster
        assert not _css(browser, "#dispatch-toggle")[0].is_displayed()
        until(lambda b: _text(b, 'button[data-filter="all"] .count') == "3", "the counts")
        state = _css(browser, "#connection")[0].get_attribute("data-state")
        assert state == "live"  # the page follows the cluster's events (/events)

        png = browser.get_screenshot_as_png()
        if os.environ.get("QTQUEUE_ADMIN_SCREENSHOT"):
            target = Path(os.environ["QTQUEUE_ADMIN_SCREENSHOT"])
            target.write_bytes(png)
            dark = [{"name": "prefers-color-scheme", "value": "dark"}]
            browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": dark})
            target.with_stem(target.stem + "_dark").write_bytes(browser.get_screenshot_as_png())
        assert len(read_png(png, max_rows=400).colours()) > 50  # text, badges: not blank
        go.touch()
        until(lambda b: row_status(ids[2]) == "completed", "the build completed, read again")


class _EventsBackend(ClusterBackend):
    """A ClusterBackend with the event stream CPORT adds (`events()`: an async iterator of
    event dicts), here three changes and then Redis gone, as a pub/sub reader would end."""

    async def events(self) -> Any:
        for n in range(3):
            await asyncio.sleep(0.05)  # allowed: the events come one by one, as published
            yield {"kind": "changed", "task_id": f"t{n}", "status": "running", "task": None}
        raise ConnectionError("Redis went away")


async def test_events_relays_the_clusters_event_stream_to_its_last_event_then_ends(
    redis: RedisServer, tmp_path: Path
) -> None:
    app = build_app(ClusterEngine(_EventsBackend(redis.url), tmp_path))
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://127.0.0.1:{port}/events") as reply:
                assert reply.status == 200
                text = (await asyncio.wait_for(reply.content.read(), 10)).decode()
            async with session.get(f"http://127.0.0.1:{port}/admin/tasks") as page:
                assert '"live":true' in await page.text()
    finally:
        await runner.cleanup()
    frames = [f for f in text.split("\n\n") if f.startswith("id: ")]
    assert [f.split("\n")[1] for f in frames] == ["event: changed"] * 3  # none lost at the end
    assert [json.loads(f.split("data: ", 1)[1])["task_id"] for f in frames] == ["t0", "t1", "t2"]
