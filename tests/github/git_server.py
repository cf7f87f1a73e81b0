"""Git's own smart HTTP server on 127.0.0.1, for the github family's clone and push tests.

Debian git's `git-http-backend` (a CGI program) behind a small aiohttp adapter of this suite's
own that checks basic auth (every request, as a private GitHub repository does: 401 with
`WWW-Authenticate` until the right user and token come) and streams the program's output as it
is written, so a client sees its progress while a pack is still being sent. A server can be
told to hold a pack half-sent (`stall`) until the test lets it go: how a slow server looks to a
clone that is cancelled meanwhile, without any timing in the test.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import signal
import subprocess
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web
from loopback import serve

BACKEND = Path("/usr/lib/git-core/git-http-backend")
#: The pack bytes a stalled server sends before it holds the rest back.
STALL_AFTER_BYTES = 256 * 1024


@dataclass
class GitServer:
    """A running server: its base URL, the folder of bare repositories it serves, the login it
    wants, and the switch that makes it hold packs half-sent."""

    url: str
    root: Path
    user: str
    password: str
    stall: bool = False
    """Hold every pack (an upload-pack answer) after STALL_AFTER_BYTES until `release`."""
    stalled: asyncio.Event = field(default_factory=asyncio.Event)
    """Set once a pack is being held."""
    release: asyncio.Event = field(default_factory=asyncio.Event)
    """Set to let held packs go on (the server sets it itself when it stops)."""
    backends: set[int] = field(default_factory=set)
    """Pids of the CGI programs running now (the server stops any left, by pid)."""


def _cgi_env(request: web.Request, root: Path, user: str) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "GIT_PROJECT_ROOT": str(root),
        "GIT_HTTP_EXPORT_ALL": "1",
        "REMOTE_USER": user,
        "PATH_INFO": request.path,
        "QUERY_STRING": request.query_string,
        "REQUEST_METHOD": request.method,
        "CONTENT_TYPE": request.headers.get("Content-Type", ""),
        "REMOTE_ADDR": request.remote or "127.0.0.1",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "GATEWAY_INTERFACE": "CGI/1.1",
    }
    if "Git-Protocol" in request.headers:
        env["GIT_PROTOCOL"] = request.headers["Git-Protocol"]
    return env


async def _read_head(stdout: asyncio.StreamReader) -> tuple[int, dict[str, str]]:
    """The CGI program's status and headers (up to the blank line)."""
    status = 200
    headers: dict[str, str] = {}
    while True:
        line = (await stdout.readline()).decode("latin-1").rstrip("\r\n")
        if not line:
            return status, headers
        name, _, value = line.partition(":")
        if name.lower() == "status":
            status = int(value.strip().split()[0])
        else:
            headers[name.strip()] = value.strip()


@asynccontextmanager
async def git_server(root: Path, user: str, password: str) -> AsyncIterator[GitServer]:
    """Serve the bare repositories under `root` to `user`:`password` on 127.0.0.1."""
    expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
    server = GitServer(url="", root=root, user=user, password=password)

    async def handle(request: web.Request) -> web.StreamResponse:
        if request.headers.get("Authorization") != expected:
            return web.Response(status=401, headers={"WWW-Authenticate": 'Basic realm="git"'})
        body = await request.read()  # aiohttp has already undone a gzip Content-Encoding
        proc = await asyncio.create_subprocess_exec(
            str(BACKEND),
            env={**_cgi_env(request, root, user), "CONTENT_LENGTH": str(len(body))},
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            start_new_session=True,  # its own group: git upload-pack below it is stopped too
        )
        server.backends.add(proc.pid)
        try:
            assert proc.stdin is not None and proc.stdout is not None
            with contextlib.suppress(ConnectionError):  # it may answer without reading
                proc.stdin.write(body)
                await proc.stdin.drain()
            proc.stdin.close()
            status, headers = await _read_head(proc.stdout)
            response = web.StreamResponse(status=status, headers=headers)
            await response.prepare(request)
            holds = server.stall and request.path.endswith("/git-upload-pack")
            sent = 0
            while chunk := await proc.stdout.read(16384):
                await response.write(chunk)
                sent += len(chunk)
                if holds and sent >= STALL_AFTER_BYTES and not server.release.is_set():
                    server.stalled.set()
                    await server.release.wait()
            await proc.wait()
            await response.write_eof()
            return response
        finally:
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
            with contextlib.suppress(ConnectionError):
                await proc.stdout.read()  # to its end: the pipe is closed
            await proc.wait()
            server.backends.discard(proc.pid)

    app = web.Application()
    app.router.add_route("*", "/{path:.*}", handle)
    # Handlers stop when their client goes (a cancelled clone), and stopping waits 5 s at most.
    async with serve(app, handler_cancellation=True, shutdown_timeout=5) as url:
        server.url = url
        try:
            yield server
        finally:
            server.release.set()
            for pid in list(server.backends):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGKILL)


def git(*args: str, cwd: Path | None = None) -> str:
    """Run git (the test's own, for setting repositories up and looking at them); its stdout.
    It blocks: never point it at a server running on the test's own event loop."""
    env = {
        **os.environ,
        "LC_ALL": "C",
        "GIT_AUTHOR_NAME": "Test",
        "GIT_AUTHOR_EMAIL": "test@example.invalid",
        "GIT_COMMITTER_NAME": "Test",
        "GIT_COMMITTER_EMAIL": "test@example.invalid",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_TERMINAL_PROMPT": "0",
    }
    done = subprocess.run(
        ["git", *args],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return done.stdout


def make_bare_repo(root: Path, name: str, files: dict[str, bytes], branch: str = "main") -> Path:
    """A bare repository `root/name.git` whose `branch` has one commit of `files`; pushes to
    it are allowed (`http.receivepack`)."""
    work = Path(tempfile.mkdtemp(prefix=f"{name}-work-", dir=root.parent))
    git("init", "-q", "-b", branch, str(work))
    for path, data in files.items():
        target = work / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", "first", cwd=work)
    bare = root / f"{name}.git"
    git("clone", "-q", "--bare", str(work), str(bare))
    git("config", "http.receivepack", "true", cwd=bare)
    return bare
