"""Git's own smart HTTP server on 127.0.0.1: Debian git's `git-http-backend` (a CGI program)
behind a small aiohttp adapter, serving the repositories of one folder. With `user` set, every
request must carry that user's basic auth (else 401, as a private repository answers)."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from aiohttp import web

BACKEND = Path("/usr/lib/git-core/git-http-backend")


def _cgi_env(request: web.Request, root: Path, user: str | None) -> dict[str, str]:
    env = {
        "GIT_PROJECT_ROOT": str(root),
        "GIT_HTTP_EXPORT_ALL": "1",
        "PATH_INFO": request.path,
        "QUERY_STRING": request.query_string,
        "REQUEST_METHOD": request.method,
        "CONTENT_TYPE": request.headers.get("Content-Type", ""),
        "REMOTE_ADDR": request.remote or "127.0.0.1",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "GATEWAY_INTERFACE": "CGI/1.1",
    }
    if user:
        env["REMOTE_USER"] = user
    if "Git-Protocol" in request.headers:
        env["GIT_PROTOCOL"] = request.headers["Git-Protocol"]
    return env


def _response(output: bytes) -> web.Response:
    head, _, body = output.partition(b"\r\n\r\n")
    if not _:
        head, _, body = output.partition(b"\n\n")
    response = web.Response(body=body)
    for line in head.decode("latin-1").splitlines():
        name, _, value = line.partition(":")
        if name.lower() == "status":
            response.set_status(int(value.strip().split()[0]))
        elif name:
            response.headers[name.strip()] = value.strip()
    return response


@asynccontextmanager
async def git_http_server(
    root: Path, user: str | None = None, password: str | None = None
) -> AsyncIterator[str]:
    """Serve the repositories under `root`; yields the base URL (http://127.0.0.1:PORT)."""
    expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode() if user else None

    async def handle(request: web.Request) -> web.StreamResponse:
        if expected is not None and request.headers.get("Authorization") != expected:
            return web.Response(status=401, headers={"WWW-Authenticate": 'Basic realm="git"'})
        body = await request.read()  # aiohttp has already undone a gzip Content-Encoding
        proc = await asyncio.create_subprocess_exec(
            str(BACKEND),
            env={**_cgi_env(request, root, user), "CONTENT_LENGTH": str(len(body))},
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, _err = await proc.communicate(body)
        return _response(out)

    app = web.Application()
    app.router.add_route("*", "/{path:.*}", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        host, port = runner.addresses[0][:2]
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()
