"""NETWORK_SCAN through a real TaskQueue: Debian's nmap and the built-in connect scan against
listeners on 127.0.0.1 and inside a network namespace the test makes itself (with its own
firewall rules for filtered ports and for SYNs dropped as under load), and cancel mid-scan."""

from __future__ import annotations

import shutil
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from helpers.queues import QueueFactory
from helpers.waiting import eventually
from network_env import Namespace, TcpServer, closed_port

from qtqueue.core.errors import TaskErrorCode
from qtqueue.core.task import Task, TaskStatus, TaskType
from qtqueue.engine.queue import TaskQueue
from qtqueue.executors import ExecutorRegistry
from qtqueue.families.network import family
from qtqueue.families.network.scan import nmap_no_host_reason, parse_nmap_xml, service_name

C = TaskErrorCode
S = TaskStatus
DONE_S = 30.0
HAS_NMAP = pytest.mark.skipif(
    shutil.which("nmap") is None,
    reason="nmap is not installed (make test installs it)",
)
METHODS = [pytest.param("nmap", marks=HAS_NMAP), "connect"]


async def scan(queue: TaskQueue, **params: Any) -> Task:
    task_id = await queue.add_task(Task(TaskType.NETWORK_SCAN, params, max_retries=0))
    return await queue.wait_for(task_id, timeout_s=DONE_S)


@pytest.fixture
async def listeners() -> AsyncIterator[list[TcpServer]]:
    servers = [await TcpServer().start() for _ in range(2)]
    try:
        yield servers
    finally:
        for s in servers:
            await s.stop()


@pytest.mark.parametrize("method", METHODS)
async def test_the_open_ports_of_loopback_are_found_and_closed_ones_are_not(
    nq: TaskQueue, listeners: list[TcpServer], method: str
) -> None:
    shut = closed_port()
    wanted = sorted(s.port for s in listeners)
    done = await scan(nq, host="127.0.0.1", ports=f"{wanted[0]},{wanted[1]},{shut}", method=method)
    assert done.status is S.COMPLETED, done.error
    assert done.result["method"] == method
    assert [p["port"] for p in done.result["open"]] == wanted
    assert all(p["service"] for p in done.result["open"])
    assert done.result["closed"] == 1 and done.result["scanned"] == 3
    log = await nq.read_log(done.id)
    assert "PORT      STATE     SERVICE" in log
    assert all(f"{p:<9} open" in log for p in wanted)


@pytest.mark.parametrize("method", METHODS)
def test_scan_a_test_namespace_sees_open_closed_and_firewalled_ports(
    namespace: Namespace, method: str, data_dir: Path
) -> None:
    """In the test's own namespace: 7 (echo) and 8080 listen, 9999 is dropped by its firewall
    (filtered), 22 is closed."""
    import asyncio

    namespace.listen([7, 8080, 9999])
    namespace.iptables("-A", "INPUT", "-p", "tcp", "--dport", "9999", "-j", "DROP")

    async def go() -> Task:
        registry = ExecutorRegistry()
        registry.add_family(family)
        async with TaskQueue(data_dir, registry=registry) as q:
            return await scan(
                q, host=namespace.address, ports="7,22,8080,9999", method=method, timeout_s=0.3
            )

    done = asyncio.run(go())
    assert done.status is S.COMPLETED, done.error
    assert [(p["port"], p["service"]) for p in done.result["open"]] == [
        (7, "echo"),
        (8080, "http-proxy" if method == "nmap" else service_name(8080)),
    ]
    assert done.result["filtered"] == [9999]
    assert done.result["closed"] == 1


@pytest.mark.parametrize("method", METHODS)
async def test_many_firewalled_ports_count_as_filtered_never_as_closed(
    nq: TaskQueue, namespace: Namespace, method: str
) -> None:
    """99 of 100 ports dropped by the namespace's firewall: nmap reports them only as a count,
    the connect scan one by one; neither calls them closed."""
    namespace.listen([8080])
    namespace.iptables("-A", "INPUT", "-p", "tcp", "!", "--dport", "8080", "-j", "DROP")
    done = await scan(nq, host=namespace.address, ports="8000-8099", method=method, timeout_s=0.3)
    assert done.status is S.COMPLETED, done.error
    assert [p["port"] for p in done.result["open"]] == [8080]
    assert done.result["filtered_count"] == 99 and done.result["closed"] == 0


async def test_a_port_whose_first_syn_is_dropped_is_retried_not_called_closed(
    namespace: Namespace, make_queue: QueueFactory
) -> None:
    """Every other SYN to 8081 is dropped in the namespace (as a loaded host drops them): the
    connect scan tries again and finds it open; without retries it could not."""
    namespace.listen([8081])
    namespace.iptables(
        "-A",
        "INPUT",
        "-p",
        "tcp",
        "--dport",
        "8081",
        "--syn",
        "-m",
        "statistic",
        "--mode",
        "nth",
        "--every",
        "2",
        "--packet",
        "0",
        "-j",
        "DROP",
    )
    registry = ExecutorRegistry()
    registry.add_family(family)
    retrying = await make_queue(registry=registry, executor_settings={"network_scan_retries": 2})
    done = await scan(
        retrying, host=namespace.address, ports="8081", method="connect", timeout_s=0.3
    )
    assert done.status is S.COMPLETED, done.error
    assert [p["port"] for p in done.result["open"]] == [8081]

    naive = await make_queue(
        registry=registry,
        executor_settings={"network_scan_retries": 0},
        data_dir=retrying.data_dir.parent / "naive",
    )
    once = await scan(naive, host=namespace.address, ports="8081", method="connect", timeout_s=0.3)
    assert once.result["open"] == [] and once.result["filtered"] == [8081]


@HAS_NMAP
async def test_pause_resume_and_cancel_reach_a_long_nmap_scans_process(
    nq: TaskQueue, namespace: Namespace
) -> None:
    namespace.iptables("-A", "INPUT", "-p", "tcp", "-j", "DROP")  # every port filtered: slow
    task_id = await nq.add_task(
        Task(
            TaskType.NETWORK_SCAN,
            {"host": namespace.address, "ports": "1-5000", "method": "nmap"},
            max_retries=0,
        )
    )

    def nmap_procs() -> list[psutil.Process]:
        return [
            p
            for p in psutil.process_iter(["cmdline"])
            if namespace.address in (p.info["cmdline"] or []) and "-sT" in p.info["cmdline"]
        ]

    running = await eventually(nmap_procs, DONE_S, "nmap started")

    def states() -> set[str]:
        return {p.status() for p in running}

    await nq.pause_task(task_id)  # the whole process group is stopped...
    await eventually(lambda: states() == {psutil.STATUS_STOPPED}, DONE_S, "nmap stopped")
    await nq.resume_task(task_id)  # ...and goes on
    await eventually(lambda: psutil.STATUS_STOPPED not in states(), DONE_S, "nmap resumed")
    await nq.cancel_task(task_id)
    done = await nq.wait_for(task_id, timeout_s=DONE_S)
    assert done.status is S.CANCELLED
    _gone, alive = psutil.wait_procs(running, timeout=10)
    assert not alive


async def test_a_host_that_does_not_resolve_fails_with_network_dns_error(nq: TaskQueue) -> None:
    done = await scan(nq, host="nowhere.invalid", ports="80")
    assert done.status is S.FAILED and done.error_code == C.NETWORK_DNS_ERROR.value


async def test_bad_port_specs_are_refused_when_the_task_is_added(nq: TaskQueue) -> None:
    from qtqueue.core.errors import QueueError

    with pytest.raises(QueueError) as bad:
        await nq.add_task(Task(TaskType.NETWORK_SCAN, {"host": "127.0.0.1", "ports": "80-70"}))
    assert bad.value.code == C.VALIDATION_INVALID_PARAMS and "80-70" in bad.value.message


def test_nmap_xml_is_read_port_by_port() -> None:
    """A report nmap 7.93 wrote for one open and one filtered port."""
    xml = (
        '<?xml version="1.0"?><nmaprun><host><ports>'
        '<port protocol="tcp" portid="22"><state state="open"/><service name="ssh"/></port>'
        '<port protocol="tcp" portid="25"><state state="filtered"/><service name="smtp"/></port>'
        "</ports></host></nmaprun>"
    )
    assert [(p.port, p.state, p.service) for p in parse_nmap_xml(xml)] == [
        (22, "open", "ssh"),
        (25, "filtered", "smtp"),
    ]
    assert socket.getservbyport(22, "tcp") == service_name(22)


@pytest.fixture
def ipv6_listener() -> Iterator[int]:
    """A TCP listener on ::1 (the IPv6 loopback); its port."""
    try:
        sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        sock.bind(("::1", 0))
    except OSError as exc:
        pytest.skip(f"no IPv6 loopback here: {exc}")
    sock.listen()
    try:
        yield int(sock.getsockname()[1])
    finally:
        sock.close()


@pytest.mark.parametrize("method", METHODS)
async def test_an_open_port_of_the_ipv6_loopback_is_found_open(
    nq: TaskQueue, ipv6_listener: int, method: str
) -> None:
    shut = ipv6_listener + 1 if ipv6_listener < 65535 else ipv6_listener - 1
    done = await scan(nq, host="::1", ports=f"{ipv6_listener},{shut}", method=method)
    assert done.status is S.COMPLETED, done.error
    assert done.result["method"] == method and done.result["address"] == "::1"
    assert [p["port"] for p in done.result["open"]] == [ipv6_listener]
    assert done.result["scanned"] == 2 and done.result["closed"] == 1


@HAS_NMAP
def test_an_nmap_report_that_skipped_its_target_is_a_failure_not_all_closed() -> None:
    """nmap given an IPv6 address without -6 skips it, exits 0 and lists no port: that report
    says why, and the scan fails with NETWORK_SCAN_NO_HOST instead of calling every port
    closed."""
    import subprocess

    nmap = shutil.which("nmap")
    assert nmap is not None
    out = subprocess.run(
        [nmap, "-sT", "-Pn", "-n", "-oX", "-", "-p", "22", "::1"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 0  # nmap itself calls it a success
    assert parse_nmap_xml(out.stdout) == []
    why = nmap_no_host_reason(out.stdout)
    assert why is not None and "::1 skipped (invalid)" in why
    ok = subprocess.run(
        [nmap, "-6", "-sT", "-Pn", "-n", "-oX", "-", "-p", "22", "::1"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert nmap_no_host_reason(ok.stdout) is None
