"""The network family: NETWORK_TEST, NETWORK_SCAN, NETWORK_MONITOR: reachability, ports, and
watching a target.

A test checks a target N times by DNS, TCP connect, HTTP(S) (status, certificate validity and
expiry) and ICMP ping where this process may (else a TCP connect, said so); a scan lists the
open ports of a host through nmap when installed, else a connect scan with retries; a monitor
writes `sample <t> <target> <ms|down>` lines that the detail pane's chart (`qt.py`) draws, and
alerts (log, tray notice, optional webhook) on down, slow and recovered. Everything runs on
the standard library and aiohttp (a core dependency): no extra to install.
"""

from __future__ import annotations

import logging
from importlib import resources

from qtqueue.core.errors import CATALOG
from qtqueue.executors.base import Executor
from qtqueue.executors.family import Family
from qtqueue.families.network.settings import NetworkSettings

logger = logging.getLogger(__name__)

__all__ = ["NetworkSettings", "family", "network_executors"]


def network_executors() -> list[Executor]:
    """One instance of each of the family's executors."""
    from qtqueue.families.network.checks import NetworkTestExecutor
    from qtqueue.families.network.monitor import NetworkMonitorExecutor
    from qtqueue.families.network.scan import NetworkScanExecutor

    return [NetworkTestExecutor(), NetworkScanExecutor(), NetworkMonitorExecutor()]


#: The family's own error codes and message rules (its NETWORK_* codes are the core's).
ERRORS = resources.files(__name__) / "errors.toml"

#: The Network family, advertised as `network` in the `qtqueue.families` entry-point group.
family = Family(
    name="network",
    title="Network",
    category="network",
    executors=network_executors,
    settings_model=NetworkSettings,
    errors=ERRORS,
    # A test or a scan is named by its target or host.
    name_keys=("target", "host"),
    qt_module=f"{__name__}.qt",
)

CATALOG.register_file(family.name, ERRORS)
