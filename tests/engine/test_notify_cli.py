"""`qtqueue add --notify-webhook URL` (the real command in a subprocess): the task's summary
reaches a local aiohttp receiver on 127.0.0.1 when `qtqueue run --until-idle` has run it."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from aiohttp import web
from helpers.cli import ok, qtqueue_command


async def test_add_notify_webhook_posts_the_summary_when_the_task_ends_against_local_receiver(
    tmp_path: Path, data_dir: Path
) -> None:
    bodies: list[dict[str, object]] = []

    async def hook(request: web.Request) -> web.Response:
        bodies.append(json.loads(await request.read()))
        return web.Response()

    app = web.Application()
    app.add_routes([web.post("/ended", hook)])
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/ended"
    cli = qtqueue_command(tmp_path, data_dir=data_dir)
    try:
        added = await asyncio.to_thread(
            cli, "add", "command", "--notify-webhook", url, "--", "echo", "hi"
        )
        task_id = ok(added).strip()
        ok(await asyncio.to_thread(cli, "run", "--until-idle"))
        refused = await asyncio.to_thread(
            cli, "add", "command", "--notify-webhook", "file:///etc/passwd", "--", "true"
        )
    finally:
        await runner.cleanup()
    [body] = bodies  # posted before the engine closed
    assert body["id"] == task_id and body["status"] == "completed"
    assert body["type"] == "custom_command" and body["event"] == "task.ended"
    assert refused.returncode == 1 and "notify_webhook: must be an http" in refused.stderr
