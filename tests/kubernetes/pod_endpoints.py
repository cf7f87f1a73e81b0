"""The suite's own Kubernetes API server for `pods/log` and `pods/exec`, in front of kmock.

kmock's `KubernetesEmulator` stores and serves objects (create, get, list, patch, delete, watch)
but has no `pods/{name}/log` or `pods/{name}/exec`. `PodApi` is an aiohttp server on 127.0.0.1
that answers those two as the Kubernetes API documents them and passes every other request on to
the emulator unchanged, so one kubeconfig (one URL, one bearer token) reaches both:

- `GET /api/v1/namespaces/{ns}/pods/{name}/log` (core/v1 "read log of the specified Pod"): the
  query parameters `container`, `follow`, `tailLines`, `sinceSeconds`, `timestamps`; a
  `text/plain` body, chunked and flushed line by line while following, ended when the container
  terminates. A missing pod is a 404 Status (`pods "x" not found`), a container not started yet a
  400 Status (`container "c" in pod "x" is waiting to start: ContainerCreating`), a pod with
  several containers and no `container` a 400 naming them — the kube-apiserver's texts.
  What a container "printed" is what the test wrote with `write_log`; `end_log` terminates it.
- `GET /api/v1/namespaces/{ns}/pods/{name}/exec?command=…&stdout=1&stderr=1` upgraded to a
  WebSocket with subprotocol `v4.channel.k8s.io` (k8s.io/apimachinery remotecommand; KEP-4006
  describes the WebSocket transport): each binary message is one channel byte and the data,
  1 = stdout, 2 = stderr, 3 = the final `metav1.Status` as JSON (`Success`, or `Failure` with
  reason `NonZeroExitCode` and `details.causes[{reason: ExitCode, message: "N"}]`). The command
  runs for real, as a local subprocess in its own session; the client closing the socket kills
  it (by its pid's process group), as the kubelet ends the exec stream.
- Every request must carry `Authorization: Bearer <token>`; otherwise 401 with the Status body
  the kube-apiserver sends. With `exec_forbidden_for` set, exec is refused with RBAC's 403.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import kmock
import pytest
import yaml
from aiohttp import web

from qtqueue.core.task import Task, TaskType
from qtqueue.engine.queue import TaskQueue

CHANNEL_STDOUT = 1
CHANNEL_STDERR = 2
CHANNEL_STATUS = 3
EXEC_PROTOCOL = "v4.channel.k8s.io"
TOKEN = "suite-token-5f1c2a9e"
#: Seconds a task may take here before a test gives up on it.
TASK_S = 20.0
_HOP_HEADERS = {"host", "content-length", "transfer-encoding", "connection", "authorization"}


def status_body(code: int, reason: str, message: str, **details: Any) -> dict[str, Any]:
    """A `metav1.Status` failure, as the kube-apiserver answers an error."""
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    if details:
        body["details"] = details
    return body


def _status(code: int, reason: str, message: str, **details: Any) -> web.Response:
    return web.json_response(status_body(code, reason, message, **details), status=code)


@dataclass
class ContainerLog:
    """What one container printed (time, line), and whether it has terminated."""

    lines: list[tuple[float, str]] = field(default_factory=list)
    ended: bool = False
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def touch(self) -> None:
        self.changed.set()
        self.changed = asyncio.Event()


@dataclass
class ExecRun:
    """One exec the server ran: its argv, pid, and exit status once it ended."""

    argv: list[str]
    pid: int
    returncode: int | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)


class PodApi:
    """The kmock emulator and the pod endpoints in front of it, on 127.0.0.1 (see module doc)."""

    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.logs: dict[tuple[str, str, str], ContainerLog] = {}
        self.execs: list[ExecRun] = []
        self.log_requests: list[dict[str, str]] = []
        #: A user name: exec is refused (403) as RBAC refuses a user without pods/exec.
        self.exec_forbidden_for: str | None = None
        #: Follows that ended because their client closed the connection.
        self.dropped_follows = 0
        self._emulator: kmock.KubernetesEmulator | None = None
        self._emulator_server: kmock.Server | None = None
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self.url = ""
        self.config_path = Path()

    # --- life -----------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the emulator, then this server on a free port of 127.0.0.1."""
        emulator = kmock.KubernetesEmulator()
        await emulator.__aenter__()
        self._emulator = emulator
        emulator.resources["v1/pods"] = kmock.ResourceInfo(kind="Pod", namespaced=True)
        emulator.resources["v1/namespaces"] = kmock.ResourceInfo(kind="Namespace")
        emulator.resources["apps/v1/deployments"] = kmock.ResourceInfo(
            kind="Deployment", namespaced=True
        )
        self._emulator_server = kmock.Server(emulator)
        await self._emulator_server.__aenter__()
        self._session = aiohttp.ClientSession()
        app = web.Application(middlewares=[self._authenticate])
        app.router.add_get("/api/v1/namespaces/{ns}/pods/{name}/log", self._log)
        app.router.add_route("*", "/api/v1/namespaces/{ns}/pods/{name}/exec", self._exec)
        app.router.add_route("*", "/{tail:.*}", self._proxy)
        self._runner = web.AppRunner(app, shutdown_timeout=1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        """Stop both servers; kill any exec still running (by its process group)."""
        for run in self.execs:
            if run.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(run.pid, signal.SIGKILL)
        for log in self.logs.values():  # followers end instead of holding the shutdown
            log.ended = True
            log.touch()
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()
        if self._emulator_server is not None:
            await self._emulator_server.__aexit__(None, None, None)
        if self._emulator is not None:
            await self._emulator.__aexit__(None, None, None)

    # --- what the test arranges -------------------------------------------------------------

    async def create(self, path: str, body: dict[str, Any]) -> None:
        """POST an object to the emulator (a pod, a deployment) as a client would."""
        assert self._session is not None
        headers = {"Authorization": f"Bearer {self.token}"}
        async with self._session.post(f"{self.url}{path}", json=body, headers=headers) as r:
            assert r.status in (200, 201), await r.text()

    async def add_pod(
        self,
        name: str,
        *,
        namespace: str = "default",
        containers: Iterable[str] = ("app",),
        labels: dict[str, str] | None = None,
        state: str = "running",
    ) -> None:
        """A pod as a kubelet reports it — the test plays the kubelet's part by writing the
        status: its containers `running`, `waiting` (ContainerCreating), or `unreported` (just
        scheduled: no container status yet)."""
        names = list(containers)
        reported: dict[str, Any] = {
            "running": {"running": {"startedAt": _rfc3339(time.time())}},
            "waiting": {"waiting": {"reason": "ContainerCreating"}},
        }.get(state, {})
        status: dict[str, Any] = {"phase": "Running" if state == "running" else "Pending"}
        if reported:
            status["containerStatuses"] = [
                {
                    "name": c,
                    "image": "busybox",
                    "imageID": "",
                    "restartCount": 0,
                    "ready": state == "running",
                    "state": reported,
                }
                for c in names
            ]
        await self.create(
            f"/api/v1/namespaces/{namespace}/pods",
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": name, "namespace": namespace, "labels": labels or {}},
                "spec": {"containers": [{"name": c, "image": "busybox"} for c in names]},
                "status": status,
            },
        )
        for c in names:
            self.logs.setdefault((namespace, name, c), ContainerLog())

    def write_log(
        self, pod: str, *lines: str, container: str = "app", namespace: str = "default"
    ) -> None:
        """The container prints `lines` (a follower gets them at once)."""
        log = self.logs[(namespace, pod, container)]
        now = time.time()
        log.lines.extend((now, line) for line in lines)
        log.touch()

    def end_log(self, pod: str, container: str = "app", namespace: str = "default") -> None:
        """The container terminates: a follow of its log ends."""
        log = self.logs[(namespace, pod, container)]
        log.ended = True
        log.touch()

    def kubeconfig(
        self, path: Path, *, server: str | None = None, token: str | None = None
    ) -> Path:
        """A kubeconfig file for this server (or `server`), with a bearer token."""
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "suite", "cluster": {"server": server or self.url}}],
            "users": [{"name": "suite-user", "user": {"token": token or self.token}}],
            "contexts": [
                {
                    "name": "suite",
                    "context": {"cluster": "suite", "user": "suite-user", "namespace": "default"},
                }
            ],
            "current-context": "suite",
        }
        path.write_text(yaml.safe_dump(config))
        return path

    # --- the server -------------------------------------------------------------------------

    @web.middleware
    async def _authenticate(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return _status(401, "Unauthorized", "Unauthorized")
        response: web.StreamResponse = await handler(request)
        return response

    async def _pod(self, namespace: str, name: str) -> dict[str, Any] | None:
        assert self._emulator_server is not None and self._session is not None
        url = f"{self._emulator_server.url}/api/v1/namespaces/{namespace}/pods/{name}"
        async with self._session.get(url) as reply:
            if reply.status == 404:
                return None
            pod: dict[str, Any] = await reply.json()
            return pod

    async def _running_container(
        self, namespace: str, name: str, container: str | None
    ) -> tuple[str | None, web.Response | None]:
        """(the container, None), or (None, the error the kube-apiserver would answer)."""
        pod = await self._pod(namespace, name)
        if pod is None:
            return None, _status(
                404, "NotFound", f'pods "{name}" not found', name=name, kind="pods"
            )
        names = [c["name"] for c in pod["spec"]["containers"]]
        if container is None:
            if len(names) > 1:
                return None, _status(
                    400,
                    "BadRequest",
                    f"a container name must be specified for pod {name}, choose one of: "
                    f"[{' '.join(names)}]",
                )
            container = names[0]
        if container not in names:
            return None, _status(
                400, "BadRequest", f"container {container} is not valid for pod {name}"
            )
        statuses = pod.get("status", {}).get("containerStatuses", [])
        state = next((cs.get("state", {}) for cs in statuses if cs["name"] == container), {})
        if "running" not in state and "terminated" not in state:  # waiting, or not reported yet
            reason = state.get("waiting", {}).get("reason", "ContainerCreating")
            return None, _status(
                400,
                "BadRequest",
                f'container "{container}" in pod "{name}" is waiting to start: {reason}',
            )
        return container, None

    async def _log(self, request: web.Request) -> web.StreamResponse:
        ns, name, q = request.match_info["ns"], request.match_info["name"], request.query
        self.log_requests.append({"pod": name, **q})
        container, error = await self._running_container(ns, name, q.get("container"))
        if error is not None or container is None:
            return error or _status(500, "InternalError", "no container")
        log = self.logs.setdefault((ns, name, container), ContainerLog())
        follow = q.get("follow") in ("true", "1", "True")
        stamps = q.get("timestamps") in ("true", "1", "True")
        lines = list(log.lines)
        if "sinceSeconds" in q:
            since = time.time() - int(q["sinceSeconds"])
            lines = [(t, text) for t, text in lines if t >= since]
        if "tailLines" in q:
            lines = lines[-int(q["tailLines"]) :] if int(q["tailLines"]) > 0 else []
        reply = web.StreamResponse(headers={"Content-Type": "text/plain"})
        reply.enable_chunked_encoding()
        await reply.prepare(request)

        def render(t: float, text: str) -> bytes:
            return ((f"{_rfc3339(t)} " if stamps else "") + text + "\n").encode()

        try:
            for t, text in lines:
                await reply.write(render(t, text))
            sent = len(log.lines)
            while follow and not log.ended:
                changed = log.changed
                await changed.wait()
                for t, text in log.lines[sent:]:
                    await reply.write(render(t, text))
                sent = len(log.lines)
            await reply.write_eof()
        except ConnectionResetError:  # the client went away (a cancelled follow)
            self.dropped_follows += 1
        return reply

    async def _exec(self, request: web.Request) -> web.StreamResponse:
        ns, name = request.match_info["ns"], request.match_info["name"]
        argv = request.query.getall("command", [])
        if self.exec_forbidden_for is not None:  # RBAC: get pods allowed, create pods/exec not
            return _status(
                403,
                "Forbidden",
                f'pods "{name}" is forbidden: User "{self.exec_forbidden_for}" cannot create '
                f'resource "pods/exec" in API group "" in the namespace "{ns}"',
                name=name,
                kind="pods",
            )
        _, error = await self._running_container(ns, name, request.query.get("container"))
        if error is not None:
            return error
        if not argv:
            return _status(400, "BadRequest", "you must specify at least 1 command")
        ws = web.WebSocketResponse(protocols=(EXEC_PROTOCOL,))
        if not ws.can_prepare(request).ok:
            return _status(400, "BadRequest", "upgrade to a WebSocket with v4.channel.k8s.io")
        await ws.prepare(request)
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                start_new_session=True,
            )
        except FileNotFoundError:
            # The container runtime's text for a program that is not there.
            await ws.send_bytes(
                bytes([CHANNEL_STATUS])
                + json.dumps(
                    {
                        "metadata": {},
                        "status": "Failure",
                        "message": "OCI runtime exec failed: exec failed: unable to start "
                        f'container process: exec: "{argv[0]}": executable file not found in '
                        "$PATH: unknown",
                    }
                ).encode()
            )
            await ws.close()
            return ws
        run = ExecRun(argv, proc.pid)
        self.execs.append(run)

        async def pump(stream: asyncio.StreamReader, channel: int) -> None:
            while chunk := await stream.read(4096):
                await ws.send_bytes(bytes([channel]) + chunk)

        assert proc.stdout is not None and proc.stderr is not None
        pumps = asyncio.gather(pump(proc.stdout, CHANNEL_STDOUT), pump(proc.stderr, CHANNEL_STDERR))
        closed = asyncio.ensure_future(ws.receive())  # the client closing (or dropping) it
        try:
            await asyncio.wait({pumps, closed}, return_when=asyncio.FIRST_COMPLETED)
            if closed.done():  # the client went away: end the command as the kubelet does
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
            with contextlib.suppress(Exception):
                await pumps
            run.returncode = await proc.wait()
            if not closed.done():
                await ws.send_bytes(
                    bytes([CHANNEL_STATUS])
                    + json.dumps(_exit_status(argv, run.returncode)).encode()
                )
                await ws.close()
        finally:
            closed.cancel()
            if run.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                run.returncode = await proc.wait()
            run.done.set()
        return ws

    async def _proxy(self, request: web.Request) -> web.StreamResponse:
        """Any other request, to the emulator and back (streamed: a watch stays open)."""
        assert self._emulator_server is not None and self._session is not None
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_HEADERS}
        body = await request.read()
        async with self._session.request(
            request.method,
            f"{self._emulator_server.url}{request.rel_url}",
            headers=headers,
            data=body or None,
        ) as upstream:
            reply = web.StreamResponse(status=upstream.status)
            ctype = upstream.headers.get("Content-Type")
            if ctype:
                reply.headers["Content-Type"] = ctype
            await reply.prepare(request)
            async for chunk in upstream.content.iter_any():
                await reply.write(chunk)
            await reply.write_eof()
            return reply


def _exit_status(argv: list[str], returncode: int) -> dict[str, Any]:
    """The kubelet's final Status for an exec that ended with `returncode`."""
    if returncode == 0:
        return {"metadata": {}, "status": "Success"}
    return {
        "metadata": {},
        "status": "Failure",
        "message": f"command terminated with non-zero exit code: error executing command "
        f"[{' '.join(argv)}], exit code {returncode}",
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": str(returncode)}]},
    }


def _rfc3339(t: float) -> str:
    return datetime.fromtimestamp(t, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


async def submit(queue: TaskQueue, api: PodApi, task_type: TaskType, /, **params: Any) -> str:
    """Queue one task of `task_type` against `api` (its kubeconfig unless params name one),
    run once (no retry)."""
    params.setdefault("kubeconfig", str(api.config_path))
    return await queue.add_task(Task(task_type, params, max_retries=0))


async def run(queue: TaskQueue, api: PodApi, task_type: TaskType, /, **params: Any) -> Task:
    """`submit`, then the finished task (within TASK_S)."""
    return await queue.wait_for(await submit(queue, api, task_type, **params), timeout_s=TASK_S)


def free_port() -> int:
    """A port of 127.0.0.1 nothing listens on (a dead API server's)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(name="pod_api")
async def pod_api_fixture(tmp_path: Path) -> AsyncIterator[PodApi]:
    """A suite API server (emulator + pod endpoints) for one test, in process (milliseconds),
    and its kubeconfig at `api.config_path`."""
    api = PodApi()
    await api.start()
    api.config_path = api.kubeconfig(tmp_path / "kubeconfig")
    try:
        yield api
    finally:
        await api.stop()
