"""NETWORK_SCAN: the open TCP ports of a host, through Debian's nmap when installed (a
subprocess in its own process group, XML on stdout parsed with xml.etree, progress from
`--stats-every`) or a built-in asyncio connect scan with bounded concurrency, where a port that
timed out is tried again before it is reported filtered (a naive scan under load reports false
"closed")."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import shutil
import signal
import socket
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.core.task import TaskStatus, TaskType
from qtqueue.executors.base import Executor, RunContext
from qtqueue.families.network.params import NetworkScanParams, ScanMethod, parse_ports
from qtqueue.families.network.probes import network_error, resolve
from qtqueue.families.network.settings import NetworkSettings

logger = logging.getLogger(__name__)

__all__ = ["NetworkScanExecutor", "PortState", "connect_scan", "parse_nmap_xml", "port_table"]

C = TaskErrorCode
#: The family's own code for an nmap run that scanned no host (its ports are unknown).
NO_HOST = "NETWORK_SCAN_NO_HOST"
_PROGRESS = re.compile(r'<taskprogress [^>]*percent="([\d.]+)"')
#: Seconds nmap gets to exit after SIGTERM before SIGKILL.
GRACE_S = 3.0


@dataclass(frozen=True, slots=True)
class PortState:
    """One scanned port: open, closed or filtered (no answer, even after retries)."""

    port: int
    state: str
    service: str

    def to_dict(self) -> dict[str, Any]:
        return {"port": self.port, "state": self.state, "service": self.service}


def service_name(port: int) -> str:
    """The service /etc/services names for a TCP port, or 'unknown'."""
    try:
        return socket.getservbyport(port, "tcp")
    except OSError:
        return "unknown"


def nmap_extra_ports(text: str) -> dict[str, int]:
    """How many ports nmap's report counts without listing them, by state ("closed": 995):
    its `<extraports>` elements."""
    counts: dict[str, int] = {}
    for extra in ET.fromstring(text).iter("extraports"):
        state = extra.get("state", "unknown")
        counts[state] = counts.get(state, 0) + int(extra.get("count", "0"))
    return counts


def nmap_no_host_reason(text: str) -> str | None:
    """Why nmap's report scanned no host (`<hosts up="0">`): the target it skipped and why
    (an IPv6 address without -6 is skipped as "invalid" and nmap still exits 0), or that the
    host was down; None when a host was scanned."""
    root = ET.fromstring(text)
    hosts = root.find("runstats/hosts")
    if hosts is None or int(hosts.get("up", "0")) > 0:
        return None
    skipped = [
        f"target {t.get('specification', '?')} skipped ({t.get('reason', 'no reason given')})"
        for t in root.iter("target")
        if t.get("status") == "skipped"
    ]
    if skipped:
        return "; ".join(skipped)
    return f"no host up ({hosts.get('down', '0')} down of {hosts.get('total', '0')})"


def parse_nmap_xml(text: str) -> list[PortState]:
    """The ports nmap's XML report lists one by one (open ones, and closed or filtered ones
    when few; the rest only as counts: `nmap_extra_ports`)."""
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise QueueError(C.INTERNAL_ERROR, f"nmap's XML output could not be read: {exc}") from None
    found = []
    for port in root.iter("port"):
        state = port.find("state")
        service = port.find("service")
        number = int(port.get("portid", "0"))
        found.append(
            PortState(
                number,
                state.get("state", "unknown") if state is not None else "unknown",
                service.get("name", "unknown") if service is not None else service_name(number),
            )
        )
    return found


def port_table(host: str, states: list[PortState]) -> str:
    """A table of the open (and filtered) ports, as the log shows it."""
    shown = [s for s in states if s.state != "closed"]
    lines = [f"{len(shown)} port(s) of {host} open or filtered:", "PORT      STATE     SERVICE"]
    lines += [f"{s.port:<9} {s.state:<9} {s.service}" for s in shown]
    return "\n".join(lines)


async def connect_scan(
    address: str,
    ports: list[int],
    timeout_s: float,
    concurrency: int,
    retries: int,
    on_done: Callable[[int], None] = lambda n: None,
) -> list[PortState]:
    """Each port tried by a TCP connect, at most `concurrency` at once; a refused connection is
    closed at once, a timed-out one is tried `retries` more times before it is filtered."""
    gate = asyncio.Semaphore(concurrency)
    done = 0

    async def one(port: int) -> PortState:
        nonlocal done
        state = "filtered"
        for _attempt in range(retries + 1):
            async with gate:
                try:
                    async with asyncio.timeout(timeout_s):
                        _, writer = await asyncio.open_connection(address, port)
                except TimeoutError:
                    continue
                except OSError:
                    state = "closed"
                    break
                writer.close()
                state = "open"
                break
        done += 1
        on_done(done)
        return PortState(port, state, service_name(port))

    return list(await asyncio.gather(*(one(p) for p in ports)))


class NetworkScanExecutor(Executor[NetworkScanParams]):
    """Scans the TCP ports of a host; the result lists the open ones with their service."""

    task_type: ClassVar[TaskType | str] = TaskType.NETWORK_SCAN
    summary: ClassVar[str] = "Find the open TCP ports of a host (nmap, or a connect scan)"

    async def run(self, ctx: RunContext[NetworkScanParams]) -> dict[str, Any] | None:
        p = ctx.params
        settings = ctx.family_settings(NetworkSettings)
        ports = parse_ports(p.ports)
        nmap = shutil.which(settings.network_nmap_path)
        if p.method is ScanMethod.NMAP and nmap is None:
            raise QueueError(
                C.VALIDATION_INVALID_PARAMS,
                f"method nmap: {settings.network_nmap_path!r} is not installed "
                "(apt-get install nmap), or choose method auto or connect",
            )
        ctx.phase(TaskStatus.VALIDATING)
        try:
            addresses, _ = await resolve(p.host, p.timeout_s * 5)
        except Exception as exc:
            raise network_error(exc, f"scan {p.host}", p.timeout_s * 5) from None
        address = next((a for a in addresses if ":" not in a), addresses[0])
        use_nmap = nmap is not None and p.method is not ScanMethod.CONNECT
        extra: dict[str, int] = {}
        ctx.log(
            f"scanning {len(ports)} port(s) of {p.host} ({address}) with "
            + ("nmap" if use_nmap else "the built-in connect scan")
        )
        if use_nmap and nmap is not None:
            states, extra = await self._nmap(ctx, nmap, address, p.ports)
        else:
            states = await connect_scan(
                address,
                ports,
                p.timeout_s,
                settings.network_scan_concurrency,
                settings.network_scan_retries,
                lambda n: ctx.progress(100.0 * n / len(ports), f"{n}/{len(ports)} ports"),
            )
        ctx.progress(100.0, "done")
        ctx.log(port_table(p.host, states))
        open_ports = [s.to_dict() for s in states if s.state == "open"]
        filtered = [s.port for s in states if s.state == "filtered"]
        filtered_count = len(filtered) + extra.get("filtered", 0)
        if extra.get("filtered"):
            ctx.log(f"{extra['filtered']} more port(s) filtered (nmap lists them only as a count)")
        return {
            "host": p.host,
            "address": address,
            "method": "nmap" if use_nmap else "connect",
            "scanned": len(ports),
            "open": open_ports,
            "filtered": filtered,
            "filtered_count": filtered_count,
            "closed": len(ports) - len(open_ports) - filtered_count,
        }

    async def _nmap(
        self, ctx: RunContext[NetworkScanParams], nmap: str, address: str, ports: str
    ) -> tuple[list[PortState], dict[str, int]]:
        argv = [nmap, "-sT", "-Pn", "-n", "-oX", "-", "--stats-every", "1s", "-p", ports, address]
        if ":" in address:  # without -6 nmap skips an IPv6 target and reports nothing
            argv.insert(1, "-6")
        ctx.log("$ " + " ".join(argv))
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,  # its own process group: pause and cancel reach all of it
        )
        ctx.attach_pid(proc.pid)

        def signal_group(sig: int) -> None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, sig)

        ctx.set_suspend_hooks(
            lambda: signal_group(signal.SIGSTOP), lambda: signal_group(signal.SIGCONT)
        )
        out: list[str] = []
        try:
            assert proc.stdout is not None and proc.stderr is not None
            stdout, stderr_pipe = proc.stdout, proc.stderr

            async def read_report() -> None:
                async for raw in stdout:
                    line = raw.decode("utf-8", "replace")
                    out.append(line)
                    m = _PROGRESS.search(line)
                    if m:
                        ctx.progress(min(float(m.group(1)), 99.0), "nmap scanning")

            _, err = await asyncio.gather(read_report(), stderr_pipe.read())
            rc = await proc.wait()
            stderr = err.decode("utf-8", "replace").strip()
        except BaseException:
            signal_group(signal.SIGCONT)
            signal_group(signal.SIGTERM)
            try:
                async with asyncio.timeout(GRACE_S):
                    await proc.wait()
            except TimeoutError:
                signal_group(signal.SIGKILL)
            raise
        if stderr:
            ctx.log(stderr)
        if rc != 0:
            code = (
                C.NETWORK_DNS_ERROR if "resolve" in stderr.lower() else C.NETWORK_CONNECTION_FAILED
            )
            raise QueueError(code, f"nmap exited with {rc}: {stderr[-500:]}", exit_code=rc)
        report = "".join(out)
        states = parse_nmap_xml(report)
        why = nmap_no_host_reason(report)
        if why is not None:
            raise QueueError(
                NO_HOST, f"nmap scanned no host of {address}: {why}. {stderr[-300:]}".strip()
            )
        return states, nmap_extra_ports(report)
