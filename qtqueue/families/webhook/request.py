"""CUSTOM_WEBHOOK: one HTTP request through aiohttp, optionally HMAC-signed, retried inside the
executor on connection errors, time-outs, 429 and 5xx (honouring `Retry-After`), never on
other 4xx; each attempt is one line of the task's log.

How failures are named:
- refused or dropped connection: NETWORK_CONNECTION_FAILED; no answer within `timeout_s`:
  NETWORK_TIMEOUT; a name that does not resolve: NETWORK_DNS_ERROR; a TLS handshake or
  certificate failure: NETWORK_SSL_ERROR; a proxy that refuses the connection or answers 407:
  NETWORK_PROXY_ERROR.
- NETWORK_FIREWALL_BLOCKED is a heuristic: the TCP handshake completed (so the port is known to
  be open and something accepted the connection), then the connection was RESET before any HTTP
  answer came back — what a firewall or intrusion-prevention box that filters a connection
  after accepting it does. A server that merely closes (FIN) without answering is
  NETWORK_CONNECTION_FAILED.
- an answer whose status is not expected: WEBHOOK_SERVER_ERROR for 429 and 5xx (retryable),
  WEBHOOK_UNEXPECTED_STATUS for the others (not retryable); both carry status and body excerpt.
"""

from __future__ import annotations

import asyncio
import errno
import json
import logging
import time
from pathlib import Path
from typing import Any

import aiohttp

from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.core.task import TaskType
from qtqueue.executors.base import Executor, RunContext
from qtqueue.executors.webhooks import (
    retry_after_s,
    retry_wait_s,
    retryable_status,
    signature_headers,
)
from qtqueue.families.webhook.params import WebhookParams, header_problem

logger = logging.getLogger(__name__)

__all__ = ["BODY_EXCERPT_BYTES", "WebhookExecutor", "classify"]

C = TaskErrorCode
#: How much of the response body the result keeps.
BODY_EXCERPT_BYTES = 1024
#: The largest body_file sent.
MAX_BODY_FILE_BYTES = 64 * 1024 * 1024


class _Attempt(Exception):
    """One failed attempt: the error it would end the task with, and whether to try again."""

    def __init__(self, error: QueueError, retry: bool, wait_s: float | None = None) -> None:
        super().__init__(str(error))
        self.error = error
        self.retry = retry
        self.wait_s = wait_s


def _is_reset(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ConnectionResetError) or (
            isinstance(seen, OSError) and seen.errno == errno.ECONNRESET
        ):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def classify(exc: BaseException, p: WebhookParams) -> _Attempt:
    """The code of a request that raised `exc`, and whether another attempt may help."""
    where = f"{p.method} {p.url}"
    if isinstance(exc, (asyncio.TimeoutError, aiohttp.ServerTimeoutError)):
        return _Attempt(
            QueueError(C.NETWORK_TIMEOUT, f"{where}: no answer within {p.timeout_s:g} s"), True
        )
    if isinstance(exc, aiohttp.ClientHttpProxyError):
        return _Attempt(
            QueueError(
                C.NETWORK_PROXY_ERROR,
                f"{where}: the proxy {p.proxy} answered {exc.status} {exc.message}",
                proxy_status=exc.status,
            ),
            exc.status >= 500,
        )
    if isinstance(exc, aiohttp.ClientProxyConnectionError):
        return _Attempt(
            QueueError(C.NETWORK_PROXY_ERROR, f"{where}: cannot connect to the proxy {p.proxy}"),
            True,
        )
    if isinstance(exc, (aiohttp.ClientConnectorCertificateError, aiohttp.ClientSSLError)):
        return _Attempt(QueueError(C.NETWORK_SSL_ERROR, f"{where}: TLS failed: {exc}"), False)
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return _Attempt(
            QueueError(C.NETWORK_DNS_ERROR, f"{where}: the host name does not resolve: {exc}"),
            True,
        )
    if isinstance(exc, aiohttp.ClientConnectorError):
        return _Attempt(
            QueueError(C.NETWORK_CONNECTION_FAILED, f"{where}: cannot connect: {exc}"), True
        )
    if _is_reset(exc):
        return _Attempt(
            QueueError(
                C.NETWORK_FIREWALL_BLOCKED,
                f"{where}: the connection was accepted, then reset before any answer "
                "(a firewall filtering it?)",
            ),
            True,
        )
    if isinstance(exc, aiohttp.InvalidURL):
        return _Attempt(QueueError(C.VALIDATION_INVALID_PARAMS, f"invalid URL: {exc}"), False)
    if isinstance(exc, ValueError):
        # aiohttp refuses a header it cannot send (a control character): never retried, and
        # its text is not echoed (it could quote a header's value).
        return _Attempt(
            QueueError(
                C.VALIDATION_INVALID_PARAMS,
                f"{where}: the request cannot be sent as given ({type(exc).__name__}: a header "
                "name or value holds a character HTTP forbids?)",
            ),
            False,
        )
    if isinstance(exc, (aiohttp.ClientError, OSError)):
        return _Attempt(
            QueueError(C.NETWORK_CONNECTION_FAILED, f"{where}: the connection dropped: {exc!r}"),
            True,
        )
    raise exc


async def _body(p: WebhookParams) -> tuple[bytes, str | None]:
    """The exact bytes sent, and their default Content-Type."""
    if p.body_file is not None:
        path = Path(p.body_file).expanduser()
        try:
            size = path.stat().st_size
            if size > MAX_BODY_FILE_BYTES:
                raise QueueError(
                    C.DATA_SIZE_TOO_LARGE,
                    f"body_file {path} is {size} bytes; at most {MAX_BODY_FILE_BYTES} are sent",
                )
            data = await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:
            raise QueueError(C.DATA_FILE_NOT_FOUND, f"body_file {path} does not exist") from None
        return data, "application/octet-stream"
    if p.body_text is not None:
        return p.body_text.encode(), "text/plain; charset=utf-8"
    if p.body_json is not None:
        return json.dumps(p.body_json, separators=(",", ":")).encode(), "application/json"
    return b"", None


async def _excerpt(resp: aiohttp.ClientResponse) -> bytes:
    """The first BODY_EXCERPT_BYTES of the response body (or all of a shorter one)."""
    buf = b""
    while len(buf) < BODY_EXCERPT_BYTES:
        chunk = await resp.content.read(BODY_EXCERPT_BYTES - len(buf))
        if not chunk:
            break
        buf += chunk
    return buf


def _answer(resp: aiohttp.ClientResponse, raw: bytes, elapsed_ms: int) -> dict[str, Any]:
    headers: dict[str, str] = {}
    for name, value in resp.headers.items():
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return {
        "status": resp.status,
        "reason": resp.reason or "",
        "headers": headers,
        "body": raw.decode(resp.charset or "utf-8", errors="replace"),
        "body_truncated": len(raw) >= BODY_EXCERPT_BYTES and not resp.content.at_eof(),
        "elapsed_ms": elapsed_ms,
    }


async def _authorization(ctx: RunContext[WebhookParams], entry: str) -> str:
    """The Authorization header's value: the keyring entry's, without the surrounding
    whitespace a token pasted from a file brings (a trailing newline)."""
    value = (await ctx.credential(entry)).strip()
    ctx.add_secret(value)
    if header_problem("Authorization", value) is not None:
        raise QueueError(
            C.VALIDATION_INVALID_FORMAT,
            f"the keyring entry {entry!r} holds a line break or another control character "
            "inside its value, which cannot be sent as the Authorization header; store it "
            "again as one line",
            keyring_entry=entry,
        )
    return value


class WebhookExecutor(Executor[WebhookParams]):
    """CUSTOM_WEBHOOK: sends the request, returns the response (status, headers, first KiB of
    the body, elapsed ms) when its status is expected."""

    task_type = TaskType.CUSTOM_WEBHOOK
    title = "Webhook"
    summary = "Call an HTTP endpoint (a webhook), optionally HMAC-signed, with retries"
    #: A webhook call is not idempotent (a POST may deploy twice): the queue never reruns it
    #: by itself; its own `attempts` are its retries (only where no answer or 429/5xx came).
    retry_safe = False

    async def run(self, ctx: RunContext[WebhookParams]) -> dict[str, Any] | None:
        p = ctx.params
        body, default_type = await _body(p)
        headers = dict(p.headers)
        if default_type and not any(k.lower() == "content-type" for k in headers):
            headers["Content-Type"] = p.content_type or default_type
        elif p.content_type:
            headers = {k: v for k, v in headers.items() if k.lower() != "content-type"}
            headers["Content-Type"] = p.content_type
        if p.authorization_keyring_entry:
            headers["Authorization"] = await _authorization(ctx, p.authorization_keyring_entry)
        if p.signing_keyring_entry:
            secret = await ctx.credential(p.signing_keyring_entry)
            headers.update(signature_headers(secret, body, p.signature_header, p.signature_prefix))
        ctx.log(
            f"{p.method} {p.url} · {len(body)} byte body"
            + (f" · signed in {p.signature_header}" if p.signing_keyring_entry else "")
        )
        timeout = aiohttp.ClientTimeout(total=p.timeout_s)
        async with aiohttp.ClientSession(timeout=timeout, trust_env=False) as session:
            for attempt in range(1, p.attempts + 1):
                await ctx.checkpoint()
                ctx.progress(100.0 * (attempt - 1) / p.attempts, f"attempt {attempt}/{p.attempts}")
                head = f"attempt {attempt}/{p.attempts}"
                try:
                    answer = await self._send(session, p, headers, body)
                except _Attempt as failed:
                    last = attempt == p.attempts
                    if not failed.retry or last:
                        ctx.log(f"{head}: {failed.error.message} — giving up")
                        failed.error.details.setdefault("attempts", attempt)
                        raise failed.error from None
                    wait = retry_wait_s(attempt, p.backoff_s, failed.wait_s, p.max_retry_after_s)
                    ctx.log(f"{head}: {failed.error.message} — retrying in {wait:g} s")
                    await asyncio.sleep(wait)
                    continue
                ctx.log(
                    f"{head}: {answer['status']} {answer['reason']} in {answer['elapsed_ms']} ms"
                )
                ctx.progress(100.0, f"{answer['status']} {answer['reason']}")
                return {"url": p.url, "method": p.method, "attempts": attempt, **answer}
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def _send(
        self,
        session: aiohttp.ClientSession,
        p: WebhookParams,
        headers: dict[str, str],
        body: bytes,
    ) -> dict[str, Any]:
        """One attempt: the answer when expected, else `_Attempt` saying why and whether to
        retry."""
        start = time.monotonic()
        try:
            async with session.request(
                p.method,
                p.url,
                params=p.query or None,
                headers=headers,
                data=body if body or p.method not in ("GET", "HEAD") else None,
                proxy=p.proxy,
                ssl=p.verify_tls,
                allow_redirects=True,
            ) as resp:
                raw = await _excerpt(resp)
                answer = _answer(resp, raw, int((time.monotonic() - start) * 1000))
        except Exception as exc:
            raise classify(exc, p) from exc
        status = int(answer["status"])
        if p.expects(status):
            return answer
        facts = {"status": status, "body": answer["body"][:BODY_EXCERPT_BYTES]}
        if status == 407 and p.proxy:
            raise _Attempt(
                QueueError(
                    C.NETWORK_PROXY_ERROR,
                    f"{p.method} {p.url}: the proxy {p.proxy} asked for authentication (407)",
                    **facts,
                ),
                False,
            )
        expected = ", ".join(map(str, p.expected_status)) or "2xx"
        text = f"{p.method} {p.url} answered {status} {answer['reason']} (expected {expected})"
        if retryable_status(status):
            wait = retry_after_s(answer["headers"].get("Retry-After"))
            raise _Attempt(QueueError("WEBHOOK_SERVER_ERROR", text, **facts), True, wait)
        raise _Attempt(QueueError("WEBHOOK_UNEXPECTED_STATUS", text, **facts), False)
