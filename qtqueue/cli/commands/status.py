"""`qtqueue status`: the engine at a glance (engine, named queues, running and waiting tasks,
workers, free resources), as the resource document's `status` command gives it."""

from __future__ import annotations

import argparse
import logging
from typing import TYPE_CHECKING, Any

from qtqueue.cli.output import out, print_json
from qtqueue.cli.parser import Subparsers, add_command, json_flag

if TYPE_CHECKING:
    from qtqueue.api.local_backend import Backend

logger = logging.getLogger(__name__)

ORDER = 121


def register(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    """The `status` command."""
    p = add_command(
        sub,
        common,
        "status",
        "The engine at a glance: whether it runs, its named queues, running and waiting "
        "tasks, workers and free resources.",
    )
    json_flag(p)
    p.set_defaults(handler=run)


def _amount(value: float | None, unit: str) -> str:
    return "-" if value is None else f"{value:.1f}{unit}"


def _engine_line(engine: dict[str, Any], remote: bool) -> str:
    if engine.get("cluster"):  # no engine runs on a cluster: its workers do (paused or not)
        return f"{engine['state']} (cluster at {engine['cluster']})"
    if not remote:
        return f"no engine is running (data dir {engine['data_dir']})"
    return f"{engine['state']} (pid {engine['pid']}, data dir {engine['data_dir']})"


async def run(backend: Backend, args: argparse.Namespace) -> int:
    """Print the overview (JSON: the `engine_status` action's reply)."""
    st = await backend.call("engine_status")
    if args.json:
        print_json(st)
        return 0
    workers, free = st["workers"], st["free"]
    queues = "; ".join(
        f"{q['name']} {q['running']} running, {q['waiting']} waiting" for q in st["queues"]
    )
    lines = [
        ("engine", _engine_line(st["engine"], backend.remote)),
        ("queues", queues or "-"),
        ("running", f"{st['running']} ({st['suspended']} suspended)"),
        (
            "waiting",
            f"{st['waiting']} could not start ('qtqueue queue' lists them), "
            f"{st['pending']} pending in all",
        ),
        (
            "workers",
            f"{workers['total']} in all: {workers['idle']} idle, {workers['busy']} busy, "
            f"{workers['suspended']} suspended",
        ),
        (
            "free",
            f"CPU {_amount(free['cpu_cores'], ' cores')}, "
            f"memory {_amount(free['memory_gb'], ' GB')}, "
            f"disk {_amount(free['disk_gb'], ' GB')}, "
            f"GPU memory {_amount(free['gpu_memory_gb'], ' GB')}",
        ),
    ]
    for label, text in lines:
        out(f"{label:<9} {text}")
    return 0
