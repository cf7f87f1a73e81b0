"""One probe of a target — DNS resolution, TCP connect, an HTTP(S) request, an ICMP echo — and
the error code each failure gets. Pure asyncio and aiohttp; no task state."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import secrets
import socket
import ssl
import struct
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from qtqueue.core.errors import QueueError, TaskErrorCode

logger = logging.getLogger(__name__)

__all__ = [
    "HttpOutcome",
    "Target",
    "icmp_socket_kind",
    "network_error",
    "parse_target",
    "ping_icmp",
    "probe_http",
    "probe_tcp",
    "resolve",
]

C = TaskErrorCode


@dataclass(frozen=True, slots=True)
class Target:
    """A target as written by a person: a host, a port, and the URL when it was one."""

    host: str
    port: int | None
    url: str | None = None


def parse_target(text: str, port: int | None = None) -> Target:
    """'host', 'host:port', '[v6]:port' or 'http(s)://…'; `port` overrides the written one."""
    text = text.strip()
    if "://" in text:
        parts = urlsplit(text)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise QueueError(C.VALIDATION_INVALID_PARAMS, f"{text!r}: not an http(s) URL")
        default = 443 if parts.scheme == "https" else 80
        return Target(parts.hostname, port or parts.port or default, text)
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        written = int(rest[1:]) if rest.startswith(":") else None
        return Target(host, port or written)
    if text.count(":") == 1:
        host, _, p = text.partition(":")
        if not p.isdigit():
            raise QueueError(C.VALIDATION_INVALID_PARAMS, f"{text!r}: the port is not a number")
        return Target(host, port or int(p))
    return Target(text, port)


def network_error(exc: BaseException, what: str, timeout_s: float) -> QueueError:
    """The documented code for a failed probe of `what`, with a message a person can act on."""
    if isinstance(exc, QueueError):
        return exc
    if isinstance(exc, TimeoutError):
        return QueueError(C.NETWORK_TIMEOUT, f"{what}: no answer within {timeout_s:g} s")
    if isinstance(exc, socket.gaierror):
        return QueueError(
            C.NETWORK_DNS_ERROR, f"{what}: the name does not resolve ({exc.strerror})"
        )
    # aiohttp's ClientConnectorCertificateError is one too, holding the ssl module's error.
    cert_error = getattr(exc, "certificate_error", exc)
    if isinstance(exc, ssl.SSLCertVerificationError) or isinstance(
        cert_error, ssl.SSLCertVerificationError
    ):
        why = getattr(cert_error, "verify_message", None) or str(cert_error)
        return QueueError(C.NETWORK_SSL_ERROR, f"{what}: certificate not valid: {why}")
    if isinstance(exc, ssl.SSLError):
        return QueueError(C.NETWORK_SSL_ERROR, f"{what}: TLS failed: {exc.reason or exc}")
    cause = getattr(exc, "os_error", None) or getattr(exc, "__cause__", None)
    if cause is not None and cause is not exc and isinstance(cause, BaseException):
        inner = network_error(cause, what, timeout_s)
        if inner.code != C.NETWORK_CONNECTION_FAILED:
            return inner
    if isinstance(exc, ConnectionRefusedError):
        return QueueError(C.NETWORK_CONNECTION_FAILED, f"{what}: connection refused")
    if isinstance(exc, OSError) and exc.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH):
        return QueueError(C.NETWORK_CONNECTION_FAILED, f"{what}: {os.strerror(exc.errno)}")
    return QueueError(C.NETWORK_CONNECTION_FAILED, f"{what}: {exc}")


async def resolve(host: str, timeout_s: float) -> tuple[list[str], float]:
    """The addresses `host` resolves to and the milliseconds it took."""
    loop = asyncio.get_running_loop()
    start = time.perf_counter()
    async with asyncio.timeout(timeout_s):
        infos = await loop.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    return addresses, (time.perf_counter() - start) * 1000


async def probe_tcp(host: str, port: int, timeout_s: float) -> float:
    """Milliseconds a TCP connection to host:port took to be accepted (then closed)."""
    start = time.perf_counter()
    async with asyncio.timeout(timeout_s):
        _, writer = await asyncio.open_connection(host, port)
    elapsed = (time.perf_counter() - start) * 1000
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return elapsed


@dataclass(frozen=True, slots=True)
class HttpOutcome:
    """One HTTP(S) request's answer."""

    status: int
    latency_ms: float
    #: Days until the server's certificate expires (HTTPS only).
    cert_expires_in_days: float | None = None
    cert_subject: str | None = None


def tls_context(ca_file: str | None) -> ssl.SSLContext:
    """A verifying client context trusting `ca_file` (else the system's CAs)."""
    return ssl.create_default_context(cafile=ca_file)


def _cert_days(cert: dict[str, Any] | None) -> tuple[float | None, str | None]:
    if not cert or "notAfter" not in cert:
        return None, None
    days = (ssl.cert_time_to_seconds(cert["notAfter"]) - time.time()) / 86400
    subject = ", ".join(f"{k}={v}" for rdn in cert.get("subject", ()) for k, v in rdn)
    return days, subject


async def probe_http(
    session: Any, url: str, timeout_s: float, context: ssl.SSLContext | None
) -> HttpOutcome:
    """GET `url` (through `session`, an aiohttp ClientSession) and read its status; for
    HTTPS the certificate is verified and its expiry read."""
    import aiohttp

    start = time.perf_counter()
    timeout = aiohttp.ClientTimeout(total=timeout_s)
    kwargs: dict[str, Any] = {"timeout": timeout, "allow_redirects": False}
    if url.startswith("https://"):
        kwargs["ssl"] = context or tls_context(None)
    async with session.get(url, **kwargs) as resp:
        await resp.read()
        status = resp.status
    latency = (time.perf_counter() - start) * 1000
    days, subject = None, None
    if url.startswith("https://"):
        parts = urlsplit(url)
        cert = await peer_certificate(
            parts.hostname or "", parts.port or 443, kwargs["ssl"], timeout_s
        )
        days, subject = _cert_days(cert)
    return HttpOutcome(status, latency, days, subject)


async def peer_certificate(
    host: str, port: int, context: ssl.SSLContext, timeout_s: float
) -> dict[str, Any] | None:
    """The verified certificate host:port presents (a TLS handshake, then closed)."""
    async with asyncio.timeout(timeout_s):
        _, writer = await asyncio.open_connection(host, port, ssl=context, server_hostname=host)
    cert: dict[str, Any] | None = writer.get_extra_info("peercert")
    writer.close()
    with contextlib.suppress(OSError, ssl.SSLError):
        await writer.wait_closed()
    return cert


# ---- ICMP echo -------------------------------------------------------------------------------


def icmp_socket_kind() -> int | None:
    """The socket type an ICMP echo can be sent with here: SOCK_DGRAM (unprivileged ping,
    allowed by net.ipv4.ping_group_range), SOCK_RAW (root or CAP_NET_RAW), or None."""
    for kind in (socket.SOCK_DGRAM, socket.SOCK_RAW):
        try:
            socket.socket(socket.AF_INET, kind, socket.IPPROTO_ICMP).close()
        except OSError:
            continue
        return kind
    return None


#: The start of every echo payload this module sends (a random token follows it).
_MAGIC = b"qtqueue-ping"


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return int(~total & 0xFFFF)


def _echo_request(ident: int, seq: int, token: bytes) -> bytes:
    payload = _MAGIC + token + struct.pack("!d", time.time())
    header = struct.pack("!BBHHH", 8, 0, 0, ident, seq)
    return struct.pack("!BBHHH", 8, 0, _checksum(header + payload), ident, seq) + payload


def _is_reply(packet: bytes, kind: int, ident: int, seq: int, token: bytes) -> bool:
    """Whether `packet` answers this probe: an echo reply carrying its sequence number and its
    random token (and, on a raw socket, its random identifier). A raw ICMP socket receives
    every echo reply reaching this host, other pings' included."""
    if kind == socket.SOCK_RAW:  # the IP header comes first
        packet = packet[(packet[0] & 0x0F) * 4 :]
    if len(packet) < 8:
        return False
    typ, _code, _sum, got_id, got_seq = struct.unpack("!BBHHH", packet[:8])
    # A datagram ICMP socket's identifier is the kernel's (its local port): match on seq.
    return (
        typ == 0
        and got_seq == seq
        and (kind == socket.SOCK_DGRAM or got_id == ident)
        and packet[8 : 8 + len(_MAGIC) + len(token)] == _MAGIC + token
    )


async def ping_icmp(address: str, kind: int, seq: int, timeout_s: float) -> float:
    """Milliseconds one ICMP echo to `address` (an IPv4 address) took to be answered: only a
    reply from `address` carrying this probe's random identifier and token counts."""
    loop = asyncio.get_running_loop()
    ident = secrets.randbelow(0x10000)
    token = secrets.token_bytes(8)
    with socket.socket(socket.AF_INET, kind, socket.IPPROTO_ICMP) as sock:
        sock.setblocking(False)
        start = time.perf_counter()
        await loop.sock_sendto(sock, _echo_request(ident, seq & 0xFFFF, token), (address, 0))
        async with asyncio.timeout(timeout_s):
            while True:
                packet, source = await loop.sock_recvfrom(sock, 2048)
                if source[0] == address and _is_reply(packet, kind, ident, seq & 0xFFFF, token):
                    return (time.perf_counter() - start) * 1000
