"""NETWORK_TEST: a target checked N times by DNS resolution, TCP connect, an HTTP(S) request
(status, certificate validity and expiry) and ICMP ping — or, where this process may not send
ICMP, a TCP connect instead, said in the log and the result."""

from __future__ import annotations

import logging
import socket
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.core.task import TaskStatus, TaskType
from qtqueue.executors.base import Executor, RunContext
from qtqueue.families.network.params import CheckKind, NetworkTestParams
from qtqueue.families.network.probes import (
    Target,
    icmp_socket_kind,
    network_error,
    parse_target,
    ping_icmp,
    probe_http,
    probe_tcp,
    resolve,
    tls_context,
)

logger = logging.getLogger(__name__)

__all__ = ["NetworkTestExecutor", "latency_summary"]

C = TaskErrorCode
#: The family's own code for an HTTP answer outside the expected statuses.
HTTP_STATUS = "NETWORK_HTTP_UNEXPECTED_STATUS"


def latency_summary(samples: list[float | None]) -> dict[str, Any]:
    """min/avg/max latency (ms) of the answered probes and the % of probes lost."""
    got = [s for s in samples if s is not None]
    lost = 100.0 * (len(samples) - len(got)) / len(samples) if samples else 0.0
    if not got:
        return {"min_ms": None, "avg_ms": None, "max_ms": None, "loss_pct": lost}
    return {
        "min_ms": round(min(got), 3),
        "avg_ms": round(sum(got) / len(got), 3),
        "max_ms": round(max(got), 3),
        "loss_pct": round(lost, 1),
    }


class NetworkTestExecutor(Executor[NetworkTestParams]):
    """Checks a target: each chosen check `count` times, latency and loss per check."""

    task_type: ClassVar[TaskType | str] = TaskType.NETWORK_TEST
    summary: ClassVar[str] = "Check a host or URL: DNS, TCP connect, HTTP(S)/TLS, ping"

    async def run(self, ctx: RunContext[NetworkTestParams]) -> dict[str, Any] | None:
        p = ctx.params
        target = parse_target(p.target, p.port)
        checks = list(dict.fromkeys(p.checks)) or (
            [CheckKind.DNS, CheckKind.TCP] + ([CheckKind.HTTP] if target.url else [])
        )
        ctx.phase(TaskStatus.VALIDATING)
        outcomes: dict[str, dict[str, Any]] = {}
        first_error: dict[str, QueueError] = {}
        total = len(checks) * p.count
        done = 0
        for kind in checks:
            runner = self._runner(kind, target, p, outcomes)
            samples: list[float | None] = []
            errors: list[str] = []
            for i in range(p.count):
                await ctx.checkpoint()
                ctx.progress(100.0 * done / total, f"{kind} {i + 1}/{p.count}")
                try:
                    ms = await runner(i)
                    samples.append(ms)
                    ctx.log(f"{kind} {target.host}: {ms:.2f} ms")
                except Exception as exc:  # each failure is classified below
                    err = network_error(exc, f"{kind} {p.target}", p.timeout_s)
                    samples.append(None)
                    errors.append(err.message)
                    ctx.log(f"{kind} {target.host}: failed ({err.code}): {err.message}")
                    first_error.setdefault(kind.value, err)
                done += 1
            outcome = outcomes.setdefault(kind.value, {})
            outcome.update(latency_summary(samples))
            outcome.update(ok=len(errors) < len(samples), probes=len(samples))
            if errors:
                outcome["errors"] = list(dict.fromkeys(errors))
        ctx.progress(100.0, "done")
        all_ms = [v for o in outcomes.values() for v in (o.get("avg_ms"),) if isinstance(v, float)]
        result = {
            "target": p.target,
            "host": target.host,
            "port": target.port,
            "checks": outcomes,
            "ok": all(o["ok"] for o in outcomes.values()),
            "latency_ms": {
                "min": min((o["min_ms"] for o in outcomes.values() if o["min_ms"]), default=None),
                "avg": round(sum(all_ms) / len(all_ms), 3) if all_ms else None,
                "max": max((o["max_ms"] for o in outcomes.values() if o["max_ms"]), default=None),
            },
        }
        ctx.log(_table(outcomes))
        dead = [kind for kind, o in outcomes.items() if not o["ok"]]
        if dead:
            first = first_error[dead[0]]
            raise QueueError(
                first.code,
                f"{first.message} (all {p.count} probes failed)",
                **first.details,
                check=dead[0],
                result=result,
            )
        return result

    def _runner(
        self,
        kind: CheckKind,
        target: Target,
        p: NetworkTestParams,
        outcomes: dict[str, dict[str, Any]],
    ) -> Callable[[int], Awaitable[float]]:
        if kind is CheckKind.DNS:

            async def dns(_: int) -> float:
                addresses, ms = await resolve(target.host, p.timeout_s)
                outcomes.setdefault("dns", {})["addresses"] = addresses
                return ms

            return dns
        if kind is CheckKind.TCP or kind is CheckKind.PING:
            return self._tcp_or_ping(kind, target, p, outcomes)
        return self._http(target, p, outcomes)

    def _tcp_or_ping(
        self,
        kind: CheckKind,
        target: Target,
        p: NetworkTestParams,
        outcomes: dict[str, dict[str, Any]],
    ) -> Callable[[int], Awaitable[float]]:
        port = target.port or 80
        if kind is CheckKind.PING:
            sock_kind = icmp_socket_kind()
            info = outcomes.setdefault("ping", {})
            if sock_kind is None:
                info["method"] = f"tcp:{port}"
                info["note"] = (
                    "ICMP is not allowed for this process (not root, and unprivileged ping is "
                    f"off: net.ipv4.ping_group_range); a TCP connect to port {port} stood in"
                )
                logger.info("ping %s: %s", target.host, info["note"])
            else:
                info["method"] = "icmp"

                async def icmp(i: int) -> float:
                    addresses, _ = await resolve(target.host, p.timeout_s)
                    v4 = [a for a in addresses if ":" not in a]
                    if not v4:
                        raise socket.gaierror(socket.EAI_ADDRFAMILY, "no IPv4 address")
                    return await ping_icmp(v4[0], sock_kind, i + 1, p.timeout_s)

                return icmp

        async def tcp(_: int) -> float:
            return await probe_tcp(target.host, port, p.timeout_s)

        return tcp

    def _http(
        self, target: Target, p: NetworkTestParams, outcomes: dict[str, dict[str, Any]]
    ) -> Callable[[int], Awaitable[float]]:
        url = target.url or f"http://{target.host}:{target.port or 80}/"
        context = tls_context(p.ca_file) if url.startswith("https://") else None

        async def http(_: int) -> float:
            import aiohttp

            async with aiohttp.ClientSession(trust_env=True) as session:
                got = await probe_http(session, url, p.timeout_s, context)
            info = outcomes.setdefault("http", {})
            info["status"] = got.status
            if got.cert_expires_in_days is not None:
                info["tls"] = {
                    "valid": True,
                    "expires_in_days": round(got.cert_expires_in_days, 1),
                    "subject": got.cert_subject,
                }
            wanted = p.expected_status
            if (wanted and got.status not in wanted) or (not wanted and got.status >= 400):
                raise QueueError(
                    HTTP_STATUS,
                    f"GET {url} answered {got.status}, expected "
                    + (", ".join(map(str, wanted)) if wanted else "a status below 400"),
                    status=got.status,
                )
            return got.latency_ms

        return http


def _table(outcomes: dict[str, dict[str, Any]]) -> str:
    rows = ["check  ok   min ms    avg ms    max ms    loss %"]
    for kind, o in outcomes.items():

        def fmt(v: Any) -> str:
            return f"{v:>8.2f}" if isinstance(v, float) else f"{'-':>8}"

        rows.append(
            f"{kind:<6} {'yes' if o['ok'] else 'no ':<4} {fmt(o['min_ms'])}  {fmt(o['avg_ms'])}"
            f"  {fmt(o['max_ms'])}  {o['loss_pct']:>6.1f}"
        )
    return "\n".join(rows)
