"""A tiny Kubernetes API on 127.0.0.1 that checks bearer tokens, which kmock's emulator does
not: a request without `Authorization: Bearer <token>` gets the API server's documented 401
(a `Status` with reason Unauthorized); with it, a list of ConfigMaps answers (empty), and
every other path the documented 404. Enough for K8S_GET against a cluster that checks who
asks."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from aiohttp import web


def status(code: int, reason: str, message: str) -> web.Response:
    """The API server's `Status` body for a failure."""
    return web.json_response(
        {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": message,
            "reason": reason,
            "code": code,
        },
        status=code,
    )


@dataclass
class AuthServer:
    """Where it listens, and the Authorization headers it was sent."""

    url: str
    seen: list[str] = field(default_factory=list)


@contextlib.asynccontextmanager
async def auth_server(token: str) -> AsyncIterator[AuthServer]:
    """Serve on a free port of 127.0.0.1 until the block ends."""
    server = AuthServer("")

    async def handle(request: web.Request) -> web.Response:
        header = request.headers.get("Authorization", "")
        server.seen.append(header)
        if header != f"Bearer {token}":
            return status(401, "Unauthorized", "Unauthorized")
        if request.method == "GET" and request.path.endswith("/configmaps"):
            return web.json_response(
                {"kind": "ConfigMapList", "apiVersion": "v1", "metadata": {}, "items": []}
            )
        return status(404, "NotFound", "the server could not find the requested resource")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    server.url = f"http://127.0.0.1:{port}"
    try:
        yield server
    finally:
        await runner.cleanup()
