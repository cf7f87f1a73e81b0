"""The network family's settings: how long a probe waits, and how wide a connect scan goes."""

from __future__ import annotations

import logging

from pydantic import BaseModel, ConfigDict, Field

logger = logging.getLogger(__name__)

__all__ = ["NetworkSettings"]


class NetworkSettings(BaseModel):
    """Settings every network task reads at run time (`RunContext.family_settings`)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    network_scan_concurrency: int = Field(
        default=100,
        ge=1,
        le=2000,
        title="Connect-scan concurrency",
        description="How many ports the built-in connect scan (used when nmap is not installed) "
        "tries at once",
    )
    network_scan_retries: int = Field(
        default=2,
        ge=0,
        le=10,
        title="Connect-scan retries",
        description="How many more times a port that timed out is tried before it is reported "
        "filtered (so that load does not yield false 'closed' ports)",
    )
    network_nmap_path: str = Field(
        default="nmap",
        title="nmap program",
        description="The nmap executable port scans use when installed (a name on PATH or a "
        "full path)",
    )
