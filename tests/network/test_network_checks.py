"""NETWORK_TEST through a real TaskQueue against servers on 127.0.0.1 the tests start
themselves: TCP latency and loss, HTTP statuses, HTTPS certificate validity and expiry (made
here), DNS resolution (names under .invalid and localhost only), ICMP ping as root and its
TCP stand-in where ICMP is not allowed, and the code each failure gets."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from network_env import HttpServer, Namespace, TcpServer, closed_port

from qtqueue.core.errors import TaskErrorCode
from qtqueue.core.task import Task, TaskStatus, TaskType

C = TaskErrorCode
S = TaskStatus
#: Seconds any task here may take: every probe goes to 127.0.0.1.
DONE_S = 30.0


async def run(queue: Any, task_type: str, /, **params: Any) -> Task:
    task_id = await queue.add_task(Task(task_type, params, max_retries=0))
    return await queue.wait_for(task_id, timeout_s=DONE_S)  # type: ignore[no-any-return]


@pytest.fixture
async def listener() -> AsyncIterator[TcpServer]:
    server = await TcpServer().start()
    try:
        yield server
    finally:
        await server.stop()


async def test_tcp_and_dns_checks_give_latency_and_no_loss_against_a_local_listener(
    nq: Any, listener: TcpServer
) -> None:
    done = await run(nq, TaskType.NETWORK_TEST, target=f"localhost:{listener.port}", count=5)
    assert done.status is S.COMPLETED, done.error
    result = done.result
    assert result["ok"] is True
    assert "127.0.0.1" in result["checks"]["dns"]["addresses"]
    tcp = result["checks"]["tcp"]
    assert tcp["probes"] == 5 and tcp["loss_pct"] == 0
    assert 0 < tcp["min_ms"] <= tcp["avg_ms"] <= tcp["max_ms"]
    assert listener.accepted == 5  # five real connections reached the server
    log = await nq.read_log(done.id)
    assert "check  ok   min ms" in log and "tcp    yes" in log


async def test_a_closed_port_fails_with_network_connection_failed(nq: Any) -> None:
    port = closed_port()
    done = await run(nq, TaskType.NETWORK_TEST, target=f"127.0.0.1:{port}", checks=["tcp"], count=2)
    assert done.status is S.FAILED
    assert done.error_code == C.NETWORK_CONNECTION_FAILED.value
    assert "connection refused" in (done.error or "")
    assert done.error_details["result"]["checks"]["tcp"]["loss_pct"] == 100.0


async def test_a_name_that_does_not_resolve_fails_with_network_dns_error(nq: Any) -> None:
    done = await run(nq, TaskType.NETWORK_TEST, target="no-such-host.invalid:80", count=1)
    assert done.status is S.FAILED
    assert done.error_code == C.NETWORK_DNS_ERROR.value
    assert "does not resolve" in (done.error or "")


async def test_http_status_is_checked_against_the_expected_statuses_on_local_http(
    nq: Any, http_server: HttpServer
) -> None:
    ok = await run(nq, TaskType.NETWORK_TEST, target=f"{http_server.url}/", count=2)
    assert ok.status is S.COMPLETED, ok.error
    assert ok.result["checks"]["http"]["status"] == 200
    assert set(ok.result["checks"]) == {"dns", "tcp", "http"}  # a URL adds the HTTP check

    bad = await run(
        nq, TaskType.NETWORK_TEST, target=f"{http_server.url}/status/503", checks=["http"], count=1
    )
    assert bad.status is S.FAILED
    assert bad.error_code == "NETWORK_HTTP_UNEXPECTED_STATUS"
    assert "503" in (bad.error or "")

    wanted = await run(
        nq,
        TaskType.NETWORK_TEST,
        target=f"{http_server.url}/status/503",
        checks=["http"],
        count=1,
        expected_status=[503],
    )
    assert wanted.status is S.COMPLETED, wanted.error


async def https_check(nq: Any, certificate: tuple[Path, Path], **params: Any) -> Task:
    """One HTTP check of a local HTTPS server presenting `certificate`."""
    server = await HttpServer(cert=certificate).start()
    try:
        return await run(
            nq, TaskType.NETWORK_TEST, target=f"{server.url}/", checks=["http"], count=1, **params
        )
    finally:
        await server.stop()


async def test_https_reports_certificate_validity_and_days_to_expiry_on_local_https(
    nq: Any, certificates: dict[str, tuple[Path, Path]]
) -> None:
    trusted = certificates["valid"]
    done = await https_check(nq, trusted, ca_file=str(trusted[0]))
    assert done.status is S.COMPLETED, done.error
    tls = done.result["checks"]["http"]["tls"]
    assert tls["valid"] is True and 29 <= tls["expires_in_days"] <= 30
    assert "CN=127.0.0.1" in tls["subject"] or "commonName=127.0.0.1" in tls["subject"]

    untrusted = await https_check(nq, trusted)  # the system's CAs never signed it
    assert untrusted.status is S.FAILED
    assert untrusted.error_code == C.NETWORK_SSL_ERROR.value
    assert "self-signed" in (untrusted.error or "") or "self signed" in (untrusted.error or "")


async def test_an_expired_certificate_fails_with_network_ssl_error_on_local_https(
    nq: Any, certificates: dict[str, tuple[Path, Path]]
) -> None:
    expired = certificates["expired"]
    done = await https_check(nq, expired, ca_file=str(expired[0]))
    assert done.status is S.FAILED
    assert done.error_code == C.NETWORK_SSL_ERROR.value, (done.error, done.error_details)
    assert "expired" in (done.error or ""), done.error


async def test_a_server_that_never_answers_fails_with_network_timeout(nq: Any) -> None:
    held: list[asyncio.StreamWriter] = []

    async def hold(_r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        held.append(w)  # accepted, never answered

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        done = await run(
            nq,
            TaskType.NETWORK_TEST,
            target=f"http://127.0.0.1:{port}/",
            checks=["http"],
            count=1,
            timeout_s=0.5,
        )
    finally:
        for w in held:
            w.close()
        server.close()
        await server.wait_closed()
    assert done.status is S.FAILED
    assert done.error_code == C.NETWORK_TIMEOUT.value
    assert "0.5 s" in (done.error or "")


@pytest.mark.skipif(os.geteuid() != 0, reason="ICMP here needs root (ping_group_range is 1 0)")
async def test_ping_as_root_sends_real_icmp_echoes_to_loopback(nq: Any) -> None:
    done = await run(nq, TaskType.NETWORK_TEST, target="127.0.0.1", checks=["ping"], count=3)
    assert done.status is S.COMPLETED, done.error
    ping = done.result["checks"]["ping"]
    assert ping["method"] == "icmp" and ping["loss_pct"] == 0 and ping["probes"] == 3


@pytest.mark.skipif(os.geteuid() != 0, reason="ICMP here needs root (ping_group_range is 1 0)")
async def test_a_silent_host_stays_down_while_other_tasks_ping_loopback(
    nq: Any, namespace: Namespace
) -> None:
    """The test's namespace drops every ICMP echo: its address never answers. Meanwhile other
    NETWORK_TEST tasks of the same process ping 127.0.0.1 with the same sequence numbers; a raw
    ICMP socket sees their replies too, and none of them may count for the silent host."""
    namespace.iptables("-A", "INPUT", "-p", "icmp", "-j", "DROP")
    silent = await nq.add_task(
        Task(
            TaskType.NETWORK_TEST,
            {"target": namespace.address, "checks": ["ping"], "count": 3, "timeout_s": 0.4},
            max_retries=0,
        )
    )
    loopback_runs = 0
    while not (await nq.get_task(silent)).status.is_terminal:
        up = await run(nq, TaskType.NETWORK_TEST, target="127.0.0.1", checks=["ping"], count=3)
        assert up.status is S.COMPLETED, up.error
        assert up.result["checks"]["ping"]["loss_pct"] == 0
        loopback_runs += 1
    done = await nq.wait_for(silent, timeout_s=DONE_S)
    assert loopback_runs >= 3  # the loopback pings really ran while the silent host was pinged
    assert done.status is S.FAILED
    assert done.error_code == C.NETWORK_TIMEOUT.value
    ping = done.error_details["result"]["checks"]["ping"]
    assert ping["loss_pct"] == 100 and ping["ok"] is False


@pytest.mark.skipif(os.geteuid() != 0, reason="dropping to another user needs root")
def test_without_icmp_rights_ping_falls_back_to_tcp_and_says_so(tmp_path: Path) -> None:
    """As the unprivileged user `nobody` (where ping_group_range excludes it) no ICMP socket
    opens: the check stands in with a TCP connect and says why."""
    allowed = Path("/proc/sys/net/ipv4/ping_group_range").read_text().split()
    if int(allowed[0]) <= 65534 <= int(allowed[1]):
        pytest.skip("unprivileged ping is allowed for nobody here")
    script = (
        "import os, json\n"
        "from qtqueue.families.network.probes import icmp_socket_kind\n"
        "from qtqueue.families.network.checks import NetworkTestExecutor\n"
        "from qtqueue.families.network.params import NetworkTestParams, CheckKind\n"
        "from qtqueue.families.network.probes import parse_target\n"
        "os.setgid(65534); os.setuid(65534); info = {}\n"
        "NetworkTestExecutor()._tcp_or_ping(CheckKind.PING, parse_target('127.0.0.1:8'),\n"
        "    NetworkTestParams(target='127.0.0.1'), info)\n"
        "print(json.dumps({'kind': icmp_socket_kind(), **info['ping']}))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}
    out = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    seen = json.loads(out.stdout)
    assert seen["kind"] is None
    assert seen["method"] == "tcp:8" and "ping_group_range" in seen["note"]
