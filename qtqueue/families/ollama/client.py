"""The Ollama side of the executors: one `ollama.AsyncClient` per task (host, timeouts and an
optional proxy token from the OS keyring), and the mapping from its failures to qtqueue's
OLLAMA_* codes.

The `ollama` package (and httpx under it) is imported here when a task first connects, not
when the family is registered: the window and the CLI start without them (~0.1 s).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from qtqueue.core.errors import QueueError, TaskErrorCode, classify_message
from qtqueue.executors.base import RunContext
from qtqueue.families.ollama.settings import OllamaSettings

if TYPE_CHECKING:
    import httpx
    from ollama import AsyncClient, ResponseError

logger = logging.getLogger(__name__)

__all__ = ["OllamaConnection", "ollama_connection", "ollama_error"]

_C = TaskErrorCode
#: The family's code for a token a proxy in front of Ollama refused (errors.toml).
AUTHENTICATION_FAILED = "OLLAMA_AUTHENTICATION_FAILED"
#: Codes a server's text may point to that say more than the operation's own failure.
_SPECIFIC = frozenset(
    {
        _C.OLLAMA_MODEL_NOT_FOUND.value,
        _C.OLLAMA_SERVICE_UNAVAILABLE.value,
        AUTHENTICATION_FAILED,
        _C.SYSTEM_DISK_SPACE.value,
        _C.SYSTEM_MEMORY_LIMIT.value,
        _C.SYSTEM_GPU_LIMIT.value,
        _C.NETWORK_DNS_ERROR.value,
        _C.NETWORK_TIMEOUT.value,
        _C.NETWORK_CONNECTION_FAILED.value,
        _C.NETWORK_SSL_ERROR.value,
        _C.NETWORK_PROXY_ERROR.value,
    }
)


@dataclass
class OllamaConnection:
    """One task's way to its Ollama server: the official client, and what it was built from
    (for the few endpoints the client does not wrap, such as /api/version)."""

    host: str
    client: AsyncClient
    timeout: httpx.Timeout
    headers: dict[str, str] = field(repr=False)

    async def get_json(self, path: str) -> dict[str, Any]:
        """GET `path` on the server as JSON (errors as the client raises them)."""
        import httpx
        from ollama import ResponseError

        async with httpx.AsyncClient(
            base_url=self.host, timeout=self.timeout, headers=self.headers
        ) as http:
            try:
                reply = await http.get(path)
                reply.raise_for_status()
            except httpx.HTTPStatusError as exc:
                raise ResponseError(exc.response.text, exc.response.status_code) from None
            except httpx.ConnectError:
                raise ConnectionError(f"could not connect to Ollama at {self.host}") from None
            body = reply.json()
        return body if isinstance(body, dict) else {"value": body}


@contextlib.asynccontextmanager
async def ollama_connection(
    ctx: RunContext, host: str | None, credential: str | None = None
) -> AsyncIterator[OllamaConnection]:
    """The task's connection: `host` (the task's), else the settings' `ollama_host`; the
    settings' timeouts; `Authorization: Bearer <credential>` when a keyring credential is
    named (for a proxy in front of Ollama). Closed on leaving."""
    import httpx
    from ollama import AsyncClient

    settings = ctx.family_settings(OllamaSettings)
    target = host or settings.ollama_host
    timeout = httpx.Timeout(
        settings.ollama_read_timeout_s, connect=settings.ollama_connect_timeout_s
    )
    headers: dict[str, str] = {}
    if credential:
        token = await ctx.credential(credential)
        headers["Authorization"] = f"Bearer {token}"
    client = AsyncClient(host=target, timeout=timeout, headers=headers)
    try:
        yield OllamaConnection(target, client, timeout, headers)
    finally:
        await client.close()  # type: ignore[no-untyped-call]  # (untyped in ollama 0.6)


def _service_unavailable(host: str, why: str) -> QueueError:
    return QueueError(
        _C.OLLAMA_SERVICE_UNAVAILABLE,
        f"could not connect to Ollama at {host}: {why} (is 'ollama serve' running there?)",
        host=host,
    )


def ollama_error(
    exc: BaseException,
    conn: OllamaConnection,
    fallback: TaskErrorCode,
    doing: str,
    *,
    model: str | None = None,
    missing_hint: str = "try pulling it first",
) -> QueueError:
    """The QueueError for a failure of the client while `doing` something: a refused, silent
    or vanished server is OLLAMA_SERVICE_UNAVAILABLE, an unknown model OLLAMA_MODEL_NOT_FOUND, a
    refused token OLLAMA_AUTHENTICATION_FAILED, a bad request VALIDATION_INVALID_PARAMS, and
    any other server error `fallback` (unless its text names something more specific)."""
    import httpx
    from ollama import ResponseError

    if isinstance(exc, QueueError):
        return exc
    details: dict[str, Any] = {"host": conn.host}
    if model:
        details["model"] = model
    if isinstance(exc, ConnectionError | httpx.ConnectError):
        return _service_unavailable(conn.host, "connection refused")
    if isinstance(exc, httpx.ConnectTimeout):
        return _service_unavailable(conn.host, f"no answer within {conn.timeout.connect:g} s")
    if isinstance(exc, httpx.TimeoutException):
        return QueueError(
            _C.OLLAMA_SERVICE_UNAVAILABLE,
            f"{doing}: Ollama at {conn.host} sent nothing for {conn.timeout.read:g} s "
            "(the server hangs or is overloaded; raise the read timeout for large models)",
            **details,
        )
    if isinstance(exc, httpx.TransportError):
        # The server closed the connection mid-answer: `ollama serve` crashed or was stopped
        # (a model's own failure comes as an error object, see _response_error).
        return QueueError(
            _C.OLLAMA_SERVICE_UNAVAILABLE,
            f"{doing}: the connection to Ollama at {conn.host} was lost "
            f"({type(exc).__name__}: {exc or 'closed'}); is 'ollama serve' still running?",
            **details,
        )
    if isinstance(exc, ResponseError):
        return _response_error(exc, fallback, doing, details, model, missing_hint)
    return QueueError(fallback, f"{doing}: {type(exc).__name__}: {exc}", **details)


def _response_error(
    exc: ResponseError,
    fallback: TaskErrorCode,
    doing: str,
    details: dict[str, Any],
    model: str | None,
    missing_hint: str,
) -> QueueError:
    text = str(exc.error)
    status = exc.status_code
    if status > 0:
        details["status"] = status
    found = classify_message(text)
    if status == 404 or found == _C.OLLAMA_MODEL_NOT_FOUND.value:
        what = f"model {model!r} not found" if model else text
        return QueueError(
            _C.OLLAMA_MODEL_NOT_FOUND,
            f"{doing}: {what} (server: {text}); {missing_hint}",
            **details,
        )
    if status in (401, 403):
        return QueueError(
            AUTHENTICATION_FAILED,
            f"{doing}: the server refused the credentials (HTTP {status}: {text})",
            **details,
        )
    if status == 400:
        return QueueError(
            _C.VALIDATION_INVALID_PARAMS,
            f"{doing}: the server refused the request: {text}",
            **details,
        )
    code = found if found in _SPECIFIC else fallback
    where = f"HTTP {status}: " if status > 0 else ""
    return QueueError(code, f"{doing}: {where}{text}", **details)
