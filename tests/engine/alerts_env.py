"""A webhook receiver on 127.0.0.1 for the alert tests: records each POST's event header, JSON
body and signature header, answers 200."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web


class AlertReceiver:
    """`await start()`, then `url`; `posts` holds (X-Qtqueue-Event, body) in arrival order,
    `signatures` (X-Hub-Signature-256, raw body) likewise."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, dict[str, Any]]] = []
        self.signatures: list[tuple[str, bytes]] = []
        self.url = ""
        self._runner: web.AppRunner | None = None

    def of(self, event: str) -> list[dict[str, Any]]:
        """The bodies posted with this event header."""
        return [body for name, body in self.posts if name == event]

    async def _post(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.posts.append((request.headers.get("X-Qtqueue-Event", ""), json.loads(body)))
        self.signatures.append((request.headers.get("X-Hub-Signature-256", ""), body))
        return web.Response()

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hook", self._post)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}/hook"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
