"""Where the HTTP API may listen: `HOST:PORT` parsed, and the rule that anything but this
machine's own addresses needs TLS. Pure: the settings check it, the server applies it."""

from __future__ import annotations

import ipaddress

from qtqueue.core.errors import QueueError, TaskErrorCode

__all__ = ["check_bind", "is_loopback", "parse_address"]

_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


def parse_address(text: str) -> tuple[str, int]:
    """`HOST:PORT` (`[V6]:PORT` for an IPv6 address) as (host, port); port 0 means any free
    one. QueueError VALIDATION_INVALID_FORMAT if it is not that."""
    host, sep, port_text = text.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        host = ""  # an IPv6 address without brackets: ambiguous
    problem = None
    if not sep or not host or not port_text.isdigit():
        problem = f"{text!r} is not HOST:PORT (e.g. 127.0.0.1:8080, [::1]:8080)"
    elif int(port_text) > 65535:
        problem = f"port {port_text} is out of range (0-65535; 0 picks a free port)"
    if problem is not None:
        raise QueueError(TaskErrorCode.VALIDATION_INVALID_FORMAT, problem, field="http")
    return host, int(port_text)


def is_loopback(host: str) -> bool:
    """Whether `host` names this machine only (127.0.0.0/8, ::1, localhost)."""
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_bind(host: str, tls: bool) -> None:
    """QueueError API_TLS_REQUIRED unless `host` is loopback or TLS is used."""
    if not tls and not is_loopback(host):
        raise QueueError(
            TaskErrorCode.API_TLS_REQUIRED,
            f"serving the HTTP API on {host} needs TLS: pass --tls-cert FILE --tls-key FILE "
            "(or bind 127.0.0.1)",
            host=host,
        )
