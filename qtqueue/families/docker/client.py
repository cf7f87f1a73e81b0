"""The Docker side of the executors: one daemon connection per task, blocking SDK calls kept
off the event loop, streams that cancellation can cut, registry credentials, and the mapping
from the SDK's failures to qtqueue's DOCKER_* codes.

The docker SDK is imported here, lazily, on the first connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import os
import socket
import threading
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from typing import Any, TypeVar

from qtqueue.core.errors import QueueError, TaskErrorCode, classify_message
from qtqueue.executors.base import RunContext
from qtqueue.families.docker.settings import DockerSettings

logger = logging.getLogger(__name__)

T = TypeVar("T")
_C = TaskErrorCode

#: Seconds to wait for the daemon's first answer: a dead or hung daemon fails fast.
CONNECT_TIMEOUT_S = 5.0
#: Seconds a plain (non-streaming) request to the daemon may take once connected.
REQUEST_TIMEOUT_S = 300.0
#: Seconds to wait for a stream's worker thread to end after its stream was closed.
THREAD_JOIN_S = 5.0
DEFAULT_HOST = "unix:///var/run/docker.sock"

#: Codes that say more than an operation's own failure code ("push failed").
_SPECIFIC: frozenset[TaskErrorCode] = frozenset(
    {
        _C.DOCKER_IMAGE_NOT_FOUND,
        _C.DOCKER_AUTHENTICATION_FAILED,
        _C.DOCKER_PERMISSION_DENIED,
        _C.DOCKER_REGISTRY_ERROR,
        _C.DOCKER_CONTAINER_NOT_FOUND,
        _C.DOCKER_CONTAINER_ALREADY_RUNNING,
        _C.DOCKER_DAEMON_UNAVAILABLE,
        _C.DOCKER_NETWORK_ERROR,
        _C.NETWORK_SSL_ERROR,
        _C.NETWORK_PROXY_ERROR,
        _C.SYSTEM_DISK_SPACE,
        _C.SYSTEM_MEMORY_LIMIT,
    }
)
#: The daemon could not reach a registry: Docker's own network code.
_DAEMON_NETWORK: frozenset[TaskErrorCode] = frozenset(
    {_C.NETWORK_CONNECTION_FAILED, _C.NETWORK_TIMEOUT, _C.NETWORK_DNS_ERROR}
)


def resolve_host(docker_host: str | None) -> str:
    """The daemon to talk to: the task's `docker_host`, else $DOCKER_HOST, else the local
    socket."""
    return docker_host or os.environ.get("DOCKER_HOST") or DEFAULT_HOST


def task_host(ctx: RunContext, docker_host: str | None) -> str | None:
    """The daemon a task names (`docker_host`), else the one the application's settings name
    (`DockerSettings.docker_host`, through `RunContext.family_settings`), else None:
    $DOCKER_HOST or the local socket."""
    return docker_host or ctx.family_settings(DockerSettings).docker_host or None


def _socket_path(host: str) -> str | None:
    for prefix in ("unix://", "http+unix://"):
        if host.startswith(prefix):
            return host[len(prefix) :] or None
    return None


def _daemon_unavailable(host: str, why: str) -> QueueError:
    return QueueError(
        _C.DOCKER_DAEMON_UNAVAILABLE,
        f"cannot connect to the Docker daemon at {host}: {why}",
        docker_host=host,
    )


def _connection_failure(host: str, exc: BaseException) -> QueueError:
    """Why the daemon did not answer, from the SDK's exception and its causes."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    text = " ".join(f"{type(e).__name__}: {e}" for e in chain).lower()
    if "permission denied" in text or any(isinstance(e, PermissionError) for e in chain):
        return QueueError(
            _C.DOCKER_PERMISSION_DENIED,
            f"permission denied while trying to connect to the Docker daemon at {host}",
            docker_host=host,
        )
    if "no such file or directory" in text or any(isinstance(e, FileNotFoundError) for e in chain):
        why = "the socket does not exist (is the daemon running?)"
    elif "connection refused" in text:
        why = "connection refused (is the daemon running?)"
    elif "timed out" in text or "timeout" in text:
        why = f"no answer within {CONNECT_TIMEOUT_S:g} s"
    else:
        why = str(exc)
    return _daemon_unavailable(host, why)


@functools.cache
def _client_class() -> type[Any]:
    """An APIClient that remembers each streaming response, so a stream can be cut from the
    event loop while a worker thread is blocked reading it."""
    from docker import APIClient
    from docker.types.daemon import CancellableStream

    class TrackingClient(APIClient):  # type: ignore[misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._qtq_lock = threading.Lock()
            self._qtq_responses: list[Any] = []
            self._qtq_cut = False

        def _qtq_track(self, response: Any) -> None:
            with self._qtq_lock:
                cut = self._qtq_cut
                if not cut:
                    self._qtq_responses.append(response)
            if cut:
                _close_response(CancellableStream, response)

        def qtq_cut_streams(self) -> None:
            """Close every open stream now, and every stream opened from now on."""
            with self._qtq_lock:
                self._qtq_cut = True
                responses, self._qtq_responses = self._qtq_responses, []
            for response in responses:
                _close_response(CancellableStream, response)

        def _stream_helper(self, response: Any, decode: bool = False) -> Any:
            self._qtq_track(response)
            return super()._stream_helper(response, decode)

        def _multiplexed_response_stream_helper(self, response: Any) -> Any:
            self._qtq_track(response)
            return super()._multiplexed_response_stream_helper(response)

    return TrackingClient


def _close_response(stream_class: type[Any], response: Any) -> None:
    """Shut the response's socket down, which wakes a thread blocked reading it."""
    try:
        stream_class(iter(()), response).close()
    except Exception:
        logger.debug("closing a Docker stream failed", exc_info=True)
    with contextlib.suppress(Exception):
        response.close()


def in_thread(fn: Callable[[], T], name: str) -> asyncio.Future[T]:
    """Run a long blocking call in its own daemon thread (not the shared pool, which long
    streams would starve); its outcome is handed back to the loop."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(ok: bool, value: Any) -> None:
        if future.done():
            return
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)

    def target() -> None:
        try:
            value: Any = fn()
            ok = True
        except BaseException as exc:
            value, ok = exc, False
        with contextlib.suppress(RuntimeError):  # the loop is gone: nobody waits any more
            loop.call_soon_threadsafe(settle, ok, value)

    threading.Thread(target=target, name=name, daemon=True).start()
    return future


async def _join(future: asyncio.Future[Any]) -> None:
    """Wait a little for a worker thread whose stream was cut; never raise."""
    with contextlib.suppress(BaseException):
        await asyncio.wait_for(asyncio.shield(future), THREAD_JOIN_S)


class DockerSession:
    """One task's connection to a daemon. `api` is the SDK's low-level APIClient (call it only
    through `call`, `stream` or `in_thread`: every call blocks)."""

    def __init__(self, api: Any, host: str) -> None:
        self.api = api
        self.host = host

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """A short blocking SDK call, in a worker thread."""
        return await asyncio.to_thread(fn, *args, **kwargs)

    def cut_streams(self) -> None:
        """Close every stream of this session (thread-safe); later streams close at once."""
        self.api.qtq_cut_streams()

    async def stream(
        self, open_stream: Callable[[], Iterable[T]], on_item: Callable[[T], None]
    ) -> None:
        """Iterate a blocking stream in a worker thread, calling `on_item` on the loop for each
        item, in order. An exception from either side ends it; cancellation cuts the stream
        (the daemon sees the client go and stops the work) and re-raises."""
        loop = asyncio.get_running_loop()
        items: asyncio.Queue[tuple[bool, Any]] = asyncio.Queue()

        def pump() -> None:
            for item in open_stream():
                loop.call_soon_threadsafe(items.put_nowait, (True, item))

        worker = in_thread(pump, "docker-stream")
        worker.add_done_callback(lambda _f: items.put_nowait((False, None)))
        finished = False
        try:
            while True:
                more, item = await items.get()
                if not more:
                    break
                on_item(item)
            finished = True
            worker.result()  # re-raise the stream's own failure
        finally:
            if not finished:
                self.cut_streams()
                await _join(worker)

    def close(self) -> None:
        """Release the connection pool."""
        with contextlib.suppress(Exception):
            self.api.close()


def _probe(path: str) -> None:
    """Connect to the daemon's unix socket once; OSError if nothing listens there."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(CONNECT_TIMEOUT_S)
        probe.connect(path)


async def connect(docker_host: str | None) -> DockerSession:
    """A session with the daemon (see `resolve_host`), or QueueError at once:
    DOCKER_DAEMON_UNAVAILABLE (no socket, nothing listening, no answer within
    CONNECT_TIMEOUT_S), DOCKER_PERMISSION_DENIED (the socket refuses this user)."""
    host = resolve_host(docker_host)
    path = _socket_path(host)
    if path is not None:
        if not os.path.exists(path):
            raise _daemon_unavailable(host, f"{path} does not exist (is the daemon running?)")
        if not os.access(path, os.R_OK | os.W_OK):
            raise QueueError(
                _C.DOCKER_PERMISSION_DENIED,
                f"permission denied while trying to connect to the Docker daemon socket {path}",
                docker_host=host,
            )

    def open_client() -> Any:
        if path is not None:
            _probe(path)  # the SDK leaks the socket of a refused connection
        kwargs: dict[str, Any] = {}
        if docker_host is None and os.environ.get("DOCKER_HOST"):
            from docker.utils import kwargs_from_env

            kwargs = kwargs_from_env()  # also DOCKER_TLS_VERIFY and DOCKER_CERT_PATH
        kwargs.setdefault("base_url", host)
        api = _client_class()(version="auto", timeout=CONNECT_TIMEOUT_S, **kwargs)
        api.timeout = REQUEST_TIMEOUT_S  # connected: the short limit was for the first answer
        return api

    try:
        api = await asyncio.to_thread(open_client)
    except QueueError:
        raise
    except Exception as exc:
        raise _connection_failure(host, exc) from None
    return DockerSession(api, host)


@contextlib.asynccontextmanager
async def docker_session(ctx: RunContext, docker_host: str | None) -> AsyncIterator[DockerSession]:
    """`connect` to the task's daemon (see `task_host`), released at the end of the block."""
    session = await connect(task_host(ctx, docker_host))
    try:
        yield session
    finally:
        session.close()


# --- Credentials ----------------------------------------------------------------------------


def parse_registry_credential(name: str, value: str) -> dict[str, str]:
    """A registry login from a keyring value: "username:password" (split at the first colon)
    or a JSON object with "username" and "password" (and optionally "serveraddress").

    The error for a malformed value names the credential, never its value.
    """
    text = value.strip()
    login: dict[str, str] = {}
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        if isinstance(data, dict):
            login = {
                k: v
                for k, v in data.items()
                if k in ("username", "password", "serveraddress", "email") and isinstance(v, str)
            }
    elif ":" in value:
        username, password = value.split(":", 1)
        login = {"username": username, "password": password}
    if not login.get("username") or not login.get("password"):
        raise QueueError(
            _C.VALIDATION_INVALID_FORMAT,
            f"credential {name!r} is not a registry login: store it as 'username:password' or "
            'as a JSON object {"username": ..., "password": ...}',
            credential=name,
        )
    return login


async def registry_auth(ctx: RunContext, credential: str | None) -> dict[str, str] | None:
    """The auth_config for one call from the named keyring credential (None: anonymous)."""
    if not credential:
        return None
    login = parse_registry_credential(credential, await ctx.credential(credential))
    ctx.add_secret(login["password"])  # a JSON login's password alone is a secret too
    return login


# --- Failures -------------------------------------------------------------------------------


def code_for_text(text: str, fallback: TaskErrorCode) -> TaskErrorCode:
    """The code a daemon's error text points to, if it says more than `fallback`."""
    code = classify_message(text)
    if code in _DAEMON_NETWORK:
        return _C.DOCKER_NETWORK_ERROR
    if code is not None and code in _SPECIFIC:
        return TaskErrorCode(code)
    return fallback


def _explanation(exc: BaseException) -> str:
    explanation = getattr(exc, "explanation", None)
    if isinstance(explanation, bytes):
        explanation = explanation.decode("utf-8", "replace")
    return str(explanation or exc).strip()


def docker_error(
    exc: BaseException, fallback: TaskErrorCode, doing: str, host: str = "", **details: Any
) -> QueueError:
    """A QueueError for an exception the SDK raised while `doing` something ("pulling x").

    What the daemon's text says (`code_for_text`) comes first. Then: ImageNotFound is
    DOCKER_IMAGE_NOT_FOUND; a 404 about a container DOCKER_CONTAINER_NOT_FOUND, about anything
    else DOCKER_IMAGE_NOT_FOUND; 401/403 DOCKER_AUTHENTICATION_FAILED; 400 bad params; a lost
    connection to the daemon DOCKER_DAEMON_UNAVAILABLE; `fallback` when nothing fits.
    """
    if isinstance(exc, QueueError):
        return exc
    import docker.errors
    import requests.exceptions

    if isinstance(exc, requests.exceptions.RequestException) and not isinstance(
        exc, requests.exceptions.HTTPError
    ):
        if isinstance(exc, requests.exceptions.ReadTimeout):
            return QueueError(
                _C.DOCKER_DAEMON_UNAVAILABLE,
                f"{doing}: the Docker daemon did not answer within {REQUEST_TIMEOUT_S:g} s",
                docker_host=host,
                **details,
            )
        failure = _connection_failure(host, exc)
        return QueueError(
            failure.code, f"{doing}: {failure.message}", **{**failure.details, **details}
        )
    text = _explanation(exc)
    status = getattr(exc, "status_code", None)
    code = code_for_text(text, fallback)
    if code is fallback:
        if isinstance(exc, docker.errors.ImageNotFound):
            code = _C.DOCKER_IMAGE_NOT_FOUND
        elif status == 404:
            code = (
                _C.DOCKER_CONTAINER_NOT_FOUND
                if "container" in text.lower()
                else _C.DOCKER_IMAGE_NOT_FOUND
            )
        elif status in (401, 403):
            code = _C.DOCKER_AUTHENTICATION_FAILED
        elif status == 400:
            code = _C.VALIDATION_INVALID_PARAMS
    if status is not None:
        details.setdefault("status_code", status)
    return QueueError(code, f"{doing}: {text}", **details)


def stream_error(item: Mapping[str, Any], fallback: TaskErrorCode, doing: str) -> QueueError | None:
    """The failure an `{"error": ..., "errorDetail": ...}` stream message reports, or None."""
    if "error" not in item and "errorDetail" not in item:
        return None
    detail = item.get("errorDetail") or {}
    text = str(item.get("error") or detail.get("message") or "unknown error").strip()
    details: dict[str, Any] = {}
    if isinstance(detail, Mapping) and detail.get("code") is not None:
        details["daemon_code"] = detail["code"]
    return QueueError(code_for_text(text, fallback), f"{doing}: {text}", **details)
