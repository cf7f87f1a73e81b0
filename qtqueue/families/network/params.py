"""The network family's params: what a person fills in the form of each task type."""

from __future__ import annotations

import logging
import re
from enum import StrEnum

from pydantic import Field, field_validator

from qtqueue.executors.base import Params

logger = logging.getLogger(__name__)

__all__ = [
    "CheckKind",
    "NetworkMonitorParams",
    "NetworkScanParams",
    "NetworkTestParams",
    "ScanMethod",
    "parse_ports",
]


class CheckKind(StrEnum):
    """One kind of check of a target."""

    DNS = "dns"
    TCP = "tcp"
    HTTP = "http"
    PING = "ping"


class ScanMethod(StrEnum):
    """How a port scan is done: nmap when installed (auto), nmap only, or the built-in scan."""

    AUTO = "auto"
    NMAP = "nmap"
    CONNECT = "connect"


_PORT_SPEC = re.compile(r"^\s*(\d{1,5})(?:\s*-\s*(\d{1,5}))?\s*$")
#: The most ports one scan may name.
MAX_PORTS = 65535


def parse_ports(spec: str) -> list[int]:
    """'22,80,8000-8010' as the sorted list of distinct ports; ValueError naming a bad part."""
    ports: set[int] = set()
    for part in spec.split(","):
        m = _PORT_SPEC.match(part)
        if m is None:
            raise ValueError(f"{part.strip()!r} is not a port or a range such as 8000-8100")
        low = int(m.group(1))
        high = int(m.group(2) or low)
        if not 1 <= low <= high <= 65535:
            raise ValueError(f"{part.strip()!r}: ports go from 1 to 65535, low to high")
        ports.update(range(low, high + 1))
    return sorted(ports)


class NetworkTestParams(Params):
    """NETWORK_TEST: check one target N times by DNS, TCP connect, HTTP(S) and/or ping."""

    target: str = Field(
        description="What to check: a host name or address ('example.org', '10.0.0.5'), "
        "host:port, or an http(s):// URL",
        min_length=1,
    )
    checks: list[CheckKind] = Field(
        default_factory=list,
        description="Which checks to run (empty: DNS and TCP, plus HTTP for a URL). Ping uses "
        "ICMP where the process may, else a TCP connect (the result says which)",
    )
    port: int | None = Field(
        None, ge=1, le=65535, description="TCP port (default: the URL's, or 80)"
    )
    count: int = Field(4, ge=1, le=1000, description="How many probes each check sends")
    timeout_s: float = Field(5.0, gt=0, le=300, description="Seconds each probe may take")
    expected_status: list[int] = Field(
        default_factory=list,
        description="HTTP statuses that count as success (empty: any status below 400)",
    )
    ca_file: str | None = Field(
        None, description="A PEM file of CA certificates to trust for HTTPS (default: the system's)"
    )


class NetworkScanParams(Params):
    """NETWORK_SCAN: which TCP ports of a host are open."""

    host: str = Field(description="The host to scan (a name or an address)", min_length=1)
    ports: str = Field(
        "1-1024",
        description="Ports: a list and/or ranges, e.g. '22,80,443,8000-8100'",
    )
    method: ScanMethod = Field(
        ScanMethod.AUTO,
        description="auto: nmap when installed, else the built-in connect scan; nmap; connect",
    )
    timeout_s: float = Field(
        2.0, gt=0, le=60, description="Seconds one connection attempt of the built-in scan may take"
    )

    @field_validator("ports")
    @classmethod
    def _ports(cls, spec: str) -> str:
        parse_ports(spec)
        return spec.replace(" ", "")


class NetworkMonitorParams(Params):
    """NETWORK_MONITOR: check targets at an interval; alert on down, slow and recovered."""

    targets: list[str] = Field(
        description="What to watch: host:port (TCP connect), http(s):// URLs (HTTP request) "
        "or a bare host (ping, else a TCP connect to port 80)",
        min_length=1,
    )
    interval_s: float = Field(5.0, ge=0.05, le=86400, description="Seconds between two rounds")
    duration_s: float | None = Field(
        60.0, gt=0, description="How long to watch in seconds (empty: until cancelled)"
    )
    timeout_s: float = Field(2.0, gt=0, le=300, description="Seconds one check may take")
    latency_threshold_ms: float | None = Field(
        None, gt=0, description="Alert when a check is slower than this (ms)"
    )
    webhook_url: str | None = Field(
        None, description="An http(s) URL each alert is POSTed to as JSON (optional)"
    )

    @field_validator("targets")
    @classmethod
    def _targets(cls, targets: list[str]) -> list[str]:
        targets = [t.strip() for t in targets]
        if any(not t or any(c.isspace() for c in t) for t in targets):
            raise ValueError("each target is one word: host:port, a URL or a host")
        return targets

    @field_validator("webhook_url")
    @classmethod
    def _webhook(cls, url: str | None) -> str | None:
        if url is not None and not re.match(r"^https?://[^/@\s]+", url):
            raise ValueError("must be an http:// or https:// URL without a user name")
        return url or None
